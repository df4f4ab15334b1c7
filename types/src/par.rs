//! Provider archives (PAR): a tar, usually gzip-compressed, holding `claims.jwt` and
//! one executable per target (`x86_64-linux.bin`, …).
//!
//! Reading checks what the wasmbus host skipped: the token's signature and validity, and
//! the binary's hash against the signed `target_hashes`. The contract id comes from the
//! claims (`capid`), and archives written here carry it, as wasmCloud tools expect.

use std::collections::HashMap;
use std::io::Read as _;

use data_encoding::HEXUPPER;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::claims::Policy;
use crate::jwt::{self, Claims, JwtError, WASCAP_REVISION};
use crate::keys::{KeyKind, KeyPair};

/// Name of the claims entry.
const CLAIMS_ENTRY: &str = "claims.jwt";
/// Largest entry read from an archive.
pub const MAX_ENTRY_BYTES: u64 = 512 << 20;
/// Most bytes an archive may unpack to, over all its entries.
pub const MAX_UNPACKED_BYTES: u64 = 1 << 30;
/// Most entries an archive may hold.
pub const MAX_ENTRIES: usize = 64;

/// The `wascap` metadata of a provider.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Contract id, e.g. `wasmcloud:httpserver`.
    #[serde(default)]
    pub capid: String,
    /// Vendor.
    #[serde(default)]
    pub vendor: String,
    /// Revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<i32>,
    /// Version string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<String>,
    /// Upper-case hex SHA-256 of each target's binary.
    #[serde(default)]
    pub target_hashes: HashMap<String, String>,
    /// JSON schema of the provider's configuration, if it publishes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_schema: Option<serde_json::Value>,
}

/// Claims of a provider.
pub type ProviderClaims = Claims<Provider>;

/// A provider's revision as hosts report it: `rev` when above 0, else the time the
/// claims were issued (as the OTP host reports it; wash and its dashboard show it).
#[must_use]
pub fn revision(claims: &ProviderClaims) -> i64 {
    match claims.metadata.as_ref().and_then(|m| m.rev) {
        Some(rev) if rev > 0 => i64::from(rev),
        _ => i64::try_from(claims.issued_at).unwrap_or(i64::MAX),
    }
}

/// What a signer puts in a provider's claims.
#[derive(Debug, Clone, Default)]
pub struct ProviderSpec {
    /// Display name.
    pub name: Option<String>,
    /// Contract id.
    pub capid: String,
    /// Vendor.
    pub vendor: String,
    /// Revision.
    pub rev: Option<i32>,
    /// Version.
    pub ver: Option<String>,
}

/// An archive that could not be read or was refused.
#[derive(Debug, thiserror::Error)]
pub enum ParError {
    /// Not a (gzip'd) tar.
    #[error("not a provider archive: {0}")]
    Format(String),
    /// No claims entry.
    #[error("provider archive has no claims.jwt")]
    Unsigned,
    /// The token failed.
    #[error("provider claims rejected: {0}")]
    Token(#[from] JwtError),
    /// No metadata in the claims.
    #[error("provider claims have no wascap metadata")]
    NoMetadata,
    /// A key of the wrong kind.
    #[error("provider claims {field} {key} is not a {expected} key")]
    KeyKind {
        /// `iss` or `sub`.
        field: &'static str,
        /// The key.
        key: String,
        /// Expected kind.
        expected: KeyKind,
    },
    /// The issuer is not on the allow-list.
    #[error("provider claims issuer {0} is not an allowed issuer")]
    UntrustedIssuer(String),
    /// No binary for this machine.
    #[error("provider archive has no binary for {target} (it has: {available})")]
    NoTarget {
        /// Wanted.
        target: String,
        /// Present.
        available: String,
    },
    /// The binary is not what was signed.
    #[error("provider binary for {target} hashes to {actual}, but the claims sign {claimed}")]
    Hash {
        /// Target.
        target: String,
        /// Signed hash.
        claimed: String,
        /// Hash of the bytes.
        actual: String,
    },
}

/// A provider whose archive passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedProvider {
    /// The claims.
    pub claims: ProviderClaims,
    /// The `claims.jwt` token the claims were read from.
    pub token: String,
    /// The executable for the requested target.
    pub binary: Vec<u8>,
}

impl VerifiedProvider {
    /// The provider's public key.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.claims.subject
    }

    /// The metadata (checked present).
    #[must_use]
    pub fn meta(&self) -> &Provider {
        self.claims
            .metadata
            .as_ref()
            .expect("invariant: read_par refuses claims without metadata")
    }
}

/// The target name of the machine this runs on, as archives name binaries.
#[must_use]
pub fn native_target() -> String {
    format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS)
}

fn hash(bytes: &[u8]) -> String {
    HEXUPPER.encode(&Sha256::digest(bytes))
}

