//! Every error of the control service as a gRPC status, in one place: the code says what
//! kind of problem it is, the message what to do about it.

use tonic::{Code, Status};

use crate::artifacts::fetch::FetchError;
use crate::control::ProviderError;
use crate::control::remote::RemoteError;
use crate::control::{ControlError, LinkError};

/// A status for an artifact that could not be fetched or was refused.
fn fetch(error: &FetchError) -> Code {
    use crate::artifacts::oci::OciError;
    match error {
        // Bytes that are not wasm at all: a wrong artifact, not a refusal.
        FetchError::Claims(kiln_types::claims::ClaimsError::Wasm(_)) => Code::InvalidArgument,
        FetchError::FileLoadDisabled(_) | FetchError::Claims(_) => Code::PermissionDenied,
        FetchError::Unsupported(_)
        | FetchError::TooLarge { .. }
        | FetchError::ReferenceTooLong(_)
        | FetchError::NotAFile(_) => Code::InvalidArgument,
        FetchError::Archive(kiln_types::par::ParError::Format(_)) => Code::InvalidArgument,
        FetchError::Archive(_) => Code::PermissionDenied,
        FetchError::Read { .. } => Code::NotFound,
        FetchError::Interrupted(_) => Code::Unavailable,
        FetchError::Oci(oci) => match oci {
            OciError::BadReference { .. }
            | OciError::NotAnArtifact { .. }
            | OciError::TooLarge { .. } => Code::InvalidArgument,
            OciError::Latest(_) | OciError::Digest { .. } => Code::FailedPrecondition,
            OciError::NotFound { .. } => Code::NotFound,
            OciError::Denied { .. } => Code::PermissionDenied,
            OciError::Unreachable { .. } | OciError::Other { .. } => Code::Unavailable,
        },
    }
}

impl From<ControlError> for Status {
    fn from(error: ControlError) -> Status {
        let code = match &error {
            ControlError::Fetch(fetch_error) => fetch(fetch_error),
            ControlError::Conflict { .. } | ControlError::Update(_) => Code::FailedPrecondition,
            ControlError::NotRunning(_) => Code::NotFound,
            ControlError::Invalid(_) => Code::InvalidArgument,
            ControlError::Denied(_) => Code::PermissionDenied,
            ControlError::DataPlane(_) | ControlError::Lattice(_) => Code::Unavailable,
        };
        Status::new(code, error.to_string())
    }
}

impl From<ProviderError> for Status {
    fn from(error: ProviderError) -> Status {
        let code = match &error {
            ProviderError::Fetch(fetch_error) => fetch(fetch_error),
            ProviderError::Archive(_) | ProviderError::Denied(_) => Code::PermissionDenied,
            ProviderError::AlreadyRunning { .. } => Code::FailedPrecondition,
            ProviderError::NotRunning { .. } => Code::NotFound,
            ProviderError::Invalid(_) => Code::InvalidArgument,
            ProviderError::DataPlane(_) => Code::Unavailable,
            // Its configuration names an address it cannot have.
            ProviderError::Builtin(_) => Code::FailedPrecondition,
        };
        Status::new(code, error.to_string())
    }
}

impl From<LinkError> for Status {
    fn from(error: LinkError) -> Status {
        let code = match &error {
            LinkError::Invalid(_) => Code::InvalidArgument,
            LinkError::Store(_) => Code::Unavailable,
        };
        Status::new(code, error.to_string())
    }
}

impl From<RemoteError> for Status {
    fn from(error: RemoteError) -> Status {
        match error {
            RemoteError::Control(error) => error.into(),
            RemoteError::Provider(error) => error.into(),
            RemoteError::Remote { error, .. } => remote(&error),
            RemoteError::Unanswered(_) | RemoteError::NoBids(_) => {
                Status::not_found(error.to_string())
            }
            RemoteError::Lattice(_) => Status::unavailable(error.to_string()),
            RemoteError::Invalid(_) => Status::invalid_argument(error.to_string()),
        }
    }
}

/// A status for a call to an actor that did not produce an answer.
#[must_use]
pub fn call(error: &kiln_wasmbus::rpc::CallError) -> Status {
    use kiln_wasmbus::rpc::CallError;
    let code = match error {
        CallError::NoResponders(_) => Code::NotFound,
        CallError::Timeout(_) => Code::DeadlineExceeded,
        CallError::TooLarge(_) => Code::InvalidArgument,
        CallError::Refused(_) => Code::FailedPrecondition,
        CallError::Chunk(_) | CallError::Failed { .. } => Code::Unavailable,
    };
    Status::new(code, error.to_string())
}

/// A status for a command another host did not carry out over the NATS control
/// interface. A refusal or failure arrives as that host's text, so its code comes from
/// what the text says.
#[must_use]
pub fn remote(error: &kiln_wasmbus::ctl::CtlError) -> Status {
    use kiln_wasmbus::ctl::CtlError;
    let reason = match error {
        CtlError::NoAnswer { .. } | CtlError::NoOutcome(_) => {
            return Status::unavailable(error.to_string());
        }
        CtlError::Invalid(_) => return Status::invalid_argument(error.to_string()),
        CtlError::Refused(reason) | CtlError::Failed(reason) => reason,
    };
    let code = if reason.contains("is not running on this host")
        || reason.contains("could not read")
    {
        Code::NotFound
    } else if reason.starts_with("invalid request")
        || reason.contains("is not an actor's public key")
    {
        Code::InvalidArgument
    } else if reason.starts_with("denied by policy") || reason.contains("disabled on this host") {
        Code::PermissionDenied
    } else {
        Code::FailedPrecondition
    };
    Status::new(code, reason.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_the_codes_a_caller_can_act_on() {
        let status = Status::from(ControlError::NotRunning("MX".into()));
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "actor MX is not running on this host");
        assert_eq!(
            Status::from(ControlError::Denied("no".into())).code(),
            Code::PermissionDenied
        );
        assert_eq!(
            Status::from(ControlError::DataPlane("gone".into())).code(),
            Code::Unavailable
        );
        assert_eq!(
            Status::from(LinkError::Invalid("x".into())).code(),
            Code::InvalidArgument
        );
        assert_eq!(
            Status::from(ControlError::from(FetchError::Unsupported("x".into()))).code(),
            Code::InvalidArgument
        );
        use kiln_wasmbus::ctl::CtlError;
        let refused = |reason: &str| remote(&CtlError::Refused(reason.into())).code();
        assert_eq!(
            refused("actor MX is not running on this host"),
            Code::NotFound
        );
        assert_eq!(
            refused("invalid request: missing field"),
            Code::InvalidArgument
        );
        assert_eq!(
            refused("unable to perform live update: revision 1 is not higher"),
            Code::FailedPrecondition
        );
        assert_eq!(
            remote(&CtlError::NoOutcome(std::time::Duration::from_secs(1))).code(),
            Code::Unavailable
        );
    }
}
