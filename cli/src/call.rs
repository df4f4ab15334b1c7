//! `kiln call`: call an actor through the control API (which signs the invocation with
//! the host's cluster key), or with `--nats` sign it here and send it on the lattice.

use std::time::Duration;

use anyhow::{Context as _, bail};
use kiln_types::interfaces::{
    self,
    httpserver::{self, HttpRequest, HttpResponse},
};
use kiln_types::invocation::{Entity, Invocation, InvocationResponse};
use kiln_types::keys::KeyKind;
use serde::Serialize;

use crate::keys::read_seed;
use crate::output::{Format, emit};

#[derive(clap::Args)]
pub struct Args {
    /// The actor's public key (M…), or its call alias.
    actor: String,
    /// Operation, e.g. HttpServer.HandleRequest. Implied by --http.
    operation: Option<String>,
    /// Payload as JSON, sent as msgpack.
    data: Option<String>,
    /// Send an HTTP request instead: METHOD and PATH (with an optional ?query).
    #[arg(long, num_args = 2, value_names = ["METHOD", "PATH"], conflicts_with = "data")]
    http: Option<Vec<String>>,
    /// Body of the --http request.
    #[arg(long, requires = "http")]
    body: Option<String>,
    /// Lattice prefix.
    #[arg(long, env = "WASMCLOUD_LATTICE_PREFIX", default_value = "default")]
    lattice_prefix: String,
    /// NATS host.
    #[arg(long, env = "WASMCLOUD_RPC_HOST", default_value = "127.0.0.1")]
    rpc_host: String,
    /// NATS port.
    #[arg(long, env = "WASMCLOUD_RPC_PORT", default_value_t = 4222)]
    rpc_port: u16,
    /// Cluster seed (SC…) or a file holding it; the host must trust its public key.
    #[arg(long, env = "WASMCLOUD_CLUSTER_SEED", hide_env_values = true)]
    cluster_seed: Option<String>,
    /// How long to wait for the reply, in milliseconds.
    #[arg(long, default_value_t = 2_000)]
    timeout_ms: u64,
    /// Sign the invocation here (with --cluster-seed) and send it straight on NATS,
    /// instead of through the control API.
    #[arg(long)]
    nats: bool,
}

#[derive(Serialize)]
struct Reply {
    invocation_id: String,
    elapsed_ms: f64,
    result: serde_json::Value,
}

pub async fn run(
    args: Args,
    connection: &crate::api_client::Connection,
    format: Format,
) -> anyhow::Result<()> {
    let (operation, payload) = request(&args)?;
    let started = std::time::Instant::now();
    let (invocation_id, msg) = if args.nats {
        over_nats(&args, operation, payload).await?
    } else {
        let mut api = crate::api_client::connect(connection).await?;
        let call = api.invoke(kiln_proto::control::v1::InvokeRequest {
            actor: args.actor.clone(),
            operation,
            payload,
        });
        let reply = tokio::time::timeout(Duration::from_millis(args.timeout_ms), call)
            .await
            .with_context(|| format!("no reply within {} ms", args.timeout_ms))??;
        (String::new(), reply.into_inner().payload)
    };
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let result = if args.http.is_some() {
        let http: HttpResponse =
            interfaces::decode(&msg).context("the reply is not an HttpResponse")?;
        serde_json::json!({
            "status": http.status_code,
            "header": http.header,
            "body": String::from_utf8_lossy(&http.body),
        })
    } else {
        msgpack_to_json(&msg)
    };
    let reply = Reply {
        invocation_id,
        elapsed_ms,
        result,
    };
    emit(format, &reply, || match &reply.result {
        serde_json::Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    });
    Ok(())
}

/// The operation and payload the arguments ask for.
fn request(args: &Args) -> anyhow::Result<(String, Vec<u8>)> {
    Ok(match &args.http {
        Some(parts) => (
            httpserver::HANDLE_REQUEST.to_string(),
            http_request(parts, args.body.as_deref()),
        ),
        None => {
            let operation = args
                .operation
                .clone()
                .context("an operation is needed, or --http METHOD PATH")?;
            let payload = match &args.data {
                Some(json) => {
                    let value: serde_json::Value =
                        serde_json::from_str(json).context("the payload is not JSON")?;
                    rmp_serde::to_vec_named(&value).context("encoding the payload as msgpack")?
                }
                None => Vec::new(),
            };
            (operation, payload)
        }
    })
}

