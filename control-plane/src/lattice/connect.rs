//! NATS connections with the wasmbus host's credential rules.

use anyhow::Context as _;

use crate::config::Nats;

/// Connects to `settings` (one server or several of a cluster) as `name`. JWT plus seed
/// when both are set, seed alone when only the seed is, anonymous otherwise.
///
/// # Errors
/// When the seed is invalid or the server cannot be reached.
pub async fn connect(
    settings: &Nats,
    name: &str,
    request_timeout: std::time::Duration,
    on_event: impl Fn(async_nats::Event) -> std::future::Ready<()> + Send + Sync + 'static,
) -> anyhow::Result<async_nats::Client> {
    let mut options = async_nats::ConnectOptions::new()
        .event_callback(move |event| {
            if matches!(event, async_nats::Event::Disconnected) {
                tracing::warn!("lost the NATS server; reconnecting");
            }
            on_event(event)
        })
        .name(name)
        .request_timeout(Some(request_timeout))
        .retry_on_initial_connect()
        .require_tls(settings.tls);
    match (&settings.jwt, &settings.seed) {
        (Some(jwt), Some(seed)) => {
            let pair =
                std::sync::Arc::new(nkeys::KeyPair::from_seed(&seed.0).context("NATS seed")?);
            options = options.jwt(jwt.0.clone(), move |nonce| {
                let pair = pair.clone();
                async move { pair.sign(&nonce).map_err(async_nats::AuthError::new) }
            });
        }
        (None, Some(seed)) => options = options.nkey(seed.0.clone()),
        _ => {}
    }
    let servers = settings
        .servers()
        .iter()
        .map(|server| {
            server
                .parse::<async_nats::ServerAddr>()
                .with_context(|| format!("{server:?} is not a NATS server address"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let address = settings.servers().join(",");
    // With several servers the client picks one at random and moves to another when
    // it is lost; servers of a cluster also tell it about the others.
    let client = tokio::time::timeout(std::time::Duration::from_secs(10), options.connect(servers))
        .await
        .with_context(|| format!("timed out connecting to NATS at {address}"))?
        .with_context(|| format!("connecting to NATS at {address}"))?;
    Ok(client)
}
