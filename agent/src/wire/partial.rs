//! `meta.k8s.io/v1/PartialObjectMetadata`: an object's metadata and nothing else, what a
//! metadata-only watch receives (see `resources::WatchShape::metadata_only`), read into the
//! kind's lean type.
//!
//! A list or watch asks for it in the `Accept` header ([`LIST_CONTENT_TYPE`],
//! [`WATCH_CONTENT_TYPE`]); the API server then envelopes `PartialObjectMetadataList` and
//! `PartialObjectMetadata` instead of the kind's own types. Its metadata is field 1, as in
//! every kind (`k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto`), and is read by the
//! lean [`ObjectMeta`](super::meta::ObjectMeta). See [`decode`].

use bytes::Bytes;
use prost::Message as _;

use super::Error;
use super::meta::MetadataOnly;
use crate::decode::{Decoded, Object};

/// The envelopes' apiVersion.
pub const API_VERSION: &str = "meta.k8s.io/v1";
/// The envelope's kind of one object (a watch event's).
pub const KIND: &str = "PartialObjectMetadata";
/// The envelope's kind of a list.
pub const LIST_KIND: &str = "PartialObjectMetadataList";

/// `Accept` for a metadata-only list: protobuf, transformed to `PartialObjectMetadataList`.
///
/// NOTE: client-go's metadata client adds `application/json;as=…` and `application/json` as
/// fallbacks because it decodes either; this path reads protobuf only, so a server that cannot
/// send it answers 406, a clear error, rather than a body read as the wrong thing.
pub const LIST_CONTENT_TYPE: &str =
    "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
/// `Accept` for a metadata-only watch: frames of `WatchEvent`s, each object a
/// `PartialObjectMetadata` (the transform names the object, as client-go's metadata client
/// does for a watch).
pub const WATCH_CONTENT_TYPE: &str =
    "application/vnd.kubernetes.protobuf;stream=watch;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/// Decodes one `PartialObjectMetadata` (a list item, or an envelope's `raw`) into `K`, never
/// failing: bytes whose metadata does not decode become [`Decoded::Malformed`] with empty
/// metadata (no uid), which the watch counts and skips.
///
/// # Invariants
/// The object is what serde gives for a metadata-only JSON body of `K`: `K` read from an
/// object without any field, then the metadata. So both encodings of a metadata-only watch
/// render the same rows, and the shape's fill-in completes either alike.
pub fn decode<K: Object>(raw: Bytes) -> Decoded<K> {
    let metadata = MetadataOnly::decode(raw)
        .map_err(|source| Error::Decode {
            what: "meta.k8s.io/v1/PartialObjectMetadata",
            source,
        })
        .and_then(|m| m.metadata.unwrap_or_default().into_meta());
    let metadata = match metadata {
        Ok(metadata) => metadata,
        Err(err) => {
            return Decoded::Malformed {
                metadata: Default::default(),
                error: err.to_string(),
            };
        }
    };
    // Every lean type reads `{}` (each field has a default), as it reads a body of metadata
    // only without this one.
    match serde_json::from_str::<K>("{}") {
        Ok(mut obj) => {
            *obj.meta_mut() = metadata;
            Decoded::Object(obj)
        }
        Err(err) => Decoded::Malformed {
            metadata,
            error: format!("{} without a body: {err}", K::KIND.resource),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{configmap, secret};
    use crate::wire::meta::ObjectMeta;

    fn partial(name: &str, uid: &str) -> Bytes {
        MetadataOnly {
            metadata: Some(ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(uid.into()),
                resource_version: Some("7".into()),
                labels: [("app".to_string(), "shop".to_string())].into(),
                ..Default::default()
            }),
        }
        .encode_to_vec()
        .into()
    }

    #[test]
    fn partial_metadata_reads_as_the_json_path_reads_a_metadata_only_body() {
        let Decoded::Object(from_protobuf) = decode::<secret::Secret>(partial("s", "u1")) else {
            panic!("does not decode");
        };
        let from_json: secret::Secret = serde_json::from_str(
            r#"{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":
               {"name":"s","namespace":"ns","uid":"u1","resourceVersion":"7","labels":{"app":"shop"}}}"#,
        )
        .unwrap();
        assert_eq!(format!("{from_protobuf:?}"), format!("{from_json:?}"));
        assert_eq!(from_protobuf.type_, None, "the type comes from the shape");
        let Decoded::Object(cm) = decode::<configmap::ConfigMap>(partial("c", "u2")) else {
            panic!("does not decode");
        };
        assert_eq!(cm.metadata.uid.as_deref(), Some("u2"));
    }

    #[test]
    fn bytes_that_are_not_metadata_are_malformed_without_a_uid() {
        match decode::<configmap::ConfigMap>(Bytes::from_static(&[0x0a, 0x05, 0x01])) {
            Decoded::Malformed { metadata, error } => {
                assert_eq!(metadata.uid, None);
                assert!(error.contains("PartialObjectMetadata"), "{error}");
            }
            Decoded::Object(o) => panic!("decoded {o:?}"),
        }
    }
}
