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

/// `{ctl}.{lattice}`: the root of the control subjects, and the queue group of the
/// lattice-wide ones that one host answers.
#[must_use]
pub fn ctl_root(ctl: &str, lattice: &str) -> String {
    format!("{ctl}.{lattice}")
}

/// A control subject under the root: `{ctl}.{lattice}.{rest}`.
#[must_use]
pub fn ctl(ctl: &str, lattice: &str, rest: &str) -> String {
    format!("{ctl}.{lattice}.{rest}")
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
        assert_eq!(ctl_root("wasmbus.ctl", "lat"), "wasmbus.ctl.lat");
        assert_eq!(
            ctl("wasmbus.ctl", "lat", "get.NH.inv"),
            "wasmbus.ctl.lat.get.NH.inv"
        );
    }
}
