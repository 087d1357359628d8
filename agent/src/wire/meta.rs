//! `metav1.ObjectMeta`, `metav1.Time` and `resource.Quantity`, lean, plus the rules that make a
//! protobuf object convert to exactly what serde reads from the same object's JSON.
//!
//! # JSON's view of empty values
//! The API server writes protobuf with gogo's proto2 code, which writes every non-pointer Go
//! field, empty or not, while its JSON leaves out the fields tagged `omitempty` when they are
//! empty. So a conversion MUST look at each field's Go declaration (`k8s.io/api/core/v1/
//! types.go`):
//! - a pointer (`*string`, `*int64`, `*Time`): present or absent alike on both wires, so the
//!   `Option` passes through;
//! - a value tagged `omitempty` (`nodeName`, `phase`, `hostNetwork`): the empty value is
//!   absent in JSON, so it becomes `None` ([`omitempty`], [`omitempty_bool`], …);
//! - a value without `omitempty` (a container status's `name`, `ready`, a condition's `type`):
//!   always in JSON, so always `Some`, empty or not ([`always`], …);
//! - a `metav1.Time` that is not a pointer: zero is JSON `null`, and an empty message in
//!   protobuf, so both read as `None` ([`time`]);
//! - maps and lists: `omitempty` makes an empty one absent; the lean types keep `Option` only
//!   where serde would see the difference.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use k8s_openapi::apimachinery::pkg::util::intstr;
use k8s_openapi::jiff::Timestamp;

use super::{Error, Result};

/// `metav1.ObjectMeta`, with the fields any family reads (the JSON path's `lean_meta`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ObjectMeta {
    /// `name`.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// `namespace`.
    #[prost(string, optional, tag = "3")]
    pub namespace: Option<String>,
    /// `uid`.
    #[prost(string, optional, tag = "5")]
    pub uid: Option<String>,
    /// `resourceVersion`.
    #[prost(string, optional, tag = "6")]
    pub resource_version: Option<String>,
    /// `generation`.
    #[prost(int64, optional, tag = "7")]
    pub generation: Option<i64>,
    /// `creationTimestamp`.
    #[prost(message, optional, tag = "8")]
    pub creation_timestamp: Option<Time>,
    /// `deletionTimestamp`.
    #[prost(message, optional, tag = "9")]
    pub deletion_timestamp: Option<Time>,
    /// `labels`.
    #[prost(btree_map = "string, string", tag = "11")]
    pub labels: BTreeMap<String, String>,
    /// `annotations`.
    #[prost(btree_map = "string, string", tag = "12")]
    pub annotations: BTreeMap<String, String>,
    /// `ownerReferences`.
    #[prost(message, repeated, tag = "13")]
    pub owner_references: Vec<OwnerReference>,
}

/// `metav1.OwnerReference`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OwnerReference {
    /// `kind`.
    #[prost(string, optional, tag = "1")]
    pub kind: Option<String>,
    /// `name`.
    #[prost(string, optional, tag = "3")]
    pub name: Option<String>,
    /// `uid`.
    #[prost(string, optional, tag = "4")]
    pub uid: Option<String>,
    /// `apiVersion`.
    #[prost(string, optional, tag = "5")]
    pub api_version: Option<String>,
    /// `controller`.
    #[prost(bool, optional, tag = "6")]
    pub controller: Option<bool>,
    /// `blockOwnerDeletion`.
    #[prost(bool, optional, tag = "7")]
    pub block_owner_deletion: Option<bool>,
}

/// `metav1.Time`: seconds since the epoch. The API server never writes `nanos` for a `Time`
/// (`Time.ProtoTime` leaves them out, as its JSON keeps whole seconds).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Time {
    /// `seconds`; absent for Go's zero time (the message is then empty).
    #[prost(int64, optional, tag = "1")]
    pub seconds: Option<i64>,
    /// `nanos`, ignored as upstream's `Time.Unmarshal` ignores it.
    #[prost(int32, optional, tag = "2")]
    pub nanos: Option<i32>,
}

/// `resource.Quantity`: its canonical text, the same string its JSON holds.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Quantity {
    /// `string`.
    #[prost(string, optional, tag = "1")]
    pub string: Option<String>,
}

/// `intstr.IntOrString`: `type` says which of the two values holds.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IntOrString {
    /// `type`: 0 for an integer, 1 for a string.
    #[prost(int64, optional, tag = "1")]
    pub r#type: Option<i64>,
    /// `intVal`.
    #[prost(int32, optional, tag = "2")]
    pub int_val: Option<i32>,
    /// `strVal`.
    #[prost(string, optional, tag = "3")]
    pub str_val: Option<String>,
}

impl IntOrString {
    /// The value as its JSON holds it: a number for type 0, else a string (upstream's
    /// `MarshalJSON` writes `strVal` for any other type).
    pub fn into_lean(self) -> intstr::IntOrString {
        match self.r#type.unwrap_or_default() {
            0 => intstr::IntOrString::Int(self.int_val.unwrap_or_default()),
            _ => intstr::IntOrString::String(self.str_val.unwrap_or_default()),
        }
    }
}

/// `metav1.MicroTime`: seconds and nanoseconds since the epoch.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MicroTime {
    /// `seconds`.
    #[prost(int64, optional, tag = "1")]
    pub seconds: Option<i64>,
    /// `nanos`.
    #[prost(int32, optional, tag = "2")]
    pub nanos: Option<i32>,
}

