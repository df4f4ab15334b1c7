//! Decoding of bytes that come from outside, bounded before any work is done.
//!
//! [`msgpack`] and [`json`] refuse input above a size limit, then nesting deeper than
//! [`limits::DEPTH`] (the stack a recursive decoder uses grows with it: a small message
//! nested a few hundred levels deep would otherwise overflow a thread's stack and abort
//! the process). The [`field`] helpers go on string fields and maps with
//! `#[serde(deserialize_with = …)]` and refuse a value above its limit before copying
//! it. Every failure is a [`DecodeError`] that says what was refused.

use serde::Deserialize;

use crate::limits;

/// Input refused by a bounded decoder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Larger than the decoder accepts.
    #[error("{what} of {size} bytes is above the limit of {limit} bytes")]
    TooLarge {
        /// What was being decoded.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Nested deeper than [`limits::DEPTH`].
    #[error("{what} nests deeper than {limit} levels")]
    TooDeep {
        /// What was being decoded.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// Not a document of the expected shape (a field over its limit included).
    #[error("{what} is malformed: {reason}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// What the decoder said.
        reason: String,
    },
}

/// Reads a msgpack document of at most `limit` bytes and [`limits::DEPTH`] levels.
///
/// # Errors
/// See [`DecodeError`].
pub fn msgpack<'de, T: Deserialize<'de>>(
    what: &'static str,
    bytes: &'de [u8],
    limit: usize,
) -> Result<T, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            what,
            size: bytes.len(),
            limit,
        });
    }
    let mut decoder = rmp_serde::Deserializer::from_read_ref(bytes);
    // rmp-serde counts a level before it checks, so the limit is one above the depth.
    decoder.set_max_depth(limits::DEPTH + 1);
    T::deserialize(&mut decoder).map_err(|e| match e {
        rmp_serde::decode::Error::DepthLimitExceeded => DecodeError::TooDeep {
            what,
            limit: limits::DEPTH,
        },
        other => DecodeError::Malformed {
            what,
            reason: other.to_string(),
        },
    })
}

