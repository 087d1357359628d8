//! Decoding watch payloads into the lean per-kind types of [`crate::resources`], without ever
//! letting one bad object fail a whole list or watch.
//!
//! A kind's lean type holds only the fields its families read; serde skips everything else
//! (`managedFields`, `data`, the last-applied annotation's parsing...) without building it.
//! [`Decoded`] wraps it so that an object whose body does not decode (a wrong type in a field)
//! still yields its metadata, which is what the store needs to count it and drop its rows. See
//! [`Decoded`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// A lean Kubernetes type the agent can watch: its API coordinates plus access to the metadata
/// the watcher tracks (uid, resourceVersion).
pub trait Object: DeserializeOwned + Clone + Debug + Send + Sync + 'static {
    /// API group, `""` for the core group.
    const GROUP: &'static str;
    /// API version within the group.
    const VERSION: &'static str;
    /// `kind` as the API spells it.
    const KIND: &'static str;
    /// The resource (plural) used in URLs.
    const PLURAL: &'static str;

    /// The object's metadata.
    fn meta(&self) -> &ObjectMeta;
    /// The object's metadata, mutably (the watcher never needs more).
    fn meta_mut(&mut self) -> &mut ObjectMeta;

    /// The watches that together cover the kind (with `--lean-watches`); one full watch
    /// unless the kind says otherwise.
    const WATCH_SHAPES: &'static [WatchShape<Self>] = &[WatchShape::FULL];

    /// Decodes one object's protobuf message (a list item, or a watch event's object out of
    /// its envelope) when the kind has a lean message (`protobuf = …` in [`impl_object!`]).
    /// `None`: the kind is listed and watched as JSON whatever `--api-encoding` says.
    const PROTOBUF: Option<fn(bytes::Bytes) -> Decoded<Self>> = None;
}

/// One of the watches that together cover a kind, and what of each object crosses the wire.
///
/// # Invariants
/// The field selectors of a kind's shapes select disjoint sets whose union is every object, so
/// each object arrives through exactly one of them.
pub struct WatchShape<K> {
    /// ANDed with the watch target's field selector; `""` for none.
    pub field_selector: &'static str,
    /// `Some`: only metadata is requested (`PartialObjectMetadata`), and this fills in what the
    /// selector fixed (e.g. a Secret's `type`). `None`: the whole object.
    pub metadata_only: Option<fn(&mut K)>,
}

impl<K> WatchShape<K> {
    /// The whole object, no extra selector.
    pub const FULL: WatchShape<K> = WatchShape {
        field_selector: "",
        metadata_only: None,
    };
}

/// One object as received: either decoded into its lean type, or malformed with its metadata
/// and the decode error.
///
/// # Invariants
/// Deserializing a `Decoded<K>` fails only when the payload is not JSON at all or has no
/// decodable `metadata`; a body that does not match `K` becomes [`Decoded::Malformed`]. So a
/// list with one bad item still yields every other item.
///
/// NOTE: the raw text is borrowed from the input, so a `Decoded` deserializes from a string or
/// a byte slice (`serde_json::from_str`/`from_slice`, which is how kube-client decodes lists
/// and watch lines), not from an `io::Read`.
///
/// NOTE: the raw-text capture works only straight from serde_json's deserializer. In a watch
/// event the object MUST follow the `type` key, as the apiserver writes it (Go's field order of
/// `metav1.WatchEvent`); were it first, serde would buffer it and the event would fail as a
/// whole (counted as a watch error, the watch resumes).
#[derive(Clone, Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "a Decoded lives for one event; boxing the common variant would cost an allocation per object"
)]
pub enum Decoded<K> {
    /// The object, decoded.
    Object(K),
    /// The body did not decode; metadata did.
    Malformed {
        /// What we could read of the object's identity.
        metadata: ObjectMeta,
        /// The serde error, for the log line.
        error: String,
    },
}

impl<'de, K: Object> Deserialize<'de> for Decoded<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Borrow the raw text so a failed strict decode can fall back to metadata only. The
        // scan is cheap next to the decode itself; borrowing (rather than copying) saves an
        // allocation and a copy of every object.
        let raw = <&serde_json::value::RawValue>::deserialize(deserializer)?;
        match serde_json::from_str::<K>(raw.get()) {
            Ok(obj) => Ok(Decoded::Object(obj)),
            Err(err) => {
                #[derive(Deserialize)]
                struct MetaOnly {
                    #[serde(default, deserialize_with = "lean_meta")]
                    metadata: ObjectMeta,
                }
                let meta = serde_json::from_str::<MetaOnly>(raw.get())
                    .map_err(serde::de::Error::custom)?;
                Ok(Decoded::Malformed {
                    metadata: meta.metadata,
                    error: err.to_string(),
                })
            }
        }
    }
}

