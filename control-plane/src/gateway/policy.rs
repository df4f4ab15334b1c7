//! The optional policy service (`WASMCLOUD_POLICY_TOPIC`): starts and invocations are
//! asked of a NATS subject, as the wasmbus host asks them. Decisions are cached for a
//! while (not forever, unlike the wasmbus host); no answer in time, an unreadable
//! answer or missing claims all deny: the policy fails closed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use kiln_types::decode::field;
use serde::{Deserialize, Serialize};
use serde_json::json;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::state::claims::ClaimsCache;

/// How long a decision is reused.
const CACHE_FOR: Duration = Duration::from_secs(60);
/// Most decisions (and request ids) kept; past it, expired ones go, then all.
const MAX_DECISIONS: usize = 10_000;

#[derive(Debug, Clone)]
struct Decision {
    permitted: bool,
    message: String,
    at: Instant,
}

/// The policy client.
pub struct Policy {
    client: async_nats::Client,
    topic: String,
    changes_topic: Option<String>,
    timeout: Duration,
    /// The `host` of every request, made once.
    host: serde_json::Value,
    decisions: Mutex<HashMap<String, Decision>>,
    /// Request id → cache key and when it was asked, for overrides on the changes
    /// topic.
    requests: Mutex<HashMap<String, (String, Instant)>>,
}

#[derive(Deserialize)]
struct Response {
    permitted: bool,
    #[serde(default, deserialize_with = "field::nullable_text")]
    message: String,
}

#[derive(Deserialize)]
struct Change {
    #[serde(deserialize_with = "field::id")]
    request_id: String,
    permitted: bool,
    #[serde(default, deserialize_with = "field::nullable_text")]
    message: String,
}

#[derive(Serialize)]
struct ChangeAck {
    success: bool,
}

impl Policy {
    /// A client asking on `topic` (ctl connection), waiting `timeout` for each answer,
    /// for the host `config` describes.
    #[must_use]
    pub fn new(
        client: async_nats::Client,
        topic: String,
        changes_topic: Option<String>,
        timeout: Duration,
        config: &Config,
    ) -> Policy {
        Policy {
            client,
            topic,
            changes_topic,
            timeout,
            host: json!({
                "publicKey": config.host_id(),
                "issuer": config.cluster_key.public_key(),
                "latticeId": config.lattice,
                "labels": config.labels,
                "clusterIssuers": config.cluster_issuers,
            }),
            decisions: Mutex::new(HashMap::new()),
            requests: Mutex::new(HashMap::new()),
        }
    }

    /// May the actor or provider `key`, signed by `issuer`, start here? `action` is
    /// `start_actor` or `start_provider`; a provider's request carries its contract id
    /// and link name (empty for an actor), as on the OTP host.
    ///
    /// # Errors
    /// Why not, for people.
    pub async fn allow_start(
        &self,
        action: &str,
        key: &str,
        issuer: &str,
        contract_id: &str,
        link_name: &str,
    ) -> Result<(), String> {
        let source = json!({
            "publicKey": "", "contractId": "", "linkName": "", "capabilities": [],
            "issuer": "", "issuedOn": "", "expired": false,
            "expiresAt": kiln_types::unix_now() + 60,
        });
        let target = json!({
            "publicKey": key, "issuer": issuer, "contractId": contract_id, "linkName": link_name,
        });
        self.decide(
            action,
            source,
            target,
            &format!("{action}|{key}|{contract_id}|{link_name}"),
        )
        .await
    }

    /// May `origin` invoke `target`? Both need claims in the lattice cache.
    ///
    /// # Errors
    /// Why not, for people.
    pub async fn allow_invocation(
        &self,
        claims: &ClaimsCache,
        origin: &kiln_types::invocation::Entity,
        target: &kiln_types::invocation::Entity,
    ) -> Result<(), String> {
        let cache_key = format!(
            "perform_invocation|{}|{}|{}|{}",
            origin.public_key, origin.link_name, target.public_key, target.link_name
        );
        if let Some(decision) = self.cached(&cache_key) {
            return verdict(&decision);
        }
        let (Some(source_claims), Some(target_claims)) = (
            claims.get(&origin.public_key),
            claims.get(&target.public_key),
        ) else {
            return Err(format!(
                "no claims known for {} or {}, so the policy cannot be asked",
                origin.public_key, target.public_key
            ));
        };
        let capabilities: Vec<&str> = source_claims
            .caps
            .split(',')
            .filter(|c| !c.is_empty())
            .collect();
        let source = json!({
            "publicKey": origin.public_key, "contractId": origin.contract_id,
            "linkName": origin.link_name, "capabilities": capabilities,
            "issuer": source_claims.iss, "issuedOn": null, "expiresAt": null, "expired": false,
        });
        let target = json!({
            "publicKey": target.public_key, "issuer": target_claims.iss,
            "contractId": target.contract_id, "linkName": target.link_name,
        });
        self.decide("perform_invocation", source, target, &cache_key)
            .await
    }

