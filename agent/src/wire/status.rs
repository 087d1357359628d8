//! `metav1.Status`, lean: what the API server sends instead of an object when something failed
//! (an error response, or a watch's `ERROR` event; 410 Gone is the one that matters most). It
//! becomes kube's [`kube::core::Status`] so errors look the same on both wires. See
//! [`decode_status`].

use bytes::Bytes;
use kube::core::{Status, response::StatusSummary};
use prost::Message as _;

use super::{Error, Result};

/// `metav1.Status`, lean.
#[derive(Clone, PartialEq, prost::Message)]
struct StatusMessage {
    #[prost(string, optional, tag = "2")]
    status: Option<String>,
    #[prost(string, optional, tag = "3")]
    message: Option<String>,
    #[prost(string, optional, tag = "4")]
    reason: Option<String>,
    #[prost(int32, optional, tag = "6")]
    code: Option<i32>,
}

/// `Status` as the envelope's kind spells it.
pub const KIND: &str = "Status";
/// `Status`'s apiVersion in an envelope.
pub const API_VERSION: &str = "v1";

/// Decodes a `Status` message (an envelope's `raw`).
///
/// # Errors
/// [`Error::Decode`] when the bytes are not a `Status`.
pub fn decode_status(raw: Bytes) -> Result<Status> {
    let m = StatusMessage::decode(raw).map_err(|source| Error::Decode {
        what: "meta.v1.Status",
        source,
    })?;
    Ok(Status {
        status: match m.status.as_deref() {
            Some("Success") => Some(StatusSummary::Success),
            Some("Failure") => Some(StatusSummary::Failure),
            _ => None,
        },
        code: m
            .code
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or_default(),
        message: m.message.unwrap_or_default(),
        reason: m.reason.unwrap_or_default(),
        metadata: None,
        details: None,
    })
}

/// Encodes a failure `Status` (not enveloped), for fixtures and tests.
pub fn encode_status(code: u16, reason: &str, message: &str) -> Vec<u8> {
    StatusMessage {
        status: Some("Failure".into()),
        message: Some(message.into()),
        reason: Some(reason.into()),
        code: Some(i32::from(code)),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gone_status_reads_as_kube_reads_it_from_json() {
        let raw = encode_status(410, "Expired", "too old resource version: 1 (5)");
        let status = decode_status(Bytes::from(raw)).unwrap();
        assert_eq!(status.code, 410);
        assert_eq!(status.reason, "Expired");
        assert!(status.is_failure());
        assert_eq!(status.message, "too old resource version: 1 (5)");
    }
}