/// Reads an archive, checks its claims at `now` and returns the binary for `target`.
///
/// # Errors
/// See [`ParError`].
pub fn read_par(
    archive: &[u8],
    target: &str,
    policy: &Policy,
    now: u64,
) -> Result<VerifiedProvider, ParError> {
    let binary_name = format!("{target}.bin");
    let mut unpacked = unpack(archive, |name| name == CLAIMS_ENTRY || name == binary_name)?;
    let token = unpacked.kept.get(CLAIMS_ENTRY).ok_or(ParError::Unsigned)?;
    let token = std::str::from_utf8(token)
        .map_err(|_| ParError::Format("claims.jwt is not text".into()))?
        .to_string();
    let Some(binary) = unpacked.kept.remove(&binary_name) else {
        // The token is checked first: a stranger's archive says nothing about targets.
        verify_provider_token(&token, target, None, policy, now)?;
        let mut available: Vec<&str> = unpacked
            .names
            .iter()
            .filter_map(|k| k.strip_suffix(".bin"))
            .collect();
        available.sort_unstable();
        return Err(ParError::NoTarget {
            target: target.to_string(),
            available: if available.is_empty() {
                "none".into()
            } else {
                available.join(", ")
            },
        });
    };
    let claims = verify_provider_token(&token, target, Some(&hash(&binary)), policy, now)?;
    Ok(VerifiedProvider {
        claims,
        token,
        binary,
    })
}

/// Checks a provider's token as [`read_par`] does: signature, key kinds, times, issuer
/// allow-list, and, given the hash of the binary for `target` (upper-case hex
/// SHA-256), that the claims sign it. The check of a provider whose binary is known,
/// such as one a restarted control plane finds running.
///
/// # Errors
/// See [`ParError`].
pub fn verify_provider_token(
    token: &str,
    target: &str,
    binary_hash: Option<&str>,
    policy: &Policy,
    now: u64,
) -> Result<ProviderClaims, ParError> {
    let claims: ProviderClaims = jwt::decode_verified(token)?;
    claims.check_times(now)?;
    for (field, key, expected) in [
        ("iss", &claims.issuer, KeyKind::Account),
        ("sub", &claims.subject, KeyKind::Service),
    ] {
        if KeyKind::of_public_key(key) != Some(expected) {
            return Err(ParError::KeyKind {
                field,
                key: key.clone(),
                expected,
            });
        }
    }
    if !policy.allowed_issuers.is_empty() && !policy.allowed_issuers.contains(&claims.issuer) {
        return Err(ParError::UntrustedIssuer(claims.issuer));
    }
    let meta = claims.metadata.as_ref().ok_or(ParError::NoMetadata)?;
    if let Some(actual) = binary_hash {
        let claimed = meta.target_hashes.get(target).cloned().unwrap_or_default();
        if !claimed.eq_ignore_ascii_case(actual) {
            return Err(ParError::Hash {
                target: target.to_string(),
                claimed,
                actual: actual.to_string(),
            });
        }
    }
    Ok(claims)
}

/// Reads the claims of an archive without verifying them: for display only.
///
/// # Errors
/// When the archive or its token cannot be read.
pub fn inspect_par(archive: &[u8]) -> Result<(ProviderClaims, Vec<String>), ParError> {
    let unpacked = unpack(archive, |name| name == CLAIMS_ENTRY)?;
    let token = unpacked.kept.get(CLAIMS_ENTRY).ok_or(ParError::Unsigned)?;
    let token = std::str::from_utf8(token)
        .map_err(|_| ParError::Format("claims.jwt is not text".into()))?;
    let mut targets: Vec<String> = unpacked
        .names
        .iter()
        .filter_map(|k| k.strip_suffix(".bin"))
        .map(String::from)
        .collect();
    targets.sort();
    Ok((jwt::decode_unverified(token)?, targets))
}

/// Writes a gzip-compressed archive with one binary per target, signed by `issuer`
/// (an account) for `subject` (a service key) at `now`.
///
/// # Errors
/// When a key cannot sign.
pub fn write_par(
    binaries: &[(String, Vec<u8>)],
    spec: &ProviderSpec,
    issuer: &KeyPair,
    subject: &KeyPair,
    now: u64,
) -> Result<Vec<u8>, ParError> {
    let claims = ProviderClaims {
        expires: None,
        id: uuid::Uuid::new_v4().simple().to_string(),
        issued_at: now,
        issuer: issuer.public_key(),
        subject: subject.public_key(),
        not_before: None,
        metadata: Some(Provider {
            name: spec.name.clone(),
            capid: spec.capid.clone(),
            vendor: spec.vendor.clone(),
            rev: spec.rev,
            ver: spec.ver.clone(),
            target_hashes: binaries.iter().map(|(t, b)| (t.clone(), hash(b))).collect(),
            config_schema: None,
        }),
        wascap_revision: Some(WASCAP_REVISION),
    };
    let token = jwt::encode(&claims, issuer)?;
    let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut archive = tar::Builder::new(gzip);
    let mut add = |name: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o755);
        header.set_cksum();
        archive
            .append_data(&mut header, name, bytes)
            .expect("invariant: writing a tar into memory cannot fail");
    };
    add(CLAIMS_ENTRY, token.as_bytes());
    for (target, binary) in binaries {
        add(&format!("{target}.bin"), binary);
    }
    let gzip = archive
        .into_inner()
        .expect("invariant: finishing a tar in memory cannot fail");
    Ok(gzip
        .finish()
        .expect("invariant: finishing gzip in memory cannot fail"))
}

