//! `wasmcloud:keyvalue`: the operations of `wasmcloud-interface-keyvalue`.

use serde::{Deserialize, Serialize};

/// `KeyValue.Increment` argument; the answer is the new value (i32).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncrementRequest {
    /// Key.
    #[serde(default)]
    pub key: String,
    /// Amount to add.
    #[serde(default)]
    pub value: i32,
}

/// `KeyValue.Get` answer (the argument is the key, a string).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetResponse {
    /// Value, empty when absent.
    #[serde(default)]
    pub value: String,
    /// Whether the key exists.
    #[serde(default)]
    pub exists: bool,
}

/// `KeyValue.Set` argument; no answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRequest {
    /// Key.
    #[serde(default)]
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: String,
    /// Seconds to live; 0 for ever.
    #[serde(default)]
    pub expires: u32,
}

/// `KeyValue.ListAdd` argument; the answer is the new length (u32).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAddRequest {
    /// List.
    #[serde(rename = "listName", default)]
    pub list_name: String,
    /// Value to append.
    #[serde(default)]
    pub value: String,
}

/// `KeyValue.ListDel` argument; the answer is whether it was there (bool).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListDelRequest {
    /// List.
    #[serde(rename = "listName", default)]
    pub list_name: String,
    /// Value to remove.
    #[serde(default)]
    pub value: String,
}

/// `KeyValue.ListRange` argument; the answer is a list of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRangeRequest {
    /// List.
    #[serde(rename = "listName", default)]
    pub list_name: String,
    /// First index.
    #[serde(default)]
    pub start: i32,
    /// Last index, inclusive.
    #[serde(default)]
    pub stop: i32,
}

/// `KeyValue.SetAdd` argument; the answer is the number added (u32).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAddRequest {
    /// Set.
    #[serde(rename = "setName", default)]
    pub set_name: String,
    /// Member.
    #[serde(default)]
    pub value: String,
}

/// `KeyValue.SetDel` argument; the answer is the number removed (u32).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetDelRequest {
    /// Set.
    #[serde(rename = "setName", default)]
    pub set_name: String,
    /// Member.
    #[serde(default)]
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interfaces::encode;

    #[test]
    fn increment_encodes_like_the_interface_crate() {
        // Measured with wasmcloud-interface-keyvalue 0.10 (see the dependency notes).
        let bytes = encode(&IncrementRequest {
            key: "counter:x".into(),
            value: -3,
        });
        assert_eq!(bytes.len(), 22);
        assert_eq!(&bytes[..5], b"\x82\xa3key");
        assert_eq!(bytes[bytes.len() - 1], 0xfd);
        let big = encode(&IncrementRequest {
            key: "k".into(),
            value: 1_000_000,
        });
        assert!(big.ends_with(&[0xce, 0x00, 0x0f, 0x42, 0x40]));
        assert_eq!(encode(&5i32), vec![0x05]);
    }
}
