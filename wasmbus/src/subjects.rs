//! Every NATS subject of the wasmbus protocol, built here and nowhere else in kiln: the
//! host, the CLI, the providers and the tests all take their subjects from this module.
//!
//! RPC subjects are `wasmbus.rpc.{lattice}.…`, events `wasmbus.evt.{lattice}` and
//! `wasmbus.rpcevt.{lattice}`, and control subjects `{ctl prefix}.{lattice}.…` (see
//! [`Ctl`]), the prefix being `wasmbus.ctl` unless a host is told otherwise.

/// The control prefix of the wasmbus host.
pub const DEFAULT_CTL_PREFIX: &str = "wasmbus.ctl";

/// `wasmbus.rpc.{lattice}.{actor}`: where an actor's invocations arrive; also its
/// queue group, so each call reaches one host running the actor.
#[must_use]
pub fn actor_rpc(lattice: &str, actor: &str) -> String {
    format!("wasmbus.rpc.{lattice}.{actor}")
}

/// `wasmbus.rpc.{lattice}.{provider}.{link}`: a provider's invocations; the root of its
/// other subjects.
#[must_use]
pub fn provider_rpc(lattice: &str, provider: &str, link: &str) -> String {
    format!("wasmbus.rpc.{lattice}.{provider}.{link}")
}

/// Where a provider learns of a new or changed link.
#[must_use]
pub fn provider_linkdefs_put(lattice: &str, provider: &str, link: &str) -> String {
    format!("{}.linkdefs.put", provider_rpc(lattice, provider, link))
}

/// Where a provider learns of a deleted link.
#[must_use]
pub fn provider_linkdefs_del(lattice: &str, provider: &str, link: &str) -> String {
    format!("{}.linkdefs.del", provider_rpc(lattice, provider, link))
}

/// Both link subjects of a provider, as one wildcard.
#[must_use]
pub fn provider_linkdefs(lattice: &str, provider: &str, link: &str) -> String {
    format!("{}.linkdefs.*", provider_rpc(lattice, provider, link))
}

/// Where a provider answers health checks.
#[must_use]
pub fn provider_health(lattice: &str, provider: &str, link: &str) -> String {
    format!("{}.health", provider_rpc(lattice, provider, link))
}

/// Where a provider is asked to shut down.
#[must_use]
pub fn provider_shutdown(lattice: &str, provider: &str, link: &str) -> String {
    format!("{}.shutdown", provider_rpc(lattice, provider, link))
}

/// `wasmbus.evt.{lattice}`: the lattice's CloudEvents.
#[must_use]
pub fn events(lattice: &str) -> String {
    format!("wasmbus.evt.{lattice}")
}

/// `wasmbus.rpcevt.{lattice}`: the invocation outcome events.
#[must_use]
pub fn rpc_events(lattice: &str) -> String {
    format!("wasmbus.rpcevt.{lattice}")
}

/// `wasmbus.cfg.{lattice}.req`: the OTP host's config service, asked once at start.
#[must_use]
pub fn config_service(lattice: &str) -> String {
    format!("wasmbus.cfg.{lattice}.req")
}

/// `$O.{bucket}.C.{nuid}`: the chunks of one object of a JetStream object store.
#[must_use]
pub fn object_chunks(bucket: &str, nuid: &str) -> String {
    format!("$O.{bucket}.C.{nuid}")
}

/// `$O.{bucket}.M.{name}`: the metadata of the object `name`, the name in padded
/// base64url as every NATS client writes it.
#[must_use]
pub fn object_meta(bucket: &str, name: &str) -> String {
    format!(
        "$O.{bucket}.M.{}",
        data_encoding::BASE64URL.encode(name.as_bytes())
    )
}

/// A command to one host, the last token of `{ctl}.{lattice}.cmd.{host}.{command}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `la`: launch actor instances.
    LaunchActor,
    /// `sa`: stop actor instances.
    StopActor,
    /// `scale`: set an actor's instance count.
    ScaleActor,
    /// `upd`: live-update an actor.
    UpdateActor,
    /// `lp`: launch a provider.
    LaunchProvider,
    /// `sp`: stop a provider.
    StopProvider,
    /// `stop`: stop the host.
    StopHost,
}

impl Command {
    /// Every command.
    pub const ALL: [Command; 7] = [
        Command::LaunchActor,
        Command::StopActor,
        Command::ScaleActor,
        Command::UpdateActor,
        Command::LaunchProvider,
        Command::StopProvider,
        Command::StopHost,
    ];

