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

use crate::resources::Kind;

/// A lean Kubernetes type the agent can watch: the way back to its kind's descriptor, plus
/// access to the metadata the watcher tracks (uid, resourceVersion). Implemented by
/// [`impl_object!`] next to the kind's [`Kind`] descriptor.
pub trait Object: DeserializeOwned + Clone + Debug + Send + Sync + 'static {
    /// The kind's descriptor: API type, scope, watch shapes, families.
    const KIND: &'static Kind<Self>;

    /// The object's metadata.
    fn meta(&self) -> &ObjectMeta;
    /// The object's metadata, mutably (the watcher never needs more).
    fn meta_mut(&mut self) -> &mut ObjectMeta;
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
        Cow::Borrowed(K::KIND.api.kind)
    }
    fn group(_: &()) -> Cow<'_, str> {
        Cow::Borrowed(K::KIND.api.group)
    }
    fn version(_: &()) -> Cow<'_, str> {
        Cow::Borrowed(K::KIND.api.version)
    }
    fn plural(_: &()) -> Cow<'_, str> {
        Cow::Borrowed(K::KIND.api.plural)
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

/// Implements [`Object`] for a lean type with a `metadata: ObjectMeta` field, naming its kind's
/// descriptor (a path to the `static` [`Kind`]).
///
/// ```ignore
/// impl_object!(Lease => KIND);
/// ```
#[macro_export]
macro_rules! impl_object {
    ($ty:ty => $kind:path) => {
        impl $crate::decode::Object for $ty {
            const KIND: &'static $crate::resources::Kind<Self> = &$kind;
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
    static KIND: Kind<Thing> = Kind {
        resource: "things",
        api: crate::resources::ApiType::new("example.com", "v1", "Thing", "things"),
        scope: crate::resources::Scope::Namespaced,
        shapes: &[crate::resources::WatchShape::FULL],
        protobuf: None,
        identity: |_| crate::exposition::Identity::new([]),
        families: &[],
    };
    crate::impl_object!(Thing => KIND);

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
