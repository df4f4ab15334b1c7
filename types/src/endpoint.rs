//! Where the data plane listens and the control plane dials: a unix socket or TCP.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// A gRPC endpoint between the planes, written `unix:/path/to.sock` or `tcp:host:port`
/// (a bare `host:port` is TCP too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix domain socket: the fast path when both planes share a machine.
    Unix(PathBuf),
    /// A TCP address.
    Tcp(SocketAddr),
}

/// Text that is not an endpoint.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an endpoint (expected unix:/path or tcp:host:port)")]
pub struct BadEndpoint(pub String);

impl FromStr for Endpoint {
    type Err = BadEndpoint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("unix:") {
            let path = path.trim_start_matches("//");
            if path.is_empty() {
                return Err(BadEndpoint(s.to_string()));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        let addr = s
            .strip_prefix("tcp:")
            .or_else(|| s.strip_prefix("http://"))
            .unwrap_or(s)
            .trim_start_matches("//");
        addr.parse()
            .map(Endpoint::Tcp)
            .map_err(|_| BadEndpoint(s.to_string()))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
            Endpoint::Tcp(addr) => write!(f, "tcp:{addr}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_kinds() {
        assert_eq!(
            "unix:/run/kiln.sock".parse::<Endpoint>().unwrap(),
            Endpoint::Unix("/run/kiln.sock".into())
        );
        assert_eq!(
            "tcp:127.0.0.1:7000".parse::<Endpoint>().unwrap(),
            Endpoint::Tcp("127.0.0.1:7000".parse().unwrap())
        );
        assert_eq!(
            "127.0.0.1:7000".parse::<Endpoint>().unwrap().to_string(),
            "tcp:127.0.0.1:7000"
        );
        assert!("unix:".parse::<Endpoint>().is_err());
        assert!("nowhere".parse::<Endpoint>().is_err());
    }
}
