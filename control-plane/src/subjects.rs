//! Every NATS subject the control plane uses, built here and nowhere else.

/// `wasmbus.rpc.{lattice}.{actor}`: where an actor's invocations arrive; also its
/// queue group, so each call reaches one host running the actor.
#[must_use]
pub fn actor_rpc(lattice: &str, actor: &str) -> String {
    format!("wasmbus.rpc.{lattice}.{actor}")
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
