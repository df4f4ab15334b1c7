//! Handing a provider to the data plane with its host data: at a start, an adoption,
//! and whenever its links change (so a restarted process gets the current ones).

use std::collections::HashMap;

use kiln_types::hostdata::HostData;

use crate::host::Shared;
use crate::state::providers::{Entry, Process};

/// Starts `entry`, which runs as `process`, on the data plane (or refreshes its host
/// data there).
///
/// # Errors
/// The data plane's refusal.
pub async fn deploy(host: &Shared, entry: &Entry, process: &Process) -> Result<u32, tonic::Status> {
    let host_data = host_data(host, entry).to_stdin_line();
    host.data_plane
        .ensure_provider(
            &entry.key,
            &entry.link_name,
            process.digest.as_str(),
            &process.binary,
            host_data,
            crate::dataplane::records::provider_record(
                &host.config.host_id(),
                &host.config.cluster_key.public_key(),
                entry,
                &process.token,
            ),
        )
        .await
}

/// Gives the data plane fresh host data for every provider instance that serves
/// `provider` on `link_name`, so a restart gets the current links.
pub async fn refresh(host: &Shared, provider: &str, link_name: &str) {
    if let Some(entry) = host.providers.get(provider, link_name)
        && let Some(process) = entry.process()
        && let Err(status) = deploy(host, &entry, process).await
    {
        tracing::warn!(%provider, link = link_name, error = %status.message(), "could not refresh provider host data");
    }
}

fn host_data(host: &Shared, entry: &Entry) -> HostData {
    let config = &host.config;
    let secret =
        |s: &Option<crate::config::Secret>| s.as_ref().map(|s| s.0.clone()).unwrap_or_default();
    HostData {
        host_id: config.host_id(),
        lattice_rpc_prefix: config.lattice.clone(),
        link_name: entry.link_name.clone(),
        lattice_rpc_user_jwt: secret(&config.prov_rpc.jwt),
        lattice_rpc_user_seed: secret(&config.prov_rpc.seed),
        // One address, as wasmbus providers read it; kiln's read the whole list.
        lattice_rpc_url: config.prov_rpc.address(),
        lattice_rpc_urls: config.prov_rpc.servers(),
        lattice_rpc_tls: u8::from(config.prov_rpc.tls),
        provider_key: entry.key.clone(),
        invocation_seed: config
            .cluster_key
            .seed()
            .expect("invariant: the cluster key is made from a seed"),
        env_values: HashMap::new(),
        instance_id: entry.instance_id.clone(),
        link_definitions: host.links.definitions_for(&entry.key, &entry.link_name),
        cluster_issuers: config.cluster_issuers.clone(),
        config_json: entry.config_json.clone(),
        default_rpc_timeout_ms: Some(
            u64::try_from(config.rpc_timeout.as_millis()).unwrap_or(u64::MAX),
        ),
        js_domain: config.js_domain.clone(),
        structured_logging: config.logs.json,
        log_level: Some(config.logs.level.into()),
    }
}
