//! `metav1.WatchEvent { type, object }`: one frame of a protobuf watch. The event itself is not
//! enveloped; its object (`RawExtension.raw`) is, and holds the watched kind, or a `Status`
//! for `ERROR`. See [`decode_event`].
//!
//! Upstream: `WatchEvent` in `k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto`.

use bytes::Bytes;
use prost::Message as _;

use super::envelope::{self, Envelope};
use super::{Error, Result};

/// `metav1.WatchEvent`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WatchEvent {
    #[prost(string, optional, tag = "1")]
    pub(crate) r#type: Option<String>,
    #[prost(message, optional, tag = "2")]
    pub(crate) object: Option<RawExtension>,
}

/// `runtime.RawExtension`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RawExtension {
    #[prost(bytes = "bytes", optional, tag = "1")]
    pub(crate) raw: Option<Bytes>,
}

/// What happened, as the watch protocol names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// The object was created (or listed by a watch without a resourceVersion).
    Added,
    /// The object changed.
    Modified,
    /// The object was deleted; the object is its last state.
    Deleted,
    /// No object changed; the object carries only the resourceVersion the watch has reached.
    Bookmark,
    /// The watch failed; the object is a `Status` (410 Gone: the resourceVersion is too old).
    Error,
}

impl EventType {
    fn parse(s: &str) -> Result<EventType> {
        Ok(match s {
            "ADDED" => EventType::Added,
            "MODIFIED" => EventType::Modified,
            "DELETED" => EventType::Deleted,
            "BOOKMARK" => EventType::Bookmark,
            "ERROR" => EventType::Error,
            other => return Err(Error::EventType(other.to_string())),
        })
    }

    /// The protocol's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
            EventType::Bookmark => "BOOKMARK",
            EventType::Error => "ERROR",
        }
    }
}

/// One decoded watch event: its type and its object's envelope, opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventType,
    /// The object, still to be checked for its type and decoded.
    pub object: Envelope,
}

/// Decodes one frame's `WatchEvent` and opens its object's envelope.
///
/// # Errors
/// When the frame is not a `WatchEvent`, the type is unknown, the object is missing, or its
/// envelope does not open.
pub fn decode_event(frame: Bytes) -> Result<Event> {
    let event = WatchEvent::decode(frame).map_err(|source| Error::Decode {
        what: "meta.v1.WatchEvent",
        source,
    })?;
    let kind = EventType::parse(event.r#type.as_deref().unwrap_or_default())?;
    let raw = event
        .object
        .and_then(|o| o.raw)
        .filter(|r| !r.is_empty())
        .ok_or(Error::NoObject(kind.as_str()))?;
    Ok(Event {
        kind,
        object: envelope::open(raw)?,
    })
}

/// Encodes a watch event around an already enveloped object, as the API server does: the
/// reverse of [`decode_event`], for fixtures and tests.
pub fn encode_event(kind: EventType, enveloped_object: &[u8]) -> Vec<u8> {
    WatchEvent {
        r#type: Some(kind.as_str().into()),
        object: Some(RawExtension {
            raw: Some(Bytes::copy_from_slice(enveloped_object)),
        }),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_decodes_to_its_type_and_opened_object() {
        let object = envelope::seal("v1", "Pod", b"\x0a\x00");
        for kind in [
            EventType::Added,
            EventType::Modified,
            EventType::Deleted,
            EventType::Bookmark,
            EventType::Error,
        ] {
            let ev = decode_event(Bytes::from(encode_event(kind, &object))).unwrap();
            assert_eq!(ev.kind, kind);
            assert!(ev.object.holds("v1", "Pod"));
            assert_eq!(ev.object.raw.as_ref(), b"\x0a\x00");
        }
    }

    #[test]
    fn an_unknown_event_type_is_refused_by_name() {
        let frame = WatchEvent {
            r#type: Some("RENAMED".into()),
            object: None,
        }
        .encode_to_vec();
        let err = decode_event(Bytes::from(frame)).unwrap_err();
        assert_eq!(err.to_string(), "unknown watch event type \"RENAMED\"");
    }

    #[test]
    fn an_event_without_its_object_is_refused() {
        let frame = WatchEvent {
            r#type: Some("ADDED".into()),
            object: Some(RawExtension { raw: None }),
        }
        .encode_to_vec();
        let err = decode_event(Bytes::from(frame)).unwrap_err();
        assert!(matches!(err, Error::NoObject("ADDED")), "{err}");
    }

    #[test]
    fn an_object_without_its_envelope_is_refused() {
        let frame = encode_event(EventType::Added, b"\x0a\x00");
        let err = decode_event(Bytes::from(frame)).unwrap_err();
        assert!(matches!(err, Error::Magic(_)), "{err}");
    }
}
