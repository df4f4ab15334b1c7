//! What the dashboard shows, as plain data: the control plane fills these in from its
//! state, the pages turn them into markup.

use std::collections::BTreeMap;

/// Everything on the dashboard's main page.
#[derive(Debug, Clone, Default)]
pub struct Dashboard {
    /// This host.
    pub host: HostSummary,
    /// The lattice's hosts as this host sees them.
    pub lattice_hosts: Vec<LatticeHostRow>,
    /// Actors in the lattice, one row per actor and host, this host's first.
    pub actors: Vec<ActorRow>,
    /// Providers in the lattice, one row per provider, link and host, this host's first.
    pub providers: Vec<ProviderRow>,
    /// The lattice's link definitions.
    pub links: Vec<LinkRow>,
    /// Choices for the link form, from the lattice's claims.
    pub pickers: Pickers,
    /// The most recent lattice events, newest first.
    pub events: Vec<EventRow>,
    /// A form that was sent back with problems, if any.
    pub form: Option<FormState>,
    /// What the last action did, when it worked.
    pub notice: Option<String>,
    /// Largest file an upload may be, in bytes.
    pub upload_limit: u64,
}

/// This host.
#[derive(Debug, Clone, Default)]
pub struct HostSummary {
    /// Public key.
    pub id: String,
    /// Friendly name.
    pub name: String,
    /// Lattice prefix.
    pub lattice: String,
    /// Cluster public key.
    pub cluster: String,
    /// Software version.
    pub version: String,
    /// Uptime, human.
    pub uptime: String,
    /// Whether the data plane is connected.
    pub data_plane_ready: bool,
}

/// A host of the lattice.
#[derive(Debug, Clone, Default)]
pub struct LatticeHostRow {
    /// Host key.
    pub id: String,
    /// Friendly name.
    pub name: String,
    /// Whether it is this host.
    pub local: bool,
    /// Whether its heartbeats are late (it disappears when they stop for good).
    pub stale: bool,
    /// Labels as `key=value`.
    pub labels: Vec<String>,
    /// Software version.
    pub version: String,
    /// Uptime, human.
    pub uptime: String,
    /// Actor instances.
    pub actors: u64,
    /// Providers.
    pub providers: u64,
    /// Seconds since it was last heard from.
    pub last_seen_seconds: f64,
}

/// Where a row's actor or provider runs.
#[derive(Debug, Clone, Default)]
pub struct Placed {
    /// Host key.
    pub id: String,
    /// Its friendly name (the key when it has none).
    pub name: String,
    /// Whether it is this host.
    pub local: bool,
}

/// One actor on one host of the lattice.
#[derive(Debug, Clone, Default)]
pub struct ActorRow {
    /// Display name.
    pub name: String,
    /// Public key.
    pub key: String,
    /// Revision of its claims.
    pub revision: i64,
    /// The host it runs on.
    pub host: Placed,
    /// Instances on that host.
    pub instances: u64,
    /// Capabilities.
    pub caps: Vec<String>,
    /// Where it came from, when known (this host's own actors).
    pub image_ref: String,
}

/// One provider on one host of the lattice.
#[derive(Debug, Clone, Default)]
pub struct ProviderRow {
    /// Display name.
    pub name: String,
    /// Public key.
    pub key: String,
    /// Contract id.
    pub contract: String,
    /// Link name.
    pub link_name: String,
    /// The host it runs on.
    pub host: Placed,
    /// Health.
    pub health: Health,
}

/// A provider's health as its checks report it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Health {
    /// No check answered yet.
    #[default]
    Awaiting,
    /// Another host's provider whose health no event has told yet.
    Unknown,
    /// The last check passed.
    Healthy,
    /// The last check failed.
    Unhealthy,
}

impl Health {
    /// The word shown in the badge.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Health::Awaiting => "awaiting",
            Health::Unknown => "unknown",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// One link definition.
#[derive(Debug, Clone, Default)]
pub struct LinkRow {
    /// Actor key.
    pub actor: String,
    /// Actor name, when its claims are known.
    pub actor_name: String,
    /// Provider key.
    pub provider: String,
    /// Provider name, when its claims are known.
    pub provider_name: String,
    /// Contract id.
    pub contract: String,
    /// Link name.
    pub link_name: String,
    /// Values as `key=value`, sorted.
    pub values: Vec<String>,
}

/// Choices for the link form.
#[derive(Debug, Clone, Default)]
pub struct Pickers {
    /// Actors: key and name.
    pub actors: Vec<(String, String)>,
    /// Providers: key, name and contract.
    pub providers: Vec<(String, String, String)>,
}

/// One lattice event in the feed.
#[derive(Debug, Clone, Default)]
pub struct EventRow {
    /// Its place in this host's feed, counting from 1.
    pub seq: u64,
    /// When, `HH:MM:SS` UTC.
    pub time: String,
    /// Type without the `com.wasmcloud.lattice.` prefix.
    pub kind: String,
    /// The filter group: host, actor, provider, health, link or other.
    pub group: &'static str,
    /// Friendly name or key of the host that sent it.
    pub source: String,
    /// The interesting data fields as `key=value`.
    pub summary: String,
}

/// The group an event type is filtered under.
#[must_use]
pub fn event_group(kind: &str) -> &'static str {
    if kind.starts_with("health_check") {
        "health"
    } else if kind.starts_with("host_") {
        "host"
    } else if kind.starts_with("actor") {
        "actor"
    } else if kind.starts_with("provider") {
        "provider"
    } else if kind.starts_with("linkdef") {
        "link"
    } else {
        "other"
    }
}

/// The groups, in the order the filter shows them.
pub const EVENT_GROUPS: [&str; 6] = ["host", "actor", "provider", "health", "link", "other"];

/// A form sent back to the user: what they typed and what was wrong, by field.
#[derive(Debug, Clone, Default)]
pub struct FormState {
    /// Which form: `start-actor`, `start-provider`, `link`, `scale`, `update`.
    pub form: String,
    /// The values typed, by field name.
    pub values: BTreeMap<String, String>,
    /// The problems, by field name (`_form` for the form as a whole).
    pub errors: BTreeMap<String, String>,
}

impl FormState {
    /// An empty state for `form`.
    #[must_use]
    pub fn new(form: &str) -> FormState {
        FormState {
            form: form.to_string(),
            ..FormState::default()
        }
    }

    /// Records a problem with `field`.
    pub fn error(&mut self, field: &str, problem: impl Into<String>) {
        self.errors
            .entry(field.to_string())
            .or_insert_with(|| problem.into());
    }

    /// Whether any problem was recorded.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// One sample of the host's metrics.
#[derive(Debug, Clone, Default)]
pub struct MetricRow {
    /// Metric name.
    pub name: String,
    /// Labels as written in the exposition.
    pub labels: String,
    /// Value as written in the exposition.
    pub value: String,
}