    /// Its token.
    #[must_use]
    pub fn token(self) -> &'static str {
        match self {
            Command::LaunchActor => "la",
            Command::StopActor => "sa",
            Command::ScaleActor => "scale",
            Command::UpdateActor => "upd",
            Command::LaunchProvider => "lp",
            Command::StopProvider => "sp",
            Command::StopHost => "stop",
        }
    }

    /// The command of `token`, if it is one.
    #[must_use]
    pub fn parse(token: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.token() == token)
    }
}

/// One control subject, by what it asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtlSubject<'a> {
    /// `ping.hosts`: every host answers with itself.
    PingHosts,
    /// `get.claims`: one host answers with the lattice's claims.
    Claims,
    /// `get.links`: one host answers with the lattice's links.
    Links,
    /// `get.{host}.inv`: a host's inventory.
    Inventory(&'a str),
    /// `linkdefs.put`: add or change a link.
    LinkPut,
    /// `linkdefs.del`: delete a link.
    LinkDel,
    /// `registries.put`: registry credentials for every host.
    RegistriesPut,
    /// `auction.actor`: hosts that could run an actor bid.
    ActorAuction,
    /// `auction.provider`: hosts that could run a provider bid.
    ProviderAuction,
    /// `cmd.{host}.{command}`: a command to one host; the command token is kept as sent
    /// so an unknown one can be named in the refusal.
    Command(&'a str, &'a str),
}

/// The control subjects of one lattice, `{prefix}.{lattice}.…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ctl {
    root: String,
}

/// A value that cannot be a token of a subject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a subject token (is the host id a server key?)")]
pub struct BadToken(pub String);

impl Ctl {
    /// The control subjects under `prefix` (usually [`DEFAULT_CTL_PREFIX`]) of `lattice`.
    #[must_use]
    pub fn new(prefix: &str, lattice: &str) -> Ctl {
        Ctl {
            root: format!("{prefix}.{lattice}"),
        }
    }

    /// `{prefix}.{lattice}`: the root, and the queue group of the subjects that one
    /// host of the lattice answers.
    #[must_use]
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The subject of `which`.
    ///
    /// # Errors
    /// When a host id or command given is not one token: empty, too long, or with a
    /// dot, a wildcard, a space or a control character.
    pub fn subject(&self, which: CtlSubject<'_>) -> Result<String, BadToken> {
        let rest = match which {
            CtlSubject::PingHosts => "ping.hosts".to_string(),
            CtlSubject::Claims => "get.claims".to_string(),
            CtlSubject::Links => "get.links".to_string(),
            CtlSubject::Inventory(host) => format!("get.{}.inv", token(host)?),
            CtlSubject::LinkPut => "linkdefs.put".to_string(),
            CtlSubject::LinkDel => "linkdefs.del".to_string(),
            CtlSubject::RegistriesPut => "registries.put".to_string(),
            CtlSubject::ActorAuction => "auction.actor".to_string(),
            CtlSubject::ProviderAuction => "auction.provider".to_string(),
            CtlSubject::Command(host, command) => {
                format!("cmd.{}.{}", token(host)?, token(command)?)
            }
        };
        Ok(format!("{}.{rest}", self.root))
    }

    /// `cmd.{host}.{command}` for one of the known commands.
    ///
    /// # Errors
    /// When `host` is not one token.
    pub fn command(&self, host: &str, command: Command) -> Result<String, BadToken> {
        self.subject(CtlSubject::Command(host, command.token()))
    }

    /// What `subject` asks, when it is one of this lattice's control subjects.
    #[must_use]
    pub fn parse<'a>(&self, subject: &'a str) -> Option<CtlSubject<'a>> {
        let rest = subject
            .strip_prefix(self.root.as_str())?
            .strip_prefix('.')?;
        let parts: Vec<&str> = rest.split('.').collect();
        Some(match parts.as_slice() {
            ["ping", "hosts"] => CtlSubject::PingHosts,
            ["get", "claims"] => CtlSubject::Claims,
            ["get", "links"] => CtlSubject::Links,
            ["get", host, "inv"] => CtlSubject::Inventory(host),
            ["linkdefs", "put"] => CtlSubject::LinkPut,
            ["linkdefs", "del"] => CtlSubject::LinkDel,
            ["registries", "put"] => CtlSubject::RegistriesPut,
            ["auction", "actor"] => CtlSubject::ActorAuction,
            ["auction", "provider"] => CtlSubject::ProviderAuction,
            ["cmd", host, command] => CtlSubject::Command(host, command),
            _ => return None,
        })
    }

    /// What a host subscribes to, each with whether it is shared by the lattice's hosts
    /// (a queue subscription on [`Ctl::root`]) or answered by every host.
    ///
    /// # Errors
    /// When `host` is not one token.
    pub fn host_subscriptions(&self, host: &str) -> Result<Vec<(String, Sharing)>, BadToken> {
        let host = token(host)?;
        let root = &self.root;
        Ok(vec![
            (format!("{root}.ping.hosts"), Sharing::Every),
            (format!("{root}.registries.put"), Sharing::Every),
            (format!("{root}.auction.>"), Sharing::Every),
            (format!("{root}.get.*"), Sharing::One),
            (format!("{root}.linkdefs.*"), Sharing::One),
            (format!("{root}.cmd.{host}.*"), Sharing::Every),
            (format!("{root}.get.{host}.inv"), Sharing::Every),
        ])
    }
}

