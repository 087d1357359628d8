//! The Kubernetes protobuf wire format, read with lean messages: framing, envelopes, lists,
//! watch events, and the per-kind messages that turn into the same lean types the JSON path
//! decodes into.
//!
//! A protobuf response from the API server is layered, and each layer has its own file:
//! - [`frame`]: a watch stream is a sequence of frames, each a 4-byte big-endian length and
//!   that many bytes of one `metav1.WatchEvent` (no envelope around the event itself);
//! - [`envelope`]: every whole object (a list body, the object inside a watch event, an error
//!   `Status`) starts with the magic `k8s\0` and is wrapped in a `runtime.Unknown` naming its
//!   apiVersion and kind;
//! - [`event`]: `WatchEvent { type, object }`, the object enveloped;
//! - [`list`]: `ListMeta` and the items, each kept as its own bytes so that each is decoded on
//!   its own and one bad item costs only itself;
//! - [`meta`] and [`status`]: `ObjectMeta`, `Time`, `MicroTime`, `Quantity`, `IntOrString`,
//!   `Status`;
//! - [`partial`]: `PartialObjectMetadata`, the object of a metadata-only watch, read into any
//!   kind's lean type;
//! - one file per kind ([`pod`], [`node`], [`deployment`], …, named as its `resources` file):
//!   the fields the kind's families read, at the upstream field numbers, converted into the
//!   kind's lean type; what two kinds share sits in [`admission`] and [`rbac`].
//!
//! Messages are hand-written `#[derive(prost::Message)]` structs declaring only the fields the
//! families read; prost skips every other field without building it (`managedFields`, `env`,
//! probes, images). Field numbers come from upstream's `generated.proto` files
//! (`k8s.io/api/core/v1`, `k8s.io/apimachinery/pkg/apis/meta/v1`), which never renumber.
//!
//! Everything after decode is shared with the JSON path: a message converts into the very
//! lean type serde fills, with JSON's view of empty values (see [`meta`]), so the families see
//! no difference. This module is pure: no I/O, no clock; the list/watch loop that feeds it is
//! `watch::protobuf`. See [`decode`].

pub mod admission;
pub mod certificatesigningrequest;
pub mod clusterrole;
pub mod clusterrolebinding;
pub mod configmap;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod endpoint;
pub mod endpointslice;
pub mod envelope;
pub mod event;
pub mod frame;
pub mod horizontalpodautoscaler;
pub mod ingress;
pub mod ingressclass;
pub mod job;
pub mod lease;
pub mod limitrange;
pub mod list;
pub mod meta;
pub mod mutatingadmissionpolicy;
pub mod mutatingadmissionpolicybinding;
pub mod mutatingwebhookconfiguration;
pub mod namespace;
pub mod networkpolicy;
pub mod node;
pub mod partial;
pub mod persistentvolume;
pub mod persistentvolumeclaim;
pub mod pod;
pub mod poddisruptionbudget;
pub mod rbac;
pub mod replicaset;
pub mod replicationcontroller;
pub mod resourcequota;
pub mod role;
pub mod rolebinding;
pub mod secret;
pub mod service;
pub mod serviceaccount;
pub mod statefulset;
pub mod status;
pub mod storageclass;
pub mod validatingadmissionpolicy;
pub mod validatingadmissionpolicybinding;
pub mod validatingwebhookconfiguration;
pub mod volumeattachment;

use bytes::Bytes;

use crate::decode::{Decoded, Object};

/// `Accept` for a list or a get: one protobuf object, enveloped.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";
/// `Accept` for a watch: length-delimited frames of `WatchEvent`s.
pub const WATCH_CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf;stream=watch";

