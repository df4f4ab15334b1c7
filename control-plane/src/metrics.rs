//! Prometheus metrics of this host, served at `/metrics` on the status server: inbound
//! invocations and their errors and latency per actor and operation, host calls, NATS
//! reconnects; at each scrape also the actors' instances and, from the data plane, the
//! calls it ran and the provider restarts.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// An actor and an operation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// Actor key.
    pub actor: String,
    /// Operation.
    pub operation: String,
}

/// One actor.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActorLabels {
    /// Actor key.
    pub actor: String,
}

/// One provider instance.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    /// Provider key.
    pub provider: String,
    /// Link name.
    pub link_name: String,
}

/// One NATS connection.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectionLabels {
    /// `rpc` or `ctl`.
    pub connection: String,
}

/// Most (actor, operation) pairs labelled; beyond, calls count under operation
/// `other`, so senders cannot grow the registry without bound.
const MAX_CALL_SERIES: usize = 10_000;
/// The operation label of calls past [`MAX_CALL_SERIES`].
const OTHER_OPERATION: &str = "other";

/// Every metric of the control plane.
pub struct Metrics {
    registry: Registry,
    call_series: Mutex<HashSet<(String, String)>>,
    busy: Family<ActorLabels, Counter>,
    invocations: Family<CallLabels, Counter>,
    invocation_errors: Family<CallLabels, Counter>,
    invocation_seconds: Family<CallLabels, Histogram>,
    host_calls: Family<CallLabels, Counter>,
    host_call_errors: Family<CallLabels, Counter>,
    nats_reconnects: Family<ConnectionLabels, Counter>,
    instances: Family<ActorLabels, Gauge>,
    data_plane_calls: Family<ActorLabels, Gauge>,
    data_plane_failures: Family<ActorLabels, Gauge>,
    provider_restarts: Family<ProviderLabels, Gauge>,
    /// Invocation signatures checked in batches of two or more.
    pub signatures_batched: Counter,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// The metrics, registered.
    #[must_use]
    pub fn new() -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("kiln"),
            call_series: Mutex::new(HashSet::new()),
            busy: Family::default(),
            invocations: Family::default(),
            invocation_errors: Family::default(),
            // 50 µs to ~3.3 s.
            invocation_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.000_05, 2.0, 17))
            }),
            host_calls: Family::default(),
            host_call_errors: Family::default(),
            nats_reconnects: Family::default(),
            instances: Family::default(),
            data_plane_calls: Family::default(),
            data_plane_failures: Family::default(),
            provider_restarts: Family::default(),
            signatures_batched: Counter::default(),
        };
        metrics.register();
        metrics
    }

    /// Registers every family under its name, with its help.
    fn register(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "invocations_busy",
            "Inbound invocations answered at once with a busy error (in-flight bound reached)",
            self.busy.clone(),
        );
        registry.register(
            "invocations",
            "Inbound invocations answered, per actor and operation",
            self.invocations.clone(),
        );
        registry.register(
            "invocation_errors",
            "Inbound invocations answered with an error (refused or failed)",
            self.invocation_errors.clone(),
        );
        registry.register(
            "invocation_duration_seconds",
            "Time from receiving an invocation to publishing its answer",
            self.invocation_seconds.clone(),
        );
        registry.register(
            "invocation_signatures_batched",
            "Invocation signatures checked in Ed25519 batches of two or more (under load)",
            self.signatures_batched.clone(),
        );
        registry.register(
            "host_calls",
            "Host calls actors made to providers and actors, per caller and operation",
            self.host_calls.clone(),
        );
        registry.register(
            "host_call_errors",
            "Host calls that failed",
            self.host_call_errors.clone(),
        );
        registry.register(
            "nats_reconnects",
            "Times a NATS connection came back after losing the server",
            self.nats_reconnects.clone(),
        );
        registry.register(
            "actor_instances",
            "Instances of each actor on this host",
            self.instances.clone(),
        );
        registry.register(
            "data_plane_calls",
            "Calls the data plane ran per actor since it started",
            self.data_plane_calls.clone(),
        );
        registry.register(
            "data_plane_failures",
            "Calls that failed in wasm (trap, deadline, memory) since the data plane started",
            self.data_plane_failures.clone(),
        );
        registry.register(
            "provider_restarts",
            "Times the data plane restarted each provider process",
            self.provider_restarts.clone(),
        );
    }

    /// Records one inbound invocation.
    pub fn invocation(&self, actor: &str, operation: &str, ok: bool, seconds: f64) {
        let labels = self.call_labels(actor, operation);
        self.invocations.get_or_create(&labels).inc();
        if !ok {
            self.invocation_errors.get_or_create(&labels).inc();
        }
        self.invocation_seconds
            .get_or_create(&labels)
            .observe(seconds);
    }

    /// Records one host call.
    pub fn host_call(&self, actor: &str, operation: &str, ok: bool) {
        let labels = self.call_labels(actor, operation);
        self.host_calls.get_or_create(&labels).inc();
        if !ok {
            self.host_call_errors.get_or_create(&labels).inc();
        }
    }

    /// Records one call answered busy.
    pub fn busy(&self, actor: &str) {
        self.busy
            .get_or_create(&ActorLabels {
                actor: actor.to_string(),
            })
            .inc();
    }

    /// The labels of a call, `other` for the operation once too many pairs are known.
    fn call_labels(&self, actor: &str, operation: &str) -> CallLabels {
        let mut series = self
            .call_series
            .lock()
            .expect("invariant: the series lock is never poisoned");
        let key = (actor.to_string(), operation.to_string());
        let operation = if series.contains(&key) {
            key.1
        } else if series.len() < MAX_CALL_SERIES {
            series.insert(key.clone());
            key.1
        } else {
            OTHER_OPERATION.to_string()
        };
        CallLabels {
            actor: actor.to_string(),
            operation,
        }
    }

    /// An event callback for a NATS connection named `connection` that counts its
    /// reconnects (a connect after a disconnect).
    pub fn nats_callback(
        &self,
        connection: &str,
    ) -> impl Fn(async_nats::Event) -> std::future::Ready<()> + Send + Sync + 'static {
        let counter = self
            .nats_reconnects
            .get_or_create(&ConnectionLabels {
                connection: connection.to_string(),
            })
            .clone();
        let lost = Arc::new(AtomicBool::new(false));
        move |event| {
            match event {
                async_nats::Event::Disconnected => lost.store(true, Ordering::Relaxed),
                async_nats::Event::Connected if lost.swap(false, Ordering::Relaxed) => {
                    counter.inc();
                }
                _ => {}
            }
            std::future::ready(())
        }
    }

    /// The text exposition, after setting the gauges from `actors` (key, instances) and
    /// the data plane's inventory, when it answered.
    #[must_use]
    pub fn render(
        &self,
        actors: &[(String, usize)],
        data_plane: Option<&kiln_proto::dataplane::v1::InventoryResponse>,
    ) -> String {
        self.instances.clear();
        for (actor, count) in actors {
            self.instances
                .get_or_create(&ActorLabels {
                    actor: actor.clone(),
                })
                .set(i64::try_from(*count).unwrap_or(i64::MAX));
        }
        if let Some(inventory) = data_plane {
            self.data_plane_calls.clear();
            self.data_plane_failures.clear();
            self.provider_restarts.clear();
            for actor in &inventory.actors {
                let labels = ActorLabels {
                    actor: actor.actor.clone(),
                };
                self.data_plane_calls
                    .get_or_create(&labels)
                    .set(i64::try_from(actor.calls).unwrap_or(i64::MAX));
                self.data_plane_failures
                    .get_or_create(&labels)
                    .set(i64::try_from(actor.failures).unwrap_or(i64::MAX));
            }
            for provider in &inventory.providers {
                self.provider_restarts
                    .get_or_create(&ProviderLabels {
                        provider: provider.provider.clone(),
                        link_name: provider.link_name.clone(),
                    })
                    .set(i64::from(provider.restarts));
            }
        }
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%error, "could not encode the metrics");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_in_the_prometheus_text_format() {
        let metrics = Metrics::new();
        for _ in 0..3 {
            metrics.invocation("MA", "Op.One", true, 0.001);
        }
        metrics.invocation("MA", "Op.One", false, 0.002);
        metrics.host_call("MA", "KeyValue.Get", false);
        let text = metrics.render(&[("MA".into(), 2)], None);
        assert!(
            text.contains(r#"kiln_invocations_total{actor="MA",operation="Op.One"} 4"#),
            "{text}"
        );
        assert!(text.contains(r#"kiln_invocation_errors_total{actor="MA",operation="Op.One"} 1"#));
        assert!(text.contains(
            r#"kiln_invocation_duration_seconds_count{actor="MA",operation="Op.One"} 4"#
        ));
        assert!(
            text.contains(r#"kiln_host_call_errors_total{actor="MA",operation="KeyValue.Get"} 1"#)
        );
        assert!(text.contains(r#"kiln_actor_instances{actor="MA"} 2"#));
    }
}