/// Only the metadata of an object (every kind's field 1), for the malformed-object fallback;
/// also the whole of a `PartialObjectMetadata` (see [`super::partial`]).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct MetadataOnly {
    #[prost(message, optional, tag = "1")]
    pub(crate) metadata: Option<ObjectMeta>,
}

impl ObjectMeta {
    /// The metadata as the JSON path's `lean_meta` reads it.
    ///
    /// # Errors
    /// When a timestamp is out of range.
    pub fn into_meta(self) -> Result<metav1::ObjectMeta> {
        Ok(metav1::ObjectMeta {
            name: omitempty(self.name),
            namespace: omitempty(self.namespace),
            uid: omitempty(self.uid),
            resource_version: omitempty(self.resource_version),
            generation: self.generation.filter(|g| *g != 0),
            creation_timestamp: time(self.creation_timestamp)?,
            deletion_timestamp: time(self.deletion_timestamp)?,
            labels: nonempty_map(self.labels),
            annotations: nonempty_map(self.annotations),
            owner_references: (!self.owner_references.is_empty()).then(|| {
                self.owner_references
                    .into_iter()
                    .map(|o| metav1::OwnerReference {
                        api_version: o.api_version.unwrap_or_default(),
                        kind: o.kind.unwrap_or_default(),
                        name: o.name.unwrap_or_default(),
                        uid: o.uid.unwrap_or_default(),
                        controller: o.controller,
                        block_owner_deletion: o.block_owner_deletion,
                    })
                    .collect()
            }),
            ..metav1::ObjectMeta::default()
        })
    }
}

/// A Go `string` tagged `omitempty`: empty is absent.
pub fn omitempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// A Go `string` without `omitempty`: always present, empty or not.
pub fn always(s: Option<String>) -> Option<String> {
    Some(s.unwrap_or_default())
}

/// A Go `bool` tagged `omitempty`: `false` is absent.
pub fn omitempty_bool(b: Option<bool>) -> Option<bool> {
    b.filter(|b| *b)
}

/// A `metav1.Time` (pointer or not): an absent or empty message is `None`.
///
/// # Errors
/// When the seconds are outside what a timestamp can hold.
pub fn time(t: Option<Time>) -> Result<Option<metav1::Time>> {
    let Some(seconds) = t.and_then(|t| t.seconds) else {
        return Ok(None);
    };
    Timestamp::from_second(seconds)
        .map(|ts| Some(metav1::Time(ts)))
        .map_err(|_| Error::OutOfRange {
            what: "metav1.Time seconds",
            value: seconds,
        })
}

/// A `metav1.MicroTime` (pointer or not): an absent or empty message is `None`; the
/// nanoseconds are cut to the microseconds JSON writes (`RFC3339Micro`), so both wires give the
/// same instant.
///
/// # Errors
/// When the seconds are outside what a timestamp can hold.
pub fn micro_time(t: Option<MicroTime>) -> Result<Option<metav1::MicroTime>> {
    let Some(t) = t.filter(|t| t.seconds.is_some() || t.nanos.is_some()) else {
        return Ok(None);
    };
    let seconds = t.seconds.unwrap_or_default();
    let nanos = t.nanos.unwrap_or_default() / 1000 * 1000;
    Timestamp::new(seconds, nanos)
        .map(|ts| Some(metav1::MicroTime(ts)))
        .map_err(|_| Error::OutOfRange {
            what: "metav1.MicroTime seconds",
            value: seconds,
        })
}

/// A Go `int32` read into the lean type's wider integer; absent is Go's zero.
pub fn int(i: Option<i32>) -> i64 {
    i64::from(i.unwrap_or_default())
}

/// A `map[string]string` tagged `omitempty`: empty is absent.
pub fn nonempty_map(m: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!m.is_empty()).then_some(m)
}

/// A `ResourceList` (resource name → quantity) as the lean types hold it: name → text.
pub fn quantities(m: BTreeMap<String, Quantity>) -> BTreeMap<String, String> {
    m.into_iter()
        .map(|(k, q)| (k, q.string.unwrap_or_default()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_reads_whole_seconds_and_an_empty_one_is_absent() {
        let t = time(Some(Time {
            seconds: Some(1_714_557_600),
            nanos: Some(999),
        }))
        .unwrap()
        .unwrap();
        assert_eq!(t.0.to_string(), "2024-05-01T10:00:00Z");
        assert_eq!(time(Some(Time::default())).unwrap(), None);
        assert_eq!(time(None).unwrap(), None);
        assert!(matches!(
            time(Some(Time {
                seconds: Some(i64::MAX),
                nanos: None
            })),
            Err(Error::OutOfRange { .. })
        ));
    }

    #[test]
    fn metadata_empties_read_as_json_leaves_them_out() {
        let meta = ObjectMeta {
            name: Some("p".into()),
            namespace: Some(String::new()),
            uid: Some("u".into()),
            generation: Some(0),
            creation_timestamp: Some(Time::default()),
            owner_references: vec![OwnerReference {
                kind: Some("ReplicaSet".into()),
                ..Default::default()
            }],
            ..Default::default()
        }
        .into_meta()
        .unwrap();
        assert_eq!(meta.name.as_deref(), Some("p"));
        assert_eq!(meta.namespace, None, "cluster-scoped: no namespace");
        assert_eq!(meta.generation, None);
        assert_eq!(meta.creation_timestamp, None);
        assert_eq!(meta.labels, None);
        let owner = &meta.owner_references.unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("ReplicaSet", "")
        );
        assert_eq!(owner.controller, None);
    }
}