/// Signs and sends the invocation on NATS; returns its id and the reply payload.
async fn over_nats(
    args: &Args,
    operation: String,
    payload: Vec<u8>,
) -> anyhow::Result<(String, Vec<u8>)> {
    let seed = args
        .cluster_seed
        .as_deref()
        .context("a cluster seed is needed to sign the call: pass --cluster-seed or set WASMCLOUD_CLUSTER_SEED to the host's seed or one it trusts")?;
    let cluster = read_seed(KeyKind::Cluster, seed)?;
    if KeyKind::of_public_key(&args.actor) != Some(KeyKind::Module) {
        bail!("{:?} is not an actor public key (M…)", args.actor);
    }
    let origin = Entity::actor(KeyKind::Module.generate().public_key());
    let invocation = Invocation::new_signed(
        &cluster,
        origin,
        Entity::actor(&args.actor),
        operation,
        payload,
        kiln_types::unix_now(),
    )?;
    let address = format!("{}:{}", args.rpc_host, args.rpc_port);
    let client = async_nats::connect(&address)
        .await
        .with_context(|| format!("connecting to NATS at {address}"))?;
    let subject = kiln_wasmbus::subjects::actor_rpc(&args.lattice_prefix, &args.actor);
    let message = tokio::time::timeout(
        Duration::from_millis(args.timeout_ms),
        client.request(subject, invocation.encode().into()),
    )
    .await
    .with_context(|| format!("no reply within {} ms", args.timeout_ms))?
    .context("the call failed")?;
    let response = InvocationResponse::decode(&message.payload)?;
    if let Some(error) = response.error {
        bail!("the host refused the call: {error}");
    }
    Ok((response.invocation_id, response.msg))
}

fn http_request(parts: &[String], body: Option<&str>) -> Vec<u8> {
    let (path, query) = parts[1].split_once('?').unwrap_or((parts[1].as_str(), ""));
    interfaces::encode(&HttpRequest {
        method: parts[0].to_ascii_uppercase(),
        path: path.to_string(),
        query_string: query.to_string(),
        header: std::collections::HashMap::new(),
        body: body.unwrap_or_default().as_bytes().to_vec(),
    })
}

/// Shows a msgpack reply as JSON: binaries as text when they are UTF-8.
fn msgpack_to_json(bytes: &[u8]) -> serde_json::Value {
    if bytes.is_empty() {
        return serde_json::Value::Null;
    }
    // Bounded like every decoder of lattice bytes: `convert` recurses per level.
    match rmpv::decode::read_value_with_max_depth(&mut &bytes[..], kiln_types::limits::DEPTH) {
        Ok(value) => convert(value),
        Err(_) => serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned()),
    }
}

fn convert(value: rmpv::Value) -> serde_json::Value {
    use rmpv::Value as M;
    use serde_json::Value as J;
    match value {
        M::Nil => J::Null,
        M::Boolean(b) => J::Bool(b),
        M::Integer(i) => i
            .as_i64()
            .map(J::from)
            .or_else(|| i.as_u64().map(J::from))
            .unwrap_or(J::Null),
        M::F32(f) => J::from(f64::from(f)),
        M::F64(f) => J::from(f),
        M::String(s) => J::String(s.into_str().unwrap_or_default()),
        M::Binary(b) => match String::from_utf8(b) {
            Ok(text) => J::String(text),
            Err(e) => J::Array(e.into_bytes().into_iter().map(J::from).collect()),
        },
        M::Array(items) => J::Array(items.into_iter().map(convert).collect()),
        M::Map(entries) => J::Object(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        M::String(s) => s.into_str().unwrap_or_default(),
                        other => other.to_string(),
                    };
                    (key, convert(v))
                })
                .collect(),
        ),
        M::Ext(_, data) => J::Array(data.into_iter().map(J::from).collect()),
    }
}
