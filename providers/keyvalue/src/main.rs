//! `kiln-keyvalue`: the `wasmcloud:keyvalue` contract on Redis. Each linked actor gets
//! its own connection, to the `URL` of its link (default `redis://127.0.0.1:6379/`).
//! Payloads are the `wasmcloud-interface-keyvalue` shapes, msgpack with named fields.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use kiln_types::interfaces::keyvalue::{
    GetResponse, IncrementRequest, ListAddRequest, ListDelRequest, ListRangeRequest, SetAddRequest,
    SetDelRequest, SetRequest,
};
use kiln_types::interfaces::{decode, encode};
use kiln_types::link::LinkDefinition;
use kiln_wasmbus::provider::{self, Capability};
use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;

const CONTRACT: &str = "wasmcloud:keyvalue";
/// `service.name` of its spans unless `OTEL_SERVICE_NAME` says otherwise.
const SERVICE: &str = "kiln-keyvalue";
const DEFAULT_URL: &str = "redis://127.0.0.1:6379/";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct KeyValue {
    connections: RwLock<HashMap<String, ConnectionManager>>,
}

impl Capability for KeyValue {
    async fn put_link(&self, link: &LinkDefinition) -> Result<(), String> {
        let url = link
            .values
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("url"))
            .map_or(DEFAULT_URL, |(_, v)| v.as_str());
        let client =
            redis::Client::open(url).map_err(|e| format!("invalid Redis URL {url:?}: {e}"))?;
        let connection = tokio::time::timeout(CONNECT_TIMEOUT, ConnectionManager::new(client))
            .await
            .map_err(|_| format!("timed out connecting to Redis at {url}"))?
            .map_err(|e| format!("could not connect to Redis at {url}: {e}"))?;
        self.connections
            .write()
            .expect("invariant: connections lock is never poisoned")
            .insert(link.actor_id.clone(), connection);
        Ok(())
    }

    async fn delete_link(&self, link: &LinkDefinition) {
        self.connections
            .write()
            .expect("invariant: connections lock is never poisoned")
            .remove(&link.actor_id);
    }

    async fn call(
        &self,
        link: &LinkDefinition,
        operation: &str,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        let mut redis = self
            .connections
            .read()
            .expect("invariant: connections lock is never poisoned")
            .get(&link.actor_id)
            .cloned()
            .ok_or_else(|| format!("no Redis connection for actor {}", link.actor_id))?;
        run(&mut redis, operation, &payload)
            .await
            .map_err(|e| format!("{operation} failed: {e}"))
    }
}

/// An operation's failure: a payload that does not decode, or Redis's error.
#[derive(Debug)]
enum OpError {
    Payload(String),
    Redis(redis::RedisError),
    Unknown,
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpError::Payload(e) => write!(f, "invalid payload: {e}"),
            OpError::Redis(e) => write!(f, "redis: {e}"),
            OpError::Unknown => f.write_str("the keyvalue contract has no such operation"),
        }
    }
}

impl From<redis::RedisError> for OpError {
    fn from(e: redis::RedisError) -> Self {
        OpError::Redis(e)
    }
}

fn arg<'a, T: serde::Deserialize<'a>>(payload: &'a [u8]) -> Result<T, OpError> {
    decode(payload).map_err(|e| OpError::Payload(e.to_string()))
}

async fn run(
    redis: &mut ConnectionManager,
    operation: &str,
    payload: &[u8],
) -> Result<Vec<u8>, OpError> {
    let operation = operation.strip_prefix("KeyValue.").unwrap_or(operation);
    match operation {
        "Increment" | "Get" | "Set" | "Del" | "Contains" => value(redis, operation, payload).await,
        list if list.starts_with("List") => self::list(redis, list, payload).await,
        set if set.starts_with("Set") => self::set(redis, set, payload).await,
        _ => Err(OpError::Unknown),
    }
}

