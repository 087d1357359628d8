//! A list body (`PodList`, `NodeList`, …): `ListMeta` and the items, each item kept as its own
//! bytes so that [`super::decode`] reads each on its own and one bad item costs only itself.
//!
//! Every `*List` message of the API has `metadata = 1` and `items = 2` (a repeated embedded
//! message is, on the wire, a repeated `bytes`), so one message reads the lists of every kind.
//! See [`decode_list`].
//!
//! Upstream: `ListMeta` in `k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto`.

use bytes::Bytes;
use prost::Message as _;

use super::{Error, Result};

/// Any `*List` message, items undecoded.
#[derive(Clone, PartialEq, prost::Message)]
struct List {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ListMeta>,
    #[prost(bytes = "bytes", repeated, tag = "2")]
    items: Vec<Bytes>,
}

/// `metav1.ListMeta`, lean.
#[derive(Clone, PartialEq, prost::Message)]
struct ListMeta {
    #[prost(string, optional, tag = "2")]
    resource_version: Option<String>,
    #[prost(string, optional, tag = "3")]
    r#continue: Option<String>,
}

/// One page of a list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// The list's resourceVersion (the watch starts from the last page's); `None` when empty.
    pub resource_version: Option<String>,
    /// The token for the next page; `None` on the last page.
    pub continue_token: Option<String>,
    /// Each item's message bytes, in list order, sharing the body's buffer.
    pub items: Vec<Bytes>,
}

/// Reads a list message (an envelope's `raw`) without decoding its items.
///
/// # Errors
/// [`Error::Decode`] when the bytes are not a list.
pub fn decode_list(raw: Bytes) -> Result<Page> {
    let list = List::decode(raw).map_err(|source| Error::Decode {
        what: "list",
        source,
    })?;
    let meta = list.metadata.unwrap_or_default();
    Ok(Page {
        resource_version: meta.resource_version.filter(|s| !s.is_empty()),
        continue_token: meta.r#continue.filter(|s| !s.is_empty()),
        items: list.items,
    })
}

/// Encodes a list message, as the API server does: the reverse of [`decode_list`], for
/// fixtures and tests.
pub fn encode_list(resource_version: &str, continue_token: &str, items: &[Vec<u8>]) -> Vec<u8> {
    List {
        metadata: Some(ListMeta {
            resource_version: Some(resource_version.into()),
            r#continue: Some(continue_token.into()),
        }),
        items: items.iter().map(|i| Bytes::copy_from_slice(i)).collect(),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Decoded, Object};
    use crate::wire::{decode, meta, pod};

    fn pod_message(name: &str, uid: &str, phase: &str) -> Vec<u8> {
        pod::Pod {
            metadata: Some(meta::ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(uid.into()),
                resource_version: Some("5".into()),
                ..Default::default()
            }),
            status: Some(pod::PodStatus {
                phase: Some(phase.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn a_page_keeps_its_resource_version_continue_token_and_items_in_order() {
        let items = [
            pod_message("a", "u1", "Running"),
            pod_message("b", "u2", ""),
        ];
        let page = decode_list(Bytes::from(encode_list("42", "next", &items))).unwrap();
        assert_eq!(page.resource_version.as_deref(), Some("42"));
        assert_eq!(page.continue_token.as_deref(), Some("next"));
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.items[1].as_ref(), items[1].as_slice());
        // The last page: an empty continue token is none.
        let last = decode_list(Bytes::from(encode_list("43", "", &[]))).unwrap();
        assert_eq!(last.continue_token, None);
        assert!(last.items.is_empty());
    }

    #[test]
    fn one_malformed_item_costs_only_itself_and_keeps_its_metadata() {
        let mut bad = pod_message("bad", "u2", "Running");
        // Field 3 (status) sent as a varint instead of a message: the body does not decode,
        // the metadata (field 1, first on the wire) still does.
        bad.extend_from_slice(&[0x18, 0x01]);
        let mut garbage = vec![0x0a, 0x7f]; // metadata announcing 127 bytes, then nothing
        garbage.extend_from_slice(b"short");
        let items = [
            pod_message("good", "u1", "Running"),
            bad,
            garbage,
            pod_message("late", "u3", "Pending"),
        ];
        let page = decode_list(Bytes::from(encode_list("7", "", &items))).unwrap();
        let decoded: Vec<Decoded<crate::resources::pod::Pod>> =
            page.items.into_iter().map(decode::<pod::Pod>).collect();
        assert_eq!(decoded.len(), 4);
        match &decoded[0] {
            Decoded::Object(p) => {
                assert_eq!(p.metadata.name.as_deref(), Some("good"));
                assert_eq!(p.status.phase.as_deref(), Some("Running"));
            }
            other => panic!("expected an object, got {other:?}"),
        }
        match &decoded[1] {
            Decoded::Malformed { metadata, error } => {
                assert_eq!(metadata.uid.as_deref(), Some("u2"));
                assert_eq!(metadata.name.as_deref(), Some("bad"));
                assert!(error.contains("v1/Pod"), "{error}");
            }
            other => panic!("expected malformed, got {other:?}"),
        }
        // Not even the metadata decodes: no uid, so the watch counts and skips it.
        match &decoded[2] {
            Decoded::Malformed { metadata, .. } => assert_eq!(metadata.uid, None),
            other => panic!("expected malformed, got {other:?}"),
        }
        assert!(matches!(&decoded[3], Decoded::Object(p) if p.meta().uid.as_deref() == Some("u3")));
    }

    #[test]
    fn bytes_that_are_not_a_list_are_a_decode_error() {
        let err = decode_list(Bytes::from_static(&[0x0a, 0x05, 0x01])).unwrap_err();
        assert!(matches!(err, Error::Decode { what: "list", .. }), "{err}");
    }
}