/// Who answers a control subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Every host subscribed.
    Every,
    /// One host of the lattice (a queue group).
    One,
}

/// `value` when it is one subject token.
fn token(value: &str) -> Result<&str, BadToken> {
    let valid = !value.is_empty()
        && value.len() <= kiln_types::limits::KEY
        && !value
            .chars()
            .any(|c| c == '.' || c == '*' || c == '>' || c.is_whitespace() || c.is_control());
    if valid {
        Ok(value)
    } else {
        Err(BadToken(value.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_and_event_subjects_follow_the_wasmbus_protocol() {
        assert_eq!(actor_rpc("default", "MABC"), "wasmbus.rpc.default.MABC");
        assert_eq!(
            provider_rpc("default", "VP", "default"),
            "wasmbus.rpc.default.VP.default"
        );
        assert_eq!(
            provider_linkdefs_put("default", "VP", "default"),
            "wasmbus.rpc.default.VP.default.linkdefs.put"
        );
        assert_eq!(
            provider_linkdefs_del("default", "VP", "l"),
            "wasmbus.rpc.default.VP.l.linkdefs.del"
        );
        assert_eq!(provider_health("d", "VP", "l"), "wasmbus.rpc.d.VP.l.health");
        assert_eq!(
            provider_shutdown("d", "VP", "l"),
            "wasmbus.rpc.d.VP.l.shutdown"
        );
        assert_eq!(events("lat"), "wasmbus.evt.lat");
        assert_eq!(rpc_events("lat"), "wasmbus.rpcevt.lat");
    }

    #[test]
    fn control_subjects_round_trip() {
        let ctl = Ctl::new(DEFAULT_CTL_PREFIX, "lat");
        assert_eq!(ctl.root(), "wasmbus.ctl.lat");
        for which in [
            CtlSubject::PingHosts,
            CtlSubject::Claims,
            CtlSubject::Links,
            CtlSubject::Inventory("NHOST"),
            CtlSubject::LinkPut,
            CtlSubject::LinkDel,
            CtlSubject::RegistriesPut,
            CtlSubject::ActorAuction,
            CtlSubject::ProviderAuction,
            CtlSubject::Command("NHOST", "la"),
        ] {
            let subject = ctl.subject(which).unwrap();
            assert_eq!(ctl.parse(&subject), Some(which), "{subject}");
        }
        assert_eq!(
            ctl.command("NHOST", Command::ScaleActor).unwrap(),
            "wasmbus.ctl.lat.cmd.NHOST.scale"
        );
        assert_eq!(
            ctl.subject(CtlSubject::Inventory("NHOST")).unwrap(),
            "wasmbus.ctl.lat.get.NHOST.inv"
        );
        assert_eq!(ctl.parse("wasmbus.ctl.other.ping.hosts"), None);
        assert_eq!(ctl.parse("wasmbus.ctl.lat.nothing"), None);
        assert_eq!(ctl.parse("wasmbus.ctl.latency.ping.hosts"), None);
    }

    #[test]
    fn commands_have_the_wasmbus_tokens() {
        let tokens: Vec<_> = Command::ALL.iter().map(|c| c.token()).collect();
        assert_eq!(tokens, ["la", "sa", "scale", "upd", "lp", "sp", "stop"]);
        for command in Command::ALL {
            assert_eq!(Command::parse(command.token()), Some(command));
        }
        assert_eq!(Command::parse("nope"), None);
    }

    #[test]
    fn host_ids_that_are_no_token_are_refused() {
        let ctl = Ctl::new(DEFAULT_CTL_PREFIX, "lat");
        for bad in ["", "*", ">", "a b", "a.b", "wasmbus.>", &"N".repeat(10_000)] {
            assert!(ctl.subject(CtlSubject::Inventory(bad)).is_err(), "{bad:?}");
            assert!(ctl.command(bad, Command::StopHost).is_err(), "{bad:?}");
            assert!(ctl.host_subscriptions(bad).is_err(), "{bad:?}");
        }
    }
}