/// Why bytes from the API server could not be read as protobuf.
///
/// A frame or envelope error means the response as a whole is unusable; a [`Error::Decode`]
/// of one object costs only that object (see [`decode`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A watch frame announced zero bytes: no `WatchEvent` is empty, so the stream is not
    /// length-delimited protobuf (or lost its framing).
    #[error("a watch frame announces 0 bytes; the stream is not a protobuf watch")]
    EmptyFrame,
    /// A watch frame announced more than the frame limit.
    #[error("a watch frame announces {len} bytes, more than the {max}-byte limit")]
    FrameTooLarge {
        /// The announced length.
        len: usize,
        /// [`frame::MAX_FRAME`].
        max: usize,
    },
    /// The API server answered a protobuf request with another content type (a kind it cannot
    /// send as protobuf, such as a custom resource, answers JSON).
    #[error("the API server answered {0:?}, not protobuf")]
    ContentType(String),
    /// The payload does not start with the `k8s\0` magic.
    #[error(
        "not a Kubernetes protobuf payload: it does not start with k8s\\0 (starts with {0:02x?})"
    )]
    Magic(Vec<u8>),
    /// The envelope holds another type than the one expected.
    #[error("the envelope holds {found}, expected {expected}")]
    UnexpectedType {
        /// What the reader can take, e.g. `v1/Pod`.
        expected: String,
        /// `apiVersion/kind` as the envelope names it.
        found: String,
    },
    /// The envelope's raw bytes are encoded (compressed) in a way we do not read.
    #[error("the envelope's contentEncoding {0:?} is not supported")]
    ContentEncoding(String),
    /// A watch event of a type the protocol does not define.
    #[error("unknown watch event type {0:?}")]
    EventType(String),
    /// A watch event without its object.
    #[error("a {0} watch event carries no object")]
    NoObject(&'static str),
    /// The bytes are not the message they should be.
    #[error("decoding {what}: {source}")]
    Decode {
        /// The message, e.g. `v1/Pod`.
        what: &'static str,
        /// prost's description (field path and cause).
        #[source]
        source: prost::DecodeError,
    },
    /// The object's message does not convert into the kind's lean type (its bytes are not the
    /// message, or a field's value has no representation); the text says why.
    #[error("the object does not decode: {0}")]
    Malformed(String),
    /// The kind is read as JSON only: it has no lean message.
    #[error("{0} has no lean protobuf message")]
    NoMessage(&'static str),
    /// A field decoded but its value cannot be represented (a time out of range).
    #[error("{what}: {value} is out of range")]
    OutOfRange {
        /// The field.
        what: &'static str,
        /// Its value.
        value: i64,
    },
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A kind's lean protobuf message: the fields its families read, at upstream's field numbers,
/// and the conversion into the lean type the JSON path fills.
///
/// Adding a kind to the protobuf path is one implementation of this trait plus
/// `protobuf: Some(crate::wire::decode::<Message>)` in the kind's `Kind` descriptor.
///
/// # Invariants
/// [`Message::into_object`] MUST give what serde gives for the same object's JSON: the same
/// `None`s, empty strings and maps (see [`meta`] for how Go's `omitempty` is mirrored), so
/// every family renders the same bytes on both paths.
pub trait Message: prost::Message + Default + Sized {
    /// The lean type.
    type Object: Object;
    /// The message's name in errors, e.g. `v1/Pod`.
    const NAME: &'static str;
    /// Converts into the lean type.
    ///
    /// # Errors
    /// When a field's value has no representation in the lean type (a time out of range).
    fn into_object(self) -> Result<Self::Object>;
}

/// Decodes one object's message (the bytes of a list item, or an envelope's `raw`) into its
/// lean type, never failing: a body that does not decode becomes [`Decoded::Malformed`] with
/// the metadata that does, and bytes whose metadata does not decode either become a
/// `Malformed` with empty metadata (no uid), which the watch counts and skips.
pub fn decode<M: Message>(raw: Bytes) -> Decoded<M::Object> {
    let error = match M::decode(raw.clone()) {
        Ok(msg) => match msg.into_object() {
            Ok(obj) => return Decoded::Object(obj),
            Err(err) => err,
        },
        Err(source) => Error::Decode {
            what: M::NAME,
            source,
        },
    };
    // Every kind's metadata is field 1; decoding only it skips the body that failed.
    let metadata = <meta::MetadataOnly as prost::Message>::decode(raw)
        .ok()
        .and_then(|m| m.metadata.unwrap_or_default().into_meta().ok())
        .unwrap_or_default();
    Decoded::Malformed {
        metadata,
        error: error.to_string(),
    }
}

/// The `apiVersion` of kind `K` as envelopes spell it: `v1`, `apps/v1`.
pub fn api_version<K: Object>() -> String {
    if K::KIND.api.group.is_empty() {
        K::KIND.api.version.to_string()
    } else {
        format!("{}/{}", K::KIND.api.group, K::KIND.api.version)
    }
}
