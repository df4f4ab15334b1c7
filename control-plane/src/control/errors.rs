//! What the control service answers when a command cannot be carried out.

use kiln_types::par::ParError;

use crate::artifacts::fetch::FetchError;

/// A command that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The module could not be fetched or its claims were refused.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A field of the request passes its bound.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The same key already runs here from another reference (the OTP host's words).
    #[error(
        "Cannot start new instance of {key} from ref '{requested}', it is already running with different reference. To upgrade an actor, use live update."
    )]
    Conflict {
        /// Actor key.
        key: String,
        /// The reference asked for.
        requested: String,
        /// The reference it runs from.
        running: String,
    },
    /// No such actor here.
    #[error("actor {0} is not running on this host")]
    NotRunning(String),
    /// A live update was refused.
    #[error("unable to perform live update: {0}")]
    Update(String),
    /// The policy service said no (or did not answer).
    #[error("denied by policy: {0}")]
    Denied(String),
    /// The data plane refused or could not be reached.
    #[error("the data plane refused: {0}")]
    DataPlane(String),
    /// NATS refused the subscription.
    #[error("could not subscribe on the lattice: {0}")]
    Lattice(String),
}

impl From<tonic::Status> for ControlError {
    fn from(status: tonic::Status) -> Self {
        ControlError::DataPlane(status.message().to_string())
    }
}

/// A provider that could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The archive could not be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The archive was refused.
    #[error(transparent)]
    Archive(#[from] ParError),
    /// The same provider and link already run here.
    #[error("provider {key} with link name {link_name} is already running on this host")]
    AlreadyRunning {
        /// Key.
        key: String,
        /// Link.
        link_name: String,
    },
    /// Not running here.
    #[error("provider {key} with link name {link_name} is not running on this host")]
    NotRunning {
        /// Key.
        key: String,
        /// Link.
        link_name: String,
    },
    /// The data plane refused.
    #[error("the data plane refused: {0}")]
    DataPlane(String),
    /// The policy service said no (or did not answer).
    #[error("denied by policy: {0}")]
    Denied(String),
    /// A field of the request passes its bound.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A built-in provider could not start (its configuration, its address).
    #[error("the built-in provider could not start: {0}")]
    Builtin(String),
}