/// What [`unpack`] kept of an archive, and the names of every entry.
struct Unpacked {
    kept: HashMap<String, Vec<u8>>,
    names: Vec<String>,
}

/// Reads the entries of a (gzip'd) tar, keeping the bytes of those `keep` names. The
/// archive may unpack to at most [`MAX_UNPACKED_BYTES`] and hold at most
/// [`MAX_ENTRIES`] entries, each at most [`MAX_ENTRY_BYTES`]: a small compressed file
/// cannot make the reader allocate or work without bound.
fn unpack(archive: &[u8], keep: impl Fn(&str) -> bool) -> Result<Unpacked, ParError> {
    let format = |e: std::io::Error| ParError::Format(e.to_string());
    let reader: Box<dyn std::io::Read + '_> = if archive.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(archive))
    } else {
        Box::new(archive)
    };
    let mut tar = tar::Archive::new(reader.take(MAX_UNPACKED_BYTES));
    let mut unpacked = Unpacked {
        kept: HashMap::new(),
        names: Vec::new(),
    };
    for entry in tar.entries().map_err(format)? {
        let mut entry = entry.map_err(format)?;
        if unpacked.names.len() == MAX_ENTRIES {
            return Err(ParError::Format(format!(
                "the archive holds more than {MAX_ENTRIES} entries"
            )));
        }
        let name = entry.path().map_err(format)?.to_string_lossy().into_owned();
        let limit = if name == CLAIMS_ENTRY {
            crate::limits::ARTIFACT_CLAIMS as u64
        } else {
            MAX_ENTRY_BYTES
        };
        if entry.size() > limit {
            return Err(ParError::Format(format!(
                "{name} is larger than {limit} bytes"
            )));
        }
        if keep(&name) {
            let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
            entry.read_to_end(&mut bytes).map_err(format)?;
            unpacked.kept.insert(name.clone(), bytes);
        }
        unpacked.names.push(name);
    }
    if unpacked.names.is_empty() {
        return Err(ParError::Format("the archive is empty".into()));
    }
    Ok(unpacked)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn archive() -> (Vec<u8>, KeyPair, KeyPair) {
        let account = KeyKind::Account.generate();
        let service = KeyKind::Service.generate();
        let spec = ProviderSpec {
            name: Some("HTTP Server".into()),
            capid: "wasmcloud:httpserver".into(),
            vendor: "kiln".into(),
            rev: Some(1),
            ver: Some("0.1.0".into()),
        };
        let bytes = write_par(
            &[
                ("x86_64-linux".into(), b"\x7fELF binary".to_vec()),
                ("aarch64-linux".into(), b"other".to_vec()),
            ],
            &spec,
            &account,
            &service,
            NOW,
        )
        .unwrap();
        (bytes, account, service)
    }

    #[test]
    fn written_archives_read_back_verified() {
        let (bytes, account, service) = archive();
        let provider = read_par(&bytes, "x86_64-linux", &Policy::default(), NOW).unwrap();
        assert_eq!(provider.key(), service.public_key());
        assert_eq!(provider.claims.issuer, account.public_key());
        assert_eq!(provider.meta().capid, "wasmcloud:httpserver");
        assert_eq!(provider.binary, b"\x7fELF binary");
        let (claims, targets) = inspect_par(&bytes).unwrap();
        assert_eq!(claims.subject, service.public_key());
        assert_eq!(targets, vec!["aarch64-linux", "x86_64-linux"]);
    }

    #[test]
    fn the_revision_falls_back_to_the_issue_time() {
        let (bytes, ..) = archive();
        let provider = read_par(&bytes, "x86_64-linux", &Policy::default(), NOW).unwrap();
        assert_eq!(revision(&provider.claims), 1);
        let (account, service) = (KeyKind::Account.generate(), KeyKind::Service.generate());
        for rev in [None, Some(0)] {
            let spec = ProviderSpec {
                capid: "wasmcloud:httpserver".into(),
                rev,
                ..ProviderSpec::default()
            };
            let bytes = write_par(
                &[("x86_64-linux".into(), b"bin".to_vec())],
                &spec,
                &account,
                &service,
                NOW,
            )
            .unwrap();
            let provider = read_par(&bytes, "x86_64-linux", &Policy::default(), NOW).unwrap();
            assert_eq!(revision(&provider.claims), NOW as i64, "{rev:?}");
        }
    }

    #[test]
    fn refuses_missing_targets_garbage_and_strangers() {
        let (bytes, ..) = archive();
        let err = read_par(&bytes, "riscv64-linux", &Policy::default(), NOW).unwrap_err();
        assert_eq!(
            err.to_string(),
            "provider archive has no binary for riscv64-linux (it has: aarch64-linux, x86_64-linux)"
        );
        assert!(matches!(
            read_par(b"not a tar", "x86_64-linux", &Policy::default(), NOW),
            Err(ParError::Format(_))
        ));
        let policy = Policy {
            allowed_issuers: vec![KeyKind::Account.generate().public_key()],
        };
        assert!(matches!(
            read_par(&bytes, "x86_64-linux", &policy, NOW),
            Err(ParError::UntrustedIssuer(_))
        ));
    }

    #[test]
    fn refuses_a_swapped_binary_and_a_forged_token() {
        let account = KeyKind::Account.generate();
        let service = KeyKind::Service.generate();
        let spec = ProviderSpec {
            capid: "wasmcloud:keyvalue".into(),
            ..ProviderSpec::default()
        };
        let good = write_par(
            &[("x86_64-linux".into(), b"good".to_vec())],
            &spec,
            &account,
            &service,
            NOW,
        )
        .unwrap();
        let evil = write_par(
            &[("x86_64-linux".into(), b"evil".to_vec())],
            &spec,
            &account,
            &service,
            NOW,
        )
        .unwrap();
        // The good token with the evil binary.
        let mut mixed = unpack(&good, |_| true).unwrap().kept;
        mixed.insert(
            "x86_64-linux.bin".into(),
            unpack(&evil, |_| true).unwrap().kept["x86_64-linux.bin"].clone(),
        );
        let mut builder = tar::Builder::new(Vec::new());
        for (name, bytes) in &mixed {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_cksum();
            builder
                .append_data(&mut header, name, bytes.as_slice())
                .unwrap();
        }
        let mixed = builder.into_inner().unwrap();
        let err = read_par(&mixed, "x86_64-linux", &Policy::default(), NOW).unwrap_err();
        assert!(matches!(err, ParError::Hash { .. }), "{err}");

        // A token signed by another account than it names.
        let other = KeyKind::Account.generate();
        let claims: ProviderClaims = jwt::decode_verified(
            std::str::from_utf8(&unpack(&good, |_| true).unwrap().kept["claims.jwt"]).unwrap(),
        )
        .unwrap();
        let forged = jwt::encode(&claims, &other).unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        for (name, bytes) in [
            ("claims.jwt", forged.as_bytes()),
            ("x86_64-linux.bin", b"good".as_slice()),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_cksum();
            builder.append_data(&mut header, name, bytes).unwrap();
        }
        let err = read_par(
            &builder.into_inner().unwrap(),
            "x86_64-linux",
            &Policy::default(),
            NOW,
        )
        .unwrap_err();
        assert!(
            matches!(err, ParError::Token(JwtError::Signature(_))),
            "{err}"
        );
    }

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_cksum();
            builder.append_data(&mut header, name, *bytes).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn entries_announced_larger_than_the_limits_are_refused_before_reading() {
        let mut header = tar::Header::new_gnu();
        header.set_path("x86_64-linux.bin").unwrap();
        header.set_size(MAX_ENTRY_BYTES + 1);
        header.set_cksum();
        let mut bomb = header.as_bytes().to_vec();
        bomb.extend_from_slice(&[0; 1024]);
        let err = read_par(&bomb, "x86_64-linux", &Policy::default(), NOW).unwrap_err();
        assert!(err.to_string().contains("is larger than"), "{err}");

        let big_claims = vec![b'a'; crate::limits::ARTIFACT_CLAIMS + 1];
        let err = read_par(
            &tar_of(&[("claims.jwt", &big_claims)]),
            "x86_64-linux",
            &Policy::default(),
            NOW,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("claims.jwt is larger than"),
            "{err}"
        );
    }

    #[test]
    fn archives_with_too_many_entries_are_refused() {
        let names: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("e{i}")).collect();
        let entries: Vec<(&str, &[u8])> = names
            .iter()
            .map(|n| (n.as_str(), b"x".as_slice()))
            .collect();
        let err = read_par(&tar_of(&entries), "x86_64-linux", &Policy::default(), NOW).unwrap_err();
        assert!(err.to_string().contains("more than 64 entries"), "{err}");
    }
}
