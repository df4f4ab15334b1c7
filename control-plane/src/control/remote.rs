//! The control service for the whole lattice: a command for this host runs here, one
//! for another host goes to it over the NATS control interface and waits for its
//! outcome; an auction asks every host whose labels match. The gRPC API and the
//! dashboard both act on other hosts through this, and what another host reports back
//! refreshes this host's view of it ([`crate::state::peers`]).

use std::collections::BTreeMap;
use std::time::Duration;

use kiln_types::ctl as body;
use kiln_wasmbus::ctl::{Client as Ctl, CtlError};
use kiln_wasmbus::subjects::{Command, CtlSubject};

use super::{ControlError, ProviderError};
use crate::host::Shared;

/// How long a command forwarded to another host may take to report its outcome.
const REMOTE_TIMEOUT: Duration = Duration::from_secs(30);

/// A command that could not be carried out here or on the host it was for.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// This host refused or failed an actor command.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// This host refused or failed a provider command.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The other host refused or failed it, or did not answer.
    #[error("host {host}: {error}")]
    Remote {
        /// The host asked.
        host: String,
        /// What it answered (or that it did not).
        error: CtlError,
    },
    /// The host asked for did not answer its inventory.
    #[error("host {0} did not answer")]
    Unanswered(String),
    /// No host bid in an auction.
    #[error("no host of the lattice bid (constraints: {0})")]
    NoBids(String),
    /// The lattice could not be asked.
    #[error("could not reach the lattice: {0}")]
    Lattice(String),
    /// A field of the request is out of bounds.
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// What a start reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorStarted {
    /// Host it runs on.
    pub host_id: String,
    /// Actor key.
    pub actor_id: String,
    /// Its instances there now.
    pub instances: u32,
}

/// What a provider start reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderStarted {
    /// Host it runs on.
    pub host_id: String,
    /// Provider key.
    pub provider_id: String,
    /// Contract it serves.
    pub contract_id: String,
}

/// Which host a start goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// This host, or the host with this id (empty: this host).
    Host(String),
    /// The first host to bid whose labels satisfy these constraints.
    Auction(BTreeMap<String, String>),
}

/// The control service over the lattice, seen from one host.
#[derive(Clone)]
pub struct Remote {
    host: Shared,
    ctl: Ctl,
}

/// A count as the control interface carries it.
fn count16(count: u32) -> Result<u16, RemoteError> {
    u16::try_from(count).map_err(|_| {
        RemoteError::Invalid(format!(
            "count {count} is above {} (the control interface's limit)",
            u16::MAX
        ))
    })
}

/// Instances of `actor` in an inventory (JSON, as hosts answer it).
fn instances_in(inventory: &serde_json::Value, actor: &str) -> u32 {
    inventory["actors"]
        .as_array()
        .and_then(|actors| actors.iter().find(|a| a["id"] == actor))
        .and_then(|a| a["instances"].as_array())
        .map_or(0, |i| u32::try_from(i.len()).unwrap_or(u32::MAX))
}

/// The error of a command `host_id` did not carry out.
fn remote(host_id: &str) -> impl Fn(CtlError) -> RemoteError + '_ {
    move |error| RemoteError::Remote {
        host: host_id.to_string(),
        error,
    }
}

