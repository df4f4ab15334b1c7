//! Finding, removing and embedding the claims token in a wasm binary.
//!
//! The token lives in a custom section named `wasmcloud_jwt` (written by current
//! signers) or `jwt` (older ones). The module hash that the claims carry is the
//! SHA-256 of the binary with every such section removed, so stripping must give the
//! same bytes as every other signer: sections are copied as they are, in order, and
//! nested modules and components are rebuilt with their own token sections removed.

use data_encoding::HEXUPPER;
use sha2::{Digest, Sha256};
use wasm_encoder::{Encode, RawSection, Section};
use wasmparser::{Encoding, Parser, Payload};

/// The section name current signers write.
pub const SECTION_WASMCLOUD_JWT: &str = "wasmcloud_jwt";
/// The section name older signers wrote.
pub const SECTION_JWT: &str = "jwt";

/// Section id of a nested core module inside a component.
const COMPONENT_CORE_MODULE_SECTION: u8 = 1;
/// Section id of a nested component inside a component.
const COMPONENT_COMPONENT_SECTION: u8 = 4;

/// A wasm binary split into its claims token and the bytes the token signs.
#[derive(Debug, Clone)]
pub struct Split {
    /// The first token section found, if any.
    pub token: Option<String>,
    /// The binary without any token section.
    pub stripped: Vec<u8>,
    /// Whether the binary is a component rather than a core module.
    pub is_component: bool,
}

impl Split {
    /// Upper-case hex SHA-256 of the stripped bytes: the `hash` the claims must carry.
    #[must_use]
    pub fn module_hash(&self) -> String {
        HEXUPPER.encode(&self.sha256())
    }

    /// The SHA-256 of the stripped bytes, computed once: hashing a module of a few
    /// hundred KiB is most of a start's CPU.
    #[must_use]
    pub fn sha256(&self) -> [u8; 32] {
        Sha256::digest(&self.stripped).into()
    }
}

/// A binary that is not well-formed wasm.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// wasmparser refused it.
    #[error("not a valid wasm binary: {0}")]
    Parse(String),
    /// A token section is not UTF-8.
    #[error("the {0} section is not UTF-8")]
    TokenEncoding(String),
}

/// Splits `binary` into its claims token and its stripped bytes.
///
/// # Errors
/// When the binary does not parse, or a token section is not text.
pub fn split(binary: &[u8]) -> Result<Split, WasmError> {
    let mut token = None;
    let mut is_component = false;
    // Each entry is the output of an enclosing binary while a nested one is rebuilt.
    let mut outer: Vec<Vec<u8>> = Vec::new();
    let mut out = Vec::with_capacity(binary.len());
    for payload in Parser::new(0).parse_all(binary) {
        let payload = payload.map_err(|e| WasmError::Parse(e.to_string()))?;
        match &payload {
            Payload::Version { encoding, .. } => {
                let header: &[u8] = match encoding {
                    Encoding::Module => &wasm_encoder::Module::HEADER,
                    Encoding::Component => &wasm_encoder::Component::HEADER,
                };
                if outer.is_empty() {
                    is_component = *encoding == Encoding::Component;
                }
                out.extend_from_slice(header);
                continue;
            }
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => {
                outer.push(std::mem::take(&mut out));
                continue;
            }
            Payload::End(_) => {
                if let Some(mut parent) = outer.pop() {
                    let id = if out.starts_with(&wasm_encoder::Component::HEADER) {
                        COMPONENT_COMPONENT_SECTION
                    } else {
                        COMPONENT_CORE_MODULE_SECTION
                    };
                    parent.push(id);
                    out.encode(&mut parent);
                    out = parent;
                }
                continue;
            }
            Payload::CustomSection(section)
                if section.name() == SECTION_WASMCLOUD_JWT || section.name() == SECTION_JWT =>
            {
                // Only the outermost binary's token speaks for it.
                if token.is_none() && outer.is_empty() {
                    let text = std::str::from_utf8(section.data())
                        .map_err(|_| WasmError::TokenEncoding(section.name().to_string()))?;
                    token = Some(text.trim().to_string());
                }
                continue;
            }
            _ => {}
        }
        if let Some((id, range)) = payload.as_section() {
            let data = binary
                .get(range)
                .ok_or_else(|| WasmError::Parse("section extends past the end".into()))?;
            RawSection { id, data }.append_to(&mut out);
        }
    }
    Ok(Split {
        token,
        stripped: out,
        is_component,
    })
}

/// Appends `token` as a `wasmcloud_jwt` custom section to an already stripped binary.
#[must_use]
pub fn embed(stripped: &[u8], token: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(stripped.len() + token.len() + 32);
    out.extend_from_slice(stripped);
    wasm_encoder::CustomSection {
        name: SECTION_WASMCLOUD_JWT.into(),
        data: token.as_bytes().into(),
    }
    .append_to(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODULE: &str =
        r#"(module (func (export "f") (result i32) i32.const 7) (@custom "name2" "x"))"#;

    #[test]
    fn embed_then_split_gives_back_token_and_stripped_bytes() {
        let plain = wat::parse_str(MODULE).unwrap();
        let first = split(&plain).unwrap();
        assert!(first.token.is_none());
        assert_eq!(
            first.stripped, plain,
            "no token section: stripping changes nothing"
        );
        let signed = embed(&first.stripped, "a.b.c");
        let again = split(&signed).unwrap();
        assert_eq!(again.token.as_deref(), Some("a.b.c"));
        assert_eq!(again.stripped, plain);
        assert_eq!(again.module_hash(), first.module_hash());
        wasmparser::validate(&signed).unwrap();
    }

    #[test]
    fn legacy_jwt_section_is_read_and_stripped() {
        let with_legacy = wat::parse_str(
            r#"(module (@custom "jwt" "t.o.k") (func (export "f")) (@custom "other" "keep"))"#,
        )
        .unwrap();
        let parts = split(&with_legacy).unwrap();
        assert_eq!(parts.token.as_deref(), Some("t.o.k"));
        let expected =
            wat::parse_str(r#"(module (func (export "f")) (@custom "other" "keep"))"#).unwrap();
        assert_eq!(parts.stripped, expected);
    }

    #[test]
    fn refuses_garbage() {
        assert!(split(b"\0asm\x01\0\0\0\x99").is_err());
        assert!(split(b"hello").is_err());
    }

    #[test]
    fn components_are_stripped_inside_nested_modules() {
        let component = wat::parse_str(
            r#"(component (core module (@custom "jwt" "inner") (func)) (@custom "wasmcloud_jwt" "outer"))"#,
        )
        .unwrap();
        let parts = split(&component).unwrap();
        assert!(parts.is_component);
        assert_eq!(parts.token.as_deref(), Some("outer"));
        let expected = wat::parse_str(r#"(component (core module (func)))"#).unwrap();
        assert_eq!(parts.stripped, expected);
    }
}
