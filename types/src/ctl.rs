//! The JSON bodies of the wasmbus control interface (`wasmbus.ctl.{prefix}.…`) as this
//! host reads them and kiln's clients write them, every field bounded (see [`crate::decode::field`]). Field names
//! and defaults are the wasmbus host's, so `wash` and the `wasmcloud-control-interface`
//! crate are read unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::decode::{self, DecodeError, field};
use crate::limits;

/// Reads a control request body, bounded in size, depth and field lengths.
///
/// # Errors
/// When the body is not a `T` within the limits.
pub fn parse<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, DecodeError> {
    decode::json("the request", payload, limits::JSON_BODY)
}

/// The common reply of commands: `{"accepted": …, "error": …}`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ack {
    /// Whether the command was accepted.
    pub accepted: bool,
    /// Why not; empty on success.
    pub error: String,
}

impl Ack {
    /// Accepted.
    #[must_use]
    pub fn ok() -> Ack {
        Ack {
            accepted: true,
            error: String::new(),
        }
    }

    /// Refused, with why.
    #[must_use]
    pub fn failed(error: impl ToString) -> Ack {
        Ack {
            accepted: false,
            error: error.to_string(),
        }
    }

    /// Accepted when `result` is a success, else refused with its error.
    #[must_use]
    pub fn of<E: ToString>(result: Result<impl Sized, E>) -> Ack {
        match result {
            Ok(_) => Ack::ok(),
            Err(error) => Ack::failed(error),
        }
    }
}

/// `la`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LaunchActor {
    /// Where the actor comes from.
    #[serde(deserialize_with = "field::reference")]
    pub actor_ref: String,
    /// Instances to start; one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u16>,
    /// Annotations of the new instances.
    #[serde(
        default,
        deserialize_with = "field::opt_string_map",
        skip_serializing_if = "Option::is_none"
    )]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// `sa`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StopActor {
    /// The actor's public key.
    #[serde(deserialize_with = "field::reference")]
    pub actor_ref: String,
    /// Instances to stop; all when 0.
    #[serde(default)]
    pub count: u16,
    /// Only instances with these annotations.
    #[serde(
        default,
        deserialize_with = "field::opt_string_map",
        skip_serializing_if = "Option::is_none"
    )]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// `scale`: every field required, as on the wasmbus host.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ScaleActor {
    /// The actor's public key.
    #[serde(deserialize_with = "field::key")]
    pub actor_id: String,
    /// Where to start it from when it does not run yet.
    #[serde(deserialize_with = "field::reference")]
    pub actor_ref: String,
    /// Instances wanted.
    pub count: u16,
}

/// `upd`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UpdateActor {
    /// Where the new revision comes from.
    #[serde(deserialize_with = "field::reference")]
    pub new_actor_ref: String,
    /// The actor it must be, when given.
    #[serde(
        default,
        deserialize_with = "field::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub actor_id: Option<String>,
}

/// `stop`.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
pub struct StopHost {
    /// Drain grace, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
}

/// `lp`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LaunchProvider {
    /// Where the provider archive comes from.
    #[serde(deserialize_with = "field::reference")]
    pub provider_ref: String,
    /// Link name; `default` when empty.
    #[serde(default, deserialize_with = "field::link_name")]
    pub link_name: String,
    /// Configuration string handed to the provider.
    #[serde(
        default,
        deserialize_with = "field::opt_config",
        skip_serializing_if = "Option::is_none"
    )]
    pub configuration: Option<String>,
    /// Annotations of the instance.
    #[serde(
        default,
        deserialize_with = "field::opt_string_map",
        skip_serializing_if = "Option::is_none"
    )]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// `sp`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StopProvider {
    /// The provider's public key or a reference it runs from.
    #[serde(deserialize_with = "field::reference")]
    pub provider_ref: String,
    /// Link name; `default` when empty.
    #[serde(default, deserialize_with = "field::link_name")]
    pub link_name: String,
}

/// `linkdefs.del` body.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DeleteLink {
    /// The actor's public key.
    #[serde(deserialize_with = "field::key")]
    pub actor_id: String,
    /// The contract of the link.
    #[serde(deserialize_with = "field::contract_id")]
    pub contract_id: String,
    /// Link name; `default` when empty.
    #[serde(default, deserialize_with = "field::link_name")]
    pub link_name: String,
}

/// `auction.actor` body and reply.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ActorAuction {
    /// The actor to place.
    #[serde(deserialize_with = "field::reference")]
    pub actor_ref: String,
    /// Labels a bidding host must have.
    #[serde(default, deserialize_with = "field::string_map")]
    pub constraints: BTreeMap<String, String>,
    /// The bidder, in a reply.
    #[serde(
        default,
        deserialize_with = "field::key",
        skip_serializing_if = "String::is_empty"
    )]
    pub host_id: String,
}

/// `auction.provider` body and reply.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ProviderAuction {
    /// The provider to place.
    #[serde(deserialize_with = "field::reference")]
    pub provider_ref: String,
    /// Its link name; `default` when empty.
    #[serde(default, deserialize_with = "field::link_name")]
    pub link_name: String,
    /// Labels a bidding host must have.
    #[serde(default, deserialize_with = "field::string_map")]
    pub constraints: BTreeMap<String, String>,
    /// The bidder, in a reply.
    #[serde(
        default,
        deserialize_with = "field::key",
        skip_serializing_if = "String::is_empty"
    )]
    pub host_id: String,
}