/// `key=value` pairs as one line, for messages.
fn described(constraints: &BTreeMap<String, String>) -> String {
    if constraints.is_empty() {
        return "none".to_string();
    }
    constraints
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Remote {
    /// The service of `host`, reaching the others over its control connection.
    #[must_use]
    pub fn new(host: Shared) -> Remote {
        let ctl = Ctl::new(
            host.ctl.clone(),
            &host.config.ctl_prefix,
            &host.config.lattice,
            REMOTE_TIMEOUT,
        );
        Remote { host, ctl }
    }

    /// The control-interface client it uses.
    #[must_use]
    pub fn ctl(&self) -> &Ctl {
        &self.ctl
    }

    /// Whether `host_id` is this host (empty means this host).
    #[must_use]
    pub fn is_local(&self, host_id: &str) -> bool {
        host_id.is_empty() || host_id == self.host.config.host_id()
    }

    /// The inventory of `host_id` as JSON, in the control interface's shape; another
    /// host's also refreshes this host's view of it.
    ///
    /// # Errors
    /// When the other host does not answer.
    pub async fn inventory(&self, host_id: &str) -> Result<serde_json::Value, RemoteError> {
        if self.is_local(host_id) {
            return serde_json::to_value(super::inventory::of(&self.host))
                .map_err(|e| RemoteError::Invalid(e.to_string()));
        }
        let inventory = self.ctl.inventory(host_id).await.map_err(|e| match e {
            CtlError::Invalid(_) => remote(host_id)(e),
            _ => RemoteError::Unanswered(host_id.to_string()),
        })?;
        self.host.peers.refresh(host_id, &inventory);
        Ok(inventory)
    }

    /// The other host's inventory after a change, to refresh the view; a host that
    /// carried out the command but did not answer this is only logged.
    async fn after_change(&self, host_id: &str) -> Option<serde_json::Value> {
        match self.inventory(host_id).await {
            Ok(inventory) => Some(inventory),
            Err(error) => {
                tracing::warn!(host = host_id, %error, "no inventory after a command");
                None
            }
        }
    }

    /// The host an actor's start goes to: the one named, or the first bidder.
    ///
    /// # Errors
    /// No bid, or a lattice that cannot be asked.
    pub async fn place_actor(
        &self,
        placement: Placement,
        reference: &str,
    ) -> Result<String, RemoteError> {
        self.place(placement, |constraints| {
            let request = body::ActorAuction {
                actor_ref: reference.to_string(),
                constraints,
                host_id: String::new(),
            };
            (CtlSubject::ActorAuction, serde_json::to_value(request))
        })
        .await
    }

    /// The host a provider's start goes to: the one named, or the first bidder (a host
    /// that runs it on that link already does not bid).
    ///
    /// # Errors
    /// No bid, or a lattice that cannot be asked.
    pub async fn place_provider(
        &self,
        placement: Placement,
        reference: &str,
        link_name: &str,
    ) -> Result<String, RemoteError> {
        self.place(placement, |constraints| {
            let request = body::ProviderAuction {
                provider_ref: reference.to_string(),
                link_name: kiln_types::link::name_or_default(link_name).to_string(),
                constraints,
                host_id: String::new(),
            };
            (CtlSubject::ProviderAuction, serde_json::to_value(request))
        })
        .await
    }

    async fn place(
        &self,
        placement: Placement,
        auction: impl FnOnce(
            BTreeMap<String, String>,
        ) -> (CtlSubject<'static>, serde_json::Result<serde_json::Value>),
    ) -> Result<String, RemoteError> {
        match placement {
            Placement::Host(id) if self.is_local(&id) => Ok(self.host.config.host_id()),
            Placement::Host(id) => Ok(id),
            Placement::Auction(constraints) => {
                let wanted = described(&constraints);
                let (subject, request) = auction(constraints);
                let request = request.map_err(|e| RemoteError::Invalid(e.to_string()))?;
                self.auction(subject, &request)
                    .await?
                    .into_iter()
                    .next()
                    .ok_or(RemoteError::NoBids(wanted))
            }
        }
    }

    /// The hosts that bid, in the order their bids arrived.
    ///
    /// # Errors
    /// When the lattice cannot be asked.
    pub async fn auction<T: serde::Serialize>(
        &self,
        which: CtlSubject<'_>,
        request: &T,
    ) -> Result<Vec<String>, RemoteError> {
        let bids = self
            .ctl
            .gather(which, request)
            .await
            .map_err(|e| RemoteError::Lattice(format!("{e:#}")))?;
        Ok(bids
            .iter()
            .filter_map(|b| b["host_id"].as_str().map(ToString::to_string))
            .collect())
    }

    /// Starts `count` instances of `reference` on `host_id`.
    ///
    /// # Errors
    /// This host's or the other host's refusal or failure.
    pub async fn start_actor(
        &self,
        host_id: &str,
        reference: &str,
        count: u32,
        annotations: BTreeMap<String, String>,
    ) -> Result<ActorStarted, RemoteError> {
        if self.is_local(host_id) {
            let started = super::start_actor(&self.host, reference, count, annotations).await?;
            return Ok(ActorStarted {
                host_id: self.host.config.host_id(),
                actor_id: started.key.to_string(),
                instances: started.total,
            });
        }
        // The other host records the reference as its canonical form; the outcome
        // event is matched on that.
        let launch = body::LaunchActor {
            actor_ref: kiln_wasmbus::oci::canonical(reference).into_owned(),
            count: Some(count16(count)?),
            annotations: Some(annotations),
        };
        let data = self
            .ctl
            .start_actor(host_id, &launch, true)
            .await
            .map_err(remote(host_id))?;
        let actor_id = data["public_key"].as_str().unwrap_or_default().to_string();
        let instances = self
            .after_change(host_id)
            .await
            .map_or(count, |inventory| instances_in(&inventory, &actor_id));
        Ok(ActorStarted {
            host_id: host_id.to_string(),
            actor_id,
            instances,
        })
    }

    /// Stops `count` instances (0: all) of `actor` on `host_id`; the instances left.
    ///
    /// # Errors
    /// This host's or the other host's refusal or failure.
    pub async fn stop_actor(
        &self,
        host_id: &str,
        actor: &str,
        count: u32,
        annotations: BTreeMap<String, String>,
    ) -> Result<u32, RemoteError> {
        if self.is_local(host_id) {
            return Ok(super::stop_actor(&self.host, actor, count, &annotations).await?);
        }
        let stop = body::StopActor {
            actor_ref: actor.to_string(),
            count: count16(count)?,
            annotations: Some(annotations),
        };
        self.ctl
            .command(host_id, Command::StopActor, &stop)
            .await
            .map_err(remote(host_id))?;
        Ok(self
            .after_change(host_id)
            .await
            .map_or(0, |inventory| instances_in(&inventory, actor)))
    }

    /// Scales `actor` on `host_id` to `count` instances; the instances now.
    ///
    /// # Errors
    /// This host's or the other host's refusal or failure.
    pub async fn scale_actor(
        &self,
        host_id: &str,
        actor: &str,
        reference: &str,
        count: u32,
    ) -> Result<u32, RemoteError> {
        if self.is_local(host_id) {
            return Ok(super::scale_actor(&self.host, actor, reference, count).await?);
        }
        let scale = body::ScaleActor {
            actor_id: actor.to_string(),
            actor_ref: reference.to_string(),
            count: count16(count)?,
        };
        self.ctl
            .command(host_id, Command::ScaleActor, &scale)
            .await
            .map_err(remote(host_id))?;
        Ok(self
            .after_change(host_id)
            .await
            .map_or(count, |inventory| instances_in(&inventory, actor)))
    }

    /// Updates `actor` on `host_id` to the module at `reference`; its revision now.
    ///
    /// # Errors
    /// This host's or the other host's refusal or failure.
    pub async fn update_actor(
        &self,
        host_id: &str,
        actor: &str,
        reference: &str,
    ) -> Result<i64, RemoteError> {
        if self.is_local(host_id) {
            return Ok(super::update_actor(&self.host, Some(actor), reference).await?);
        }
        let update = body::UpdateActor {
            actor_id: Some(actor.to_string()),
            new_actor_ref: reference.to_string(),
        };
        self.ctl
            .command(host_id, Command::UpdateActor, &update)
            .await
            .map_err(remote(host_id))?;
        Ok(self.after_change(host_id).await.map_or(0, |inventory| {
            inventory["actors"]
                .as_array()
                .and_then(|actors| actors.iter().find(|a| a["id"] == actor))
                .and_then(|a| a["instances"][0]["revision"].as_i64())
                .unwrap_or_default()
        }))
    }

    /// Starts the provider at `reference` on `host_id` with `link_name` and, when
    /// given, the configuration string it receives in its host data.
    ///
    /// # Errors
    /// This host's or the other host's refusal or failure.
    pub async fn start_provider(
        &self,
        host_id: &str,
        reference: &str,
        link_name: &str,
        configuration: Option<String>,
        annotations: BTreeMap<String, String>,
    ) -> Result<ProviderStarted, RemoteError> {
        let link_name = kiln_types::link::name_or_default(link_name);
        if self.is_local(host_id) {
            let entry =
                super::start_provider(&self.host, reference, link_name, configuration, annotations)
                    .await?;
            return Ok(ProviderStarted {
                host_id: self.host.config.host_id(),
                provider_id: entry.key.clone(),
                contract_id: entry.contract_id().to_string(),
            });
        }
        let launch = body::LaunchProvider {
            provider_ref: kiln_wasmbus::oci::canonical(reference).into_owned(),
            link_name: link_name.to_string(),
            configuration,
            annotations: Some(annotations),
        };
        let data = self
            .ctl
            .start_provider(host_id, &launch, true)
            .await
            .map_err(remote(host_id))?;
        self.after_change(host_id).await;
        Ok(ProviderStarted {
            host_id: host_id.to_string(),
            provider_id: data["public_key"].as_str().unwrap_or_default().to_string(),
            contract_id: data["contract_id"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// Stops the provider `provider` with `link_name` on `host_id`.
    ///
    /// # Errors
    /// This host's or the other host's refusal or failure.
    pub async fn stop_provider(
        &self,
        host_id: &str,
        provider: &str,
        link_name: &str,
    ) -> Result<(), RemoteError> {
        if self.is_local(host_id) {
            return Ok(super::stop_provider(&self.host, provider, link_name).await?);
        }
        let stop = body::StopProvider {
            provider_ref: provider.to_string(),
            link_name: link_name.to_string(),
        };
        self.ctl
            .command(host_id, Command::StopProvider, &stop)
            .await
            .map_err(remote(host_id))?;
        self.after_change(host_id).await;
        Ok(())
    }

    /// Stops `host_id`, after `grace` when given.
    ///
    /// # Errors
    /// The other host's refusal, or no answer.
    pub async fn stop_host(&self, host_id: &str, grace: Option<u64>) -> Result<(), RemoteError> {
        if self.is_local(host_id) {
            super::stop_host(&self.host, grace);
            return Ok(());
        }
        let stop = body::StopHost { timeout: grace };
        self.ctl
            .command(host_id, Command::StopHost, &stop)
            .await
            .map(drop)
            .map_err(remote(host_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_beyond_the_control_interface_are_refused_not_clamped() {
        assert_eq!(count16(65_535).unwrap(), u16::MAX);
        let error = count16(65_536).unwrap_err().to_string();
        assert!(error.contains("65536"), "{error}");
    }

    #[test]
    fn instances_are_counted_from_an_inventory() {
        let inventory = serde_json::json!({"actors": [
            {"id": "MA", "instances": [{}, {}]},
            {"id": "MB", "instances": [{}]},
        ]});
        assert_eq!(instances_in(&inventory, "MA"), 2);
        assert_eq!(instances_in(&inventory, "MB"), 1);
        assert_eq!(instances_in(&inventory, "MC"), 0);
        assert_eq!(instances_in(&serde_json::json!({}), "MA"), 0);
        let mut constraints = BTreeMap::new();
        assert_eq!(described(&constraints), "none");
        constraints.insert("zone".into(), "b".into());
        constraints.insert("arch".into(), "x86".into());
        assert_eq!(described(&constraints), "arch=x86, zone=b");
    }
}
