//! The OTP host's config service (`WASMCLOUD_CONFIG_SERVICE`): asked once at start on
//! `wasmbus.cfg.{prefix}.req` with this host's labels, it hands out registry
//! credentials and the actors and providers to start. The credentials are applied
//! before any boot start pulls; the workload then starts in the background beside the
//! boot workload (after adoption, retried, skipped when it runs). A service that does
//! not answer is a warning, as on the OTP host.

use std::collections::HashMap;
use std::time::Duration;

use kiln_types::decode::field;
use serde::Deserialize;

use crate::config::BootProvider;
use crate::host::Shared;

/// How long the service gets to answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);
/// Most actors and providers taken from one answer.
const MAX_STARTS: usize = 1_000;

/// What the service hands out.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handout {
    /// Registry credentials, in the shape of `registries.put`.
    #[serde(default)]
    pub registry_credentials: HashMap<String, serde_json::Value>,
    /// Providers to start.
    #[serde(default)]
    pub auto_start_providers: Vec<ProviderStart>,
    /// Actors to start, by reference.
    #[serde(default)]
    pub auto_start_actors: Vec<String>,
}

/// One provider to start.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderStart {
    /// Where it comes from.
    #[serde(deserialize_with = "field::reference")]
    pub image_reference: String,
    /// Its link name; `default` when absent.
    #[serde(default, deserialize_with = "field::nullable_text")]
    pub link_name: String,
}

/// The actors and providers to start that the service handed out.
#[derive(Debug, Default)]
pub struct Workload {
    /// Actors, by reference.
    pub actors: Vec<String>,
    /// Providers.
    pub providers: Vec<BootProvider>,
}

/// Asks the service and applies its credentials (before anything is pulled); returns
/// the workload it handed out. A host without the service configured asks nothing.
pub async fn prepare(host: &Shared) -> Workload {
    if !host.config.config_service {
        return Workload::default();
    }
    let Some(handout) = ask(host).await else {
        return Workload::default();
    };
    if !handout.registry_credentials.is_empty() {
        match host
            .registry_credentials
            .merge(handout.registry_credentials)
        {
            Ok(servers) => tracing::info!(?servers, "registry credentials from the config service"),
            Err(error) => {
                tracing::warn!("unreadable registry credentials from the config service: {error}")
            }
        }
    }
    let actors: Vec<String> = handout
        .auto_start_actors
        .into_iter()
        .filter(|a| !a.is_empty() && a.len() <= kiln_types::limits::REFERENCE)
        .take(MAX_STARTS)
        .collect();
    let providers: Vec<BootProvider> = handout
        .auto_start_providers
        .into_iter()
        .take(MAX_STARTS)
        .map(|p| BootProvider {
            reference: p.image_reference,
            link_name: kiln_types::link::name_or_default(&p.link_name).to_string(),
        })
        .collect();
    tracing::info!(
        actors = actors.len(),
        providers = providers.len(),
        "workload from the config service"
    );
    Workload { actors, providers }
}

/// The service's answer, or none (logged) when it does not answer or says nothing
/// readable.
async fn ask(host: &Shared) -> Option<Handout> {
    let subject = kiln_wasmbus::subjects::config_service(&host.config.lattice);
    let body = serde_json::json!({ "labels": host.config.labels }).to_string();
    let reply = match tokio::time::timeout(
        ASK_TIMEOUT,
        host.ctl.request(subject.clone(), body.into()),
    )
    .await
    {
        Ok(Ok(reply)) => reply,
        Ok(Err(error)) => {
            tracing::warn!(%subject, %error, "the config service could not be asked; starting without it");
            return None;
        }
        Err(_) => {
            tracing::warn!(%subject, timeout = ?ASK_TIMEOUT, "the config service did not answer; starting without it");
            return None;
        }
    };
    match kiln_types::decode::json::<Handout>(
        "the config service's answer",
        &reply.payload,
        kiln_types::limits::JSON_BODY,
    ) {
        Ok(handout) => Some(handout),
        Err(error) => {
            tracing::warn!(%error, "unreadable answer from the config service; starting without it");
            None
        }
    }
}
