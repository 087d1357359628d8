//! The envelope around every whole protobuf object: the magic `k8s\0`, then a
//! `runtime.Unknown { typeMeta { apiVersion, kind }, raw, contentEncoding, contentType }` whose
//! `raw` is the object's own message.
//!
//! A list body, the object of a watch event and an error `Status` are enveloped; the items of a
//! list and the watch event itself are not. Opening an envelope checks the magic and the
//! encoding; the caller then says which types it takes, and anything else is
//! [`Error::UnexpectedType`] (an API server answering `Status` where an object was expected is
//! the common case, handled by the caller before). See [`open`].
//!
//! Upstream: `k8s.io/apimachinery/pkg/runtime/serializer/protobuf` (`protoEncodingPrefix`) and
//! `runtime.Unknown` in `k8s.io/apimachinery/pkg/runtime/generated.proto`.

use bytes::Bytes;
use prost::Message as _;

use super::{Error, Result};

/// The four bytes every enveloped payload starts with.
pub const MAGIC: [u8; 4] = *b"k8s\0";

/// `runtime.Unknown`.
#[derive(Clone, PartialEq, prost::Message)]
struct Unknown {
    #[prost(message, optional, tag = "1")]
    type_meta: Option<TypeMeta>,
    #[prost(bytes = "bytes", optional, tag = "2")]
    raw: Option<Bytes>,
    #[prost(string, optional, tag = "3")]
    content_encoding: Option<String>,
    #[prost(string, optional, tag = "4")]
    content_type: Option<String>,
}

/// `runtime.TypeMeta`.
#[derive(Clone, PartialEq, prost::Message)]
struct TypeMeta {
    #[prost(string, optional, tag = "1")]
    api_version: Option<String>,
    #[prost(string, optional, tag = "2")]
    kind: Option<String>,
}

/// An opened envelope: what it says it holds, and the held message's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// `v1`, `apps/v1`, ….
    pub api_version: String,
    /// `Pod`, `PodList`, `Status`, ….
    pub kind: String,
    /// The message (not enveloped again).
    pub raw: Bytes,
}

impl Envelope {
    /// Whether it holds `kind` of `api_version`.
    pub fn holds(&self, api_version: &str, kind: &str) -> bool {
        self.kind == kind && self.api_version == api_version
    }

    /// The message's bytes, if it holds `kind` of `api_version`.
    ///
    /// # Errors
    /// [`Error::UnexpectedType`] naming both types otherwise.
    pub fn into_raw(self, api_version: &str, kind: &str) -> Result<Bytes> {
        if self.holds(api_version, kind) {
            Ok(self.raw)
        } else {
            Err(Error::UnexpectedType {
                expected: format!("{api_version}/{kind}"),
                found: format!("{}/{}", self.api_version, self.kind),
            })
        }
    }
}

/// Opens an enveloped payload without copying its message.
///
/// # Errors
/// [`Error::Magic`] when the payload does not start with `k8s\0` (JSON, an HTML error page),
/// [`Error::Decode`] when the `Unknown` does not decode, [`Error::ContentEncoding`] when the
/// message is compressed inside the envelope (no API server does this today).
pub fn open(payload: Bytes) -> Result<Envelope> {
    if !payload.starts_with(&MAGIC) {
        return Err(Error::Magic(payload.iter().take(8).copied().collect()));
    }
    let unknown =
        Unknown::decode(payload.slice(MAGIC.len()..)).map_err(|source| Error::Decode {
            what: "runtime.Unknown",
            source,
        })?;
    if let Some(encoding) = unknown.content_encoding.filter(|e| !e.is_empty()) {
        return Err(Error::ContentEncoding(encoding));
    }
    let type_meta = unknown.type_meta.unwrap_or_default();
    Ok(Envelope {
        api_version: type_meta.api_version.unwrap_or_default(),
        kind: type_meta.kind.unwrap_or_default(),
        raw: unknown.raw.unwrap_or_default(),
    })
}

/// Envelopes `raw` as the API server does: the reverse of [`open`], for fixtures and tests.
pub fn seal(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(Bytes::copy_from_slice(raw)),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = MAGIC.to_vec();
    unknown.encode(&mut out).expect("a Vec grows as needed");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_payload_opens_to_its_type_and_bytes() {
        let sealed = seal("v1", "Pod", b"\x0a\x03abc");
        let env = open(Bytes::from(sealed)).unwrap();
        assert_eq!(env.api_version, "v1");
        assert_eq!(env.kind, "Pod");
        assert_eq!(env.into_raw("v1", "Pod").unwrap().as_ref(), b"\x0a\x03abc");
    }

    #[test]
    fn a_payload_without_the_magic_is_refused_showing_its_first_bytes() {
        let err = open(Bytes::from_static(br#"{"kind":"PodList"}"#)).unwrap_err();
        assert!(matches!(err, Error::Magic(_)), "{err}");
        assert!(err.to_string().contains("k8s\\0"), "{err}");
        assert!(err.to_string().contains("7b"), "shows the '{{': {err}");
        // A near miss: the right letters, no NUL.
        assert!(matches!(
            open(Bytes::from_static(b"k8s\x01\x0a\x00")),
            Err(Error::Magic(_))
        ));
        assert!(matches!(open(Bytes::new()), Err(Error::Magic(_))));
    }

    #[test]
    fn an_unknown_type_in_the_envelope_is_a_clear_error() {
        let env = open(Bytes::from(seal("apps/v1", "Deployment", b""))).unwrap();
        let err = env.into_raw("v1", "Pod").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the envelope holds apps/v1/Deployment, expected v1/Pod"
        );
        // The same kind in another version is another type.
        let env = open(Bytes::from(seal("v2", "Pod", b""))).unwrap();
        assert!(matches!(
            env.into_raw("v1", "Pod"),
            Err(Error::UnexpectedType { .. })
        ));
    }

    #[test]
    fn a_compressed_message_inside_the_envelope_is_refused() {
        let unknown = Unknown {
            type_meta: Some(TypeMeta {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
            }),
            raw: Some(Bytes::from_static(b"\x1f\x8b")),
            content_encoding: Some("gzip".into()),
            content_type: None,
        };
        let mut payload = MAGIC.to_vec();
        unknown.encode(&mut payload).unwrap();
        let err = open(Bytes::from(payload)).unwrap_err();
        assert!(
            matches!(&err, Error::ContentEncoding(e) if e == "gzip"),
            "{err}"
        );
    }

    #[test]
    fn a_truncated_envelope_is_a_decode_error() {
        let mut sealed = seal("v1", "Pod", b"0123456789");
        sealed.truncate(sealed.len() - 3);
        let err = open(Bytes::from(sealed)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Decode {
                    what: "runtime.Unknown",
                    ..
                }
            ),
            "{err}"
        );
    }
}