/// The scope is dynamic so one generic watch loop can build namespaced and cluster-wide
/// `Api`s alike; which one a kind gets is decided by its [`crate::resources::Scope`].
impl<K: Object> kube::Resource for Decoded<K> {
    type DynamicType = ();
    type Scope = kube::core::DynamicResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        Cow::Borrowed(K::KIND)
    }
    fn group(_: &()) -> Cow<'_, str> {
        Cow::Borrowed(K::GROUP)
    }
    fn version(_: &()) -> Cow<'_, str> {
        Cow::Borrowed(K::VERSION)
    }
    fn plural(_: &()) -> Cow<'_, str> {
        Cow::Borrowed(K::PLURAL)
    }
    fn meta(&self) -> &ObjectMeta {
        match self {
            Decoded::Object(o) => o.meta(),
            Decoded::Malformed { metadata, .. } => metadata,
        }
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Decoded::Object(o) => o.meta_mut(),
            Decoded::Malformed { metadata, .. } => metadata,
        }
    }
}

/// The metadata fields any family reads. `managedFields` — often the largest part of an
/// object — is skipped without being built.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct LeanMeta {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    generation: Option<i64>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    owner_references: Option<Vec<OwnerReference>>,
}

/// `deserialize_with` for a lean type's `metadata`: reads [`LeanMeta`]'s fields into
/// `ObjectMeta` and leaves the rest at their defaults.
///
/// # Errors
/// Fails when a present field has the wrong type.
pub fn lean_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    let m = LeanMeta::deserialize(d)?;
    Ok(ObjectMeta {
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        resource_version: m.resource_version,
        generation: m.generation,
        creation_timestamp: m.creation_timestamp,
        deletion_timestamp: m.deletion_timestamp,
        labels: m.labels,
        annotations: m.annotations,
        owner_references: m.owner_references,
        ..ObjectMeta::default()
    })
}

/// Implements [`Object`] for a lean type with a `metadata: ObjectMeta` field.
///
/// It takes these five arguments, optionally `shapes = &[…]` ([`Object::WATCH_SHAPES`]), and
/// optionally `protobuf = Message` (a [`crate::wire::Message`] whose object is this type:
/// [`Object::PROTOBUF`]). Scope is not one of them: it belongs to the kind's descriptor
/// ([`crate::resources::Scope`]).
///
/// ```ignore
/// impl_object!(Pod, group = "", version = "v1", kind = "Pod", plural = "pods",
///     protobuf = crate::wire::pod::Pod);
/// ```
#[macro_export]
macro_rules! impl_object {
    ($ty:ty, group = $g:literal, version = $v:literal, kind = $k:literal, plural = $p:literal
        $(, shapes = $shapes:expr)? $(, protobuf = $msg:ty)?) => {
        impl $crate::decode::Object for $ty {
            const GROUP: &'static str = $g;
            const VERSION: &'static str = $v;
            const KIND: &'static str = $k;
            const PLURAL: &'static str = $p;
            $(const WATCH_SHAPES: &'static [$crate::decode::WatchShape<Self>] = $shapes;)?
            $(const PROTOBUF: Option<fn(bytes::Bytes) -> $crate::decode::Decoded<Self>> =
                Some($crate::wire::decode::<$msg>);)?
            fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &self.metadata
            }
            fn meta_mut(
                &mut self,
            ) -> &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Clone, Debug)]
    struct Thing {
        #[serde(deserialize_with = "lean_meta")]
        metadata: ObjectMeta,
        #[serde(default)]
        count: i64,
    }
    crate::impl_object!(
        Thing,
        group = "example.com",
        version = "v1",
        kind = "Thing",
        plural = "things"
    );

    #[test]
    fn a_wrong_field_type_yields_malformed_with_metadata_and_the_rest_of_a_list_decodes() {
        let list = r#"[
            {"metadata": {"name": "a", "uid": "u1", "managedFields": [{"manager": "x"}]}, "count": 3},
            {"metadata": {"name": "b", "uid": "u2"}, "count": "three"},
            {"metadata": {"name": "c", "uid": "u3"}}
        ]"#;
        let items: Vec<Decoded<Thing>> = serde_json::from_str(list).unwrap();
        assert_eq!(items.len(), 3);
        assert!(matches!(&items[0], Decoded::Object(t) if t.count == 3));
        match &items[1] {
            Decoded::Malformed { metadata, error } => {
                assert_eq!(metadata.uid.as_deref(), Some("u2"));
                assert!(error.contains("invalid type"), "{error}");
            }
            other => panic!("expected malformed, got {other:?}"),
        }
        assert!(matches!(&items[2], Decoded::Object(t) if t.metadata.name.as_deref() == Some("c")));
    }

    #[test]
    fn watch_events_carry_decoded_objects() {
        let line = r#"{"type":"MODIFIED","object":{"metadata":{"name":"a","uid":"u1","resourceVersion":"7"},"count":"bad"}}"#;
        let ev: kube::core::WatchEvent<Decoded<Thing>> = serde_json::from_str(line).unwrap();
        match ev {
            kube::core::WatchEvent::Modified(Decoded::Malformed { metadata, .. }) => {
                assert_eq!(metadata.resource_version.as_deref(), Some("7"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