/// The operations on single values.
async fn value(
    redis: &mut ConnectionManager,
    operation: &str,
    payload: &[u8],
) -> Result<Vec<u8>, OpError> {
    Ok(match operation {
        "Increment" => {
            let r: IncrementRequest = arg(payload)?;
            encode(&redis.incr::<_, _, i32>(&r.key, r.value).await?)
        }
        "Get" => {
            let key: String = arg(payload)?;
            let value: Option<String> = redis.get(&key).await?;
            encode(&GetResponse {
                exists: value.is_some(),
                value: value.unwrap_or_default(),
            })
        }
        "Set" => {
            let r: SetRequest = arg(payload)?;
            if r.expires == 0 {
                redis.set::<_, _, ()>(&r.key, &r.value).await?;
            } else {
                redis
                    .set_ex::<_, _, ()>(&r.key, &r.value, u64::from(r.expires))
                    .await?;
            }
            Vec::new()
        }
        "Del" => delete(redis, payload).await?,
        "Contains" => {
            let key: String = arg(payload)?;
            encode(&redis.exists::<_, bool>(&key).await?)
        }
        _ => return Err(OpError::Unknown),
    })
}

/// Deletes the key in `payload` (a value, a list or a set); whether it existed.
async fn delete(redis: &mut ConnectionManager, payload: &[u8]) -> Result<Vec<u8>, OpError> {
    let key: String = arg(payload)?;
    Ok(encode(&(redis.del::<_, u32>(&key).await? > 0)))
}

/// The operations on lists.
async fn list(
    redis: &mut ConnectionManager,
    operation: &str,
    payload: &[u8],
) -> Result<Vec<u8>, OpError> {
    Ok(match operation {
        "ListAdd" => {
            let r: ListAddRequest = arg(payload)?;
            encode(&redis.rpush::<_, _, u32>(&r.list_name, &r.value).await?)
        }
        "ListDel" => {
            let r: ListDelRequest = arg(payload)?;
            encode(&(redis.lrem::<_, _, u32>(&r.list_name, 1, &r.value).await? > 0))
        }
        "ListRange" => {
            let r: ListRangeRequest = arg(payload)?;
            let start = isize::try_from(r.start).unwrap_or_default();
            let stop = isize::try_from(r.stop).unwrap_or_default();
            encode(
                &redis
                    .lrange::<_, Vec<String>>(&r.list_name, start, stop)
                    .await?,
            )
        }
        "ListClear" => delete(redis, payload).await?,
        _ => return Err(OpError::Unknown),
    })
}

/// The operations on sets.
async fn set(
    redis: &mut ConnectionManager,
    operation: &str,
    payload: &[u8],
) -> Result<Vec<u8>, OpError> {
    Ok(match operation {
        "SetAdd" => {
            let r: SetAddRequest = arg(payload)?;
            encode(&redis.sadd::<_, _, u32>(&r.set_name, &r.value).await?)
        }
        "SetDel" => {
            let r: SetDelRequest = arg(payload)?;
            encode(&redis.srem::<_, _, u32>(&r.set_name, &r.value).await?)
        }
        "SetQuery" => {
            let key: String = arg(payload)?;
            encode(&redis.smembers::<_, Vec<String>>(&key).await?)
        }
        "SetIntersection" => {
            let keys: Vec<String> = arg(payload)?;
            encode(&redis.sinter::<_, Vec<String>>(&keys).await?)
        }
        "SetUnion" => {
            let keys: Vec<String> = arg(payload)?;
            encode(&redis.sunion::<_, Vec<String>>(&keys).await?)
        }
        "SetClear" => delete(redis, payload).await?,
        _ => return Err(OpError::Unknown),
    })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let telemetry = kiln_telemetry::Config::from_vars(SERVICE, std::env::vars());
    match provider::run(CONTRACT, &telemetry, |_| KeyValue::default()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kiln-keyvalue: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
