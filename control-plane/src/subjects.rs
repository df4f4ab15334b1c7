//! Every NATS subject the control plane uses, built here and nowhere else.

/// `wasmbus.rpc.{lattice}.{actor}`: where an actor's invocations arrive; also its
/// queue group, so each call reaches one host running the actor.
#[must_use]
pub fn actor_rpc(lattice: &str, actor: &str) -> String {
    format!("wasmbus.rpc.{lattice}.{actor}")
}

/// `wasmbus.rpc.{lattice}.{provider}.{link}`: a provider's invocations.
#[must_use]
pub fn provider_rpc(lattice: &str, provider: &str, link: &str) -> String {
    format!("wasmbus.rpc.{lattice}.{provider}.{link}")
}

/// Where a provider learns of a new or changed link.
#[must_use]
pub fn provider_linkdefs_put(lattice: &str, provider: &str, link: &str) -> String {
    format!("wasmbus.rpc.{lattice}.{provider}.{link}.linkdefs.put")
}

/// Where a provider learns of a deleted link.
#[must_use]
pub fn provider_linkdefs_del(lattice: &str, provider: &str, link: &str) -> String {
    format!("wasmbus.rpc.{lattice}.{provider}.{link}.linkdefs.del")
}

/// Where a provider answers health checks.
#[must_use]
pub fn provider_health(lattice: &str, provider: &str, link: &str) -> String {
    format!("wasmbus.rpc.{lattice}.{provider}.{link}.health")
}

/// Where a provider is asked to shut down.
#[must_use]
pub fn provider_shutdown(lattice: &str, provider: &str, link: &str) -> String {
    format!("wasmbus.rpc.{lattice}.{provider}.{link}.shutdown")
}

/// `{ctl}.{lattice}.linkdefs.*` and `{ctl}.{lattice}.get.links`: lattice-wide commands
/// that one host of the queue group answers.
#[must_use]
pub fn lattice_queue_group(ctl: &str, lattice: &str) -> String {
    format!("{ctl}.{lattice}")
}

/// `{ctl}.{lattice}.linkdefs.*`.
#[must_use]
pub fn linkdefs(ctl: &str, lattice: &str) -> String {
    format!("{ctl}.{lattice}.linkdefs.*")
}

/// `{ctl}.{lattice}.get.links`.
#[must_use]
pub fn get_links(ctl: &str, lattice: &str) -> String {
    format!("{ctl}.{lattice}.get.links")
}

/// `{ctl}.{lattice}.cmd.{host}.*`: commands to one host.
#[must_use]
pub fn host_commands(ctl: &str, lattice: &str, host: &str) -> String {
    format!("{ctl}.{lattice}.cmd.{host}.*")
}

/// `{ctl}.{lattice}.get.{host}.inv`: one host's inventory.
#[must_use]
pub fn host_inventory(ctl: &str, lattice: &str, host: &str) -> String {
    format!("{ctl}.{lattice}.get.{host}.inv")
}

/// `{ctl}.{lattice}.ping.hosts`: every host answers.
#[must_use]
pub fn ping_hosts(ctl: &str, lattice: &str) -> String {
    format!("{ctl}.{lattice}.ping.hosts")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_follow_the_wasmbus_protocol() {
        assert_eq!(actor_rpc("default", "MABC"), "wasmbus.rpc.default.MABC");
        assert_eq!(
            provider_rpc("default", "VP", "default"),
            "wasmbus.rpc.default.VP.default"
        );
        assert_eq!(
            provider_linkdefs_put("default", "VP", "default"),
            "wasmbus.rpc.default.VP.default.linkdefs.put"
        );
        assert_eq!(linkdefs("wasmbus.ctl", "lat"), "wasmbus.ctl.lat.linkdefs.*");
        assert_eq!(get_links("wasmbus.ctl", "lat"), "wasmbus.ctl.lat.get.links");
        assert_eq!(
            host_commands("wasmbus.ctl", "default", "NH"),
            "wasmbus.ctl.default.cmd.NH.*"
        );
        assert_eq!(
            host_inventory("wasmbus.ctl", "lat", "NH"),
            "wasmbus.ctl.lat.get.NH.inv"
        );
        assert_eq!(
            ping_hosts("wasmbus.ctl", "lat"),
            "wasmbus.ctl.lat.ping.hosts"
        );
    }
}