    fn cached(&self, cache_key: &str) -> Option<Decision> {
        self.decisions
            .lock()
            .expect("invariant: policy lock is never poisoned")
            .get(cache_key)
            .filter(|d| d.at.elapsed() < CACHE_FOR)
            .cloned()
    }

    async fn decide(
        &self,
        action: &str,
        source: serde_json::Value,
        target: serde_json::Value,
        cache_key: &str,
    ) -> Result<(), String> {
        if let Some(decision) = self.cached(cache_key) {
            return verdict(&decision);
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let request = json!({
            "requestId": request_id,
            "source": source,
            "target": target,
            "action": action,
            "host": self.host,
        });
        let asked = tokio::time::timeout(
            self.timeout,
            self.client
                .request(self.topic.clone(), request.to_string().into()),
        )
        .await;
        // Failures are not cached: the next request asks again.
        let reply = match asked {
            Err(_) => {
                return Err(format!(
                    "the policy service did not answer within {:?}",
                    self.timeout
                ));
            }
            Ok(Err(error)) => {
                return Err(format!("the policy service could not be asked: {error}"));
            }
            Ok(Ok(reply)) => reply,
        };
        let response: Response = kiln_types::decode::json(
            "the policy answer",
            &reply.payload,
            kiln_types::limits::JSON_BODY,
        )
        .map_err(|e| format!("the policy service's answer is unreadable: {e}"))?;
        let decision = Decision {
            permitted: response.permitted,
            message: response.message,
            at: Instant::now(),
        };
        let mut decisions = self
            .decisions
            .lock()
            .expect("invariant: policy lock is never poisoned");
        if decisions.len() >= MAX_DECISIONS {
            decisions.retain(|_, d| d.at.elapsed() < CACHE_FOR);
            if decisions.len() >= MAX_DECISIONS {
                decisions.clear();
            }
        }
        decisions.insert(cache_key.to_string(), decision.clone());
        drop(decisions);
        let mut requests = self
            .requests
            .lock()
            .expect("invariant: policy lock is never poisoned");
        if requests.len() >= MAX_DECISIONS {
            requests.retain(|_, (_, at)| at.elapsed() < CACHE_FOR);
            if requests.len() >= MAX_DECISIONS {
                requests.clear();
            }
        }
        requests.insert(request_id, (cache_key.to_string(), Instant::now()));
        drop(requests);
        verdict(&decision)
    }

    /// Applies overrides from the changes topic until shutdown.
    pub async fn watch_changes(&self, shutdown: CancellationToken) {
        let Some(topic) = self.changes_topic.clone() else {
            return;
        };
        let mut changes = match self.client.subscribe(topic.clone()).await {
            Ok(changes) => changes,
            Err(error) => {
                tracing::error!(%topic, %error, "could not subscribe to policy changes");
                return;
            }
        };
        loop {
            let message = tokio::select! {
                () = shutdown.cancelled() => return,
                message = changes.next() => match message { Some(m) => m, None => return },
            };
            let success = match kiln_types::decode::json::<Change>(
                "a policy change",
                &message.payload,
                kiln_types::limits::JSON_BODY,
            ) {
                Ok(change) => self.apply(&change),
                Err(error) => {
                    tracing::warn!(%error, "unreadable policy change");
                    false
                }
            };
            if let Some(reply) = message.reply {
                let body = serde_json::to_vec(&ChangeAck { success })
                    .expect("invariant: a bool serialises");
                let _ = self.client.publish(reply, body.into()).await;
            }
        }
    }

    fn apply(&self, change: &Change) -> bool {
        let Some(cache_key) = self
            .requests
            .lock()
            .expect("invariant: policy lock is never poisoned")
            .get(&change.request_id)
            .map(|(key, _)| key.clone())
        else {
            return false;
        };
        self.decisions
            .lock()
            .expect("invariant: policy lock is never poisoned")
            .insert(
                cache_key,
                Decision {
                    permitted: change.permitted,
                    message: change.message.clone(),
                    at: Instant::now(),
                },
            );
        true
    }
}

fn verdict(decision: &Decision) -> Result<(), String> {
    if decision.permitted {
        Ok(())
    } else if decision.message.is_empty() {
        Err("the policy service did not permit it".into())
    } else {
        Err(decision.message.clone())
    }
}