/// Reads a JSON document of at most `limit` bytes and [`limits::DEPTH`] levels.
///
/// # Errors
/// See [`DecodeError`].
pub fn json<'de, T: Deserialize<'de>>(
    what: &'static str,
    bytes: &'de [u8],
    limit: usize,
) -> Result<T, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            what,
            size: bytes.len(),
            limit,
        });
    }
    if json_nests_deeper_than(bytes, limits::DEPTH) {
        return Err(DecodeError::TooDeep {
            what,
            limit: limits::DEPTH,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed {
        what,
        reason: e.to_string(),
    })
}

/// Whether the arrays and objects of `bytes` nest deeper than `limit`, found by one
/// pass that skips strings and allocates nothing. Malformed input is left to the
/// parser, which refuses it.
#[must_use]
pub fn json_nests_deeper_than(bytes: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in bytes {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// `deserialize_with` helpers that refuse a field above its limit before copying it.
pub mod field {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::Deserializer;
    use serde::de::{self, DeserializeSeed, MapAccess, Visitor};

    use crate::limits;

    /// A string of at most `max` bytes, read without copying a longer one.
    struct Bounded {
        what: &'static str,
        max: usize,
    }

    impl Bounded {
        fn too_long<E: de::Error>(&self, len: usize) -> E {
            E::custom(format!(
                "{} is {len} bytes long, above the limit of {}",
                self.what, self.max
            ))
        }

        fn check<E: de::Error>(&self, value: &str) -> Result<String, E> {
            if value.len() > self.max {
                Err(self.too_long(value.len()))
            } else {
                Ok(value.to_owned())
            }
        }
    }

    impl Visitor<'_> for Bounded {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{} as a string of at most {} bytes", self.what, self.max)
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<String, E> {
            self.check(value)
        }

        fn visit_bytes<E: de::Error>(self, value: &[u8]) -> Result<String, E> {
            if value.len() > self.max {
                return Err(self.too_long(value.len()));
            }
            let text = std::str::from_utf8(value)
                .map_err(|_| E::invalid_value(de::Unexpected::Bytes(value), &self))?;
            self.check(text)
        }
    }

    impl<'de> DeserializeSeed<'de> for Bounded {
        type Value = String;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
            d.deserialize_string(self)
        }
    }

    /// A bounded string map (see [`string_map`]) as a seed.
    struct Entries<M>(PhantomData<M>);

    impl<'de, M: FromIterator<(String, String)>> DeserializeSeed<'de> for Entries<M> {
        type Value = M;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<M, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de, M: FromIterator<(String, String)>> Visitor<'de> for Entries<M> {
        type Value = M;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a map of at most {} string entries", limits::MAP_ENTRIES)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<M, A::Error> {
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(16));
            while let Some(key) = map.next_key_seed(Bounded {
                what: "a map key",
                max: limits::MAP_KEY,
            })? {
                if entries.len() == limits::MAP_ENTRIES {
                    return Err(de::Error::custom(format!(
                        "a map has more than {} entries",
                        limits::MAP_ENTRIES
                    )));
                }
                let value = map.next_value_seed(Bounded {
                    what: "a map value",
                    max: limits::MAP_VALUE,
                })?;
                entries.push((key, value));
            }
            Ok(entries.into_iter().collect())
        }

        fn visit_unit<E: de::Error>(self) -> Result<M, E> {
            Ok(std::iter::empty().collect())
        }
    }

    /// What `seed` reads, or nothing for a null.
    struct Optional<S>(S);

    impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Optional<S> {
        type Value = Option<S::Value>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a value or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            self.0.deserialize(d).map(Some)
        }
    }

    /// A string of at most `max` bytes; `what` names it in the error.
    ///
    /// # Errors
    /// When the value is not a string or is longer.
    pub fn string<'de, D: Deserializer<'de>>(
        d: D,
        what: &'static str,
        max: usize,
    ) -> Result<String, D::Error> {
        Bounded { what, max }.deserialize(d)
    }

    fn optional<'de, D: Deserializer<'de>>(
        d: D,
        what: &'static str,
        max: usize,
    ) -> Result<Option<String>, D::Error> {
        d.deserialize_option(Optional(Bounded { what, max }))
    }

    /// Declares the `deserialize_with` functions of bounded strings: plain, optional
    /// (`Option<String>`, with `#[serde(default)]`) and nullable (a null read as empty).
    macro_rules! bounded {
        ($($kind:ident $name:ident: $what:literal, $limit:path;)*) => {$(
            bounded!(@ $kind $name, $what, $limit);
        )*};
        (@ plain $name:ident, $what:literal, $limit:path) => {
            #[doc = concat!($what, " of at most [`", stringify!($limit), "`] bytes.")]
            ///
            /// # Errors
            /// When the value is not a string or is longer.
            pub fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
                string(d, $what, $limit)
            }
        };
        (@ optional $name:ident, $what:literal, $limit:path) => {
            #[doc = concat!("An optional ", $what, " of at most [`", stringify!($limit), "`] bytes; use with `#[serde(default)]`.")]
            ///
            /// # Errors
            /// When the value is not a string or null, or is longer.
            pub fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
                optional(d, $what, $limit)
            }
        };
        (@ nullable $name:ident, $what:literal, $limit:path) => {
            #[doc = concat!($what, " of at most [`", stringify!($limit), "`] bytes, a null read as empty.")]
            ///
            /// # Errors
            /// When the value is not a string or null, or is longer.
            pub fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
                Ok(optional(d, $what, $limit)?.unwrap_or_default())
            }
        };
    }

    bounded! {
        plain id: "an id", limits::ID;
        plain key: "a public key", limits::KEY;
        plain contract_id: "a contract id", limits::CONTRACT_ID;
        plain link_name: "a link name", limits::LINK_NAME;
        plain operation: "an operation", limits::OPERATION;
        plain reference: "a reference", limits::REFERENCE;
        plain invocation_claims: "the invocation claims", limits::INVOCATION_CLAIMS;
        optional opt_text: "text field", limits::TEXT;
        optional opt_reference: "reference", limits::REFERENCE;
        optional opt_error: "error message", limits::ERROR_TEXT;
        optional opt_config: "configuration string", limits::CONFIG;
        nullable nullable_text: "a text field", limits::TEXT;
        nullable nullable_list: "a list field", limits::MAP_VALUE;
        nullable nullable_contract_id: "a contract id", limits::CONTRACT_ID;
    }

    /// A map of strings with at most [`limits::MAP_ENTRIES`] entries, keys of at most
    /// [`limits::MAP_KEY`] and values of at most [`limits::MAP_VALUE`] bytes, into any
    /// map type (`HashMap`, `BTreeMap`).
    ///
    /// # Errors
    /// When the value is not such a map.
    pub fn string_map<'de, D, M>(d: D) -> Result<M, D::Error>
    where
        D: Deserializer<'de>,
        M: FromIterator<(String, String)>,
    {
        Entries(PhantomData).deserialize(d)
    }

    /// An optional [`string_map`]; use with `#[serde(default)]`.
    ///
    /// # Errors
    /// When the value is not such a map or null.
    pub fn opt_string_map<'de, D, M>(d: D) -> Result<Option<M>, D::Error>
    where
        D: Deserializer<'de>,
        M: FromIterator<(String, String)>,
    {
        d.deserialize_option(Optional(Entries(PhantomData)))
    }
}

#[cfg(test)]
mod tests;
