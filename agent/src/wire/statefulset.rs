//! `apps/v1/StatefulSet`, lean: the fields the statefulset families read (the JSON twin is the
//! lean `StatefulSet` in `resources/statefulset.rs`), at the field numbers of
//! `k8s.io/api/apps/v1/generated.proto`. The pod template and the claim templates are skipped
//! by prost without being built.

use super::meta::{ObjectMeta, int, omitempty};
use super::{Message, Result};
use crate::resources::statefulset as lean;

/// `apps/v1.StatefulSet`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatefulSet {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<StatefulSetSpec>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<StatefulSetStatus>,
}

/// `apps/v1.StatefulSetSpec`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatefulSetSpec {
    /// `replicas` (a pointer).
    #[prost(int32, optional, tag = "1")]
    pub replicas: Option<i32>,
    /// `persistentVolumeClaimRetentionPolicy` (a pointer).
    #[prost(message, optional, tag = "10")]
    pub persistent_volume_claim_retention_policy: Option<PvcRetentionPolicy>,
    /// `ordinals` (a pointer).
    #[prost(message, optional, tag = "11")]
    pub ordinals: Option<StatefulSetOrdinals>,
}

/// `apps/v1.StatefulSetOrdinals`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatefulSetOrdinals {
    /// `start`.
    #[prost(int32, optional, tag = "1")]
    pub start: Option<i32>,
}

/// `apps/v1.StatefulSetPersistentVolumeClaimRetentionPolicy`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PvcRetentionPolicy {
    /// `whenDeleted`.
    #[prost(string, optional, tag = "1")]
    pub when_deleted: Option<String>,
    /// `whenScaled`.
    #[prost(string, optional, tag = "2")]
    pub when_scaled: Option<String>,
}

/// `apps/v1.StatefulSetStatus`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatefulSetStatus {
    /// `observedGeneration`.
    #[prost(int64, optional, tag = "1")]
    pub observed_generation: Option<i64>,
    /// `replicas`.
    #[prost(int32, optional, tag = "2")]
    pub replicas: Option<i32>,
    /// `readyReplicas`.
    #[prost(int32, optional, tag = "3")]
    pub ready_replicas: Option<i32>,
    /// `currentReplicas`.
    #[prost(int32, optional, tag = "4")]
    pub current_replicas: Option<i32>,
    /// `updatedReplicas`.
    #[prost(int32, optional, tag = "5")]
    pub updated_replicas: Option<i32>,
    /// `currentRevision`.
    #[prost(string, optional, tag = "6")]
    pub current_revision: Option<String>,
    /// `updateRevision`.
    #[prost(string, optional, tag = "7")]
    pub update_revision: Option<String>,
    /// `availableReplicas`.
    #[prost(int32, optional, tag = "11")]
    pub available_replicas: Option<i32>,
}

impl Message for StatefulSet {
    type Object = lean::StatefulSet;
    const NAME: &'static str = "apps/v1/StatefulSet";

    fn into_object(self) -> Result<lean::StatefulSet> {
        let spec = self.spec.unwrap_or_default();
        let status = self.status.unwrap_or_default();
        Ok(lean::StatefulSet {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::StatefulSetSpec {
                replicas: spec.replicas.map(i64::from),
                ordinals: spec.ordinals.map(|o| lean::StatefulSetOrdinals {
                    start: int(o.start),
                }),
                persistent_volume_claim_retention_policy: spec
                    .persistent_volume_claim_retention_policy
                    .map(|p| lean::PvcRetentionPolicy {
                        when_deleted: omitempty(p.when_deleted),
                        when_scaled: omitempty(p.when_scaled),
                    }),
            },
            status: lean::StatefulSetStatus {
                replicas: int(status.replicas),
                available_replicas: int(status.available_replicas),
                current_replicas: int(status.current_replicas),
                ready_replicas: int(status.ready_replicas),
                updated_replicas: int(status.updated_replicas),
                observed_generation: status.observed_generation.unwrap_or_default(),
                current_revision: status.current_revision.unwrap_or_default(),
                update_revision: status.update_revision.unwrap_or_default(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;
    use crate::decode::Decoded;

    #[test]
    fn fields_newer_than_the_test_apiserver_decode() {
        let set = StatefulSet {
            spec: Some(StatefulSetSpec {
                ordinals: Some(StatefulSetOrdinals { start: None }),
                persistent_volume_claim_retention_policy: Some(PvcRetentionPolicy {
                    when_deleted: Some("Delete".into()),
                    when_scaled: Some(String::new()),
                }),
                ..Default::default()
            }),
            status: Some(StatefulSetStatus {
                available_replicas: Some(3),
                ..Default::default()
            }),
            ..Default::default()
        };
        let Decoded::Object(s) =
            super::super::decode::<StatefulSet>(bytes::Bytes::from(set.encode_to_vec()))
        else {
            panic!("decodes");
        };
        assert_eq!(s.spec.ordinals.map(|o| o.start), Some(0));
        let policy = s.spec.persistent_volume_claim_retention_policy.unwrap();
        assert_eq!(policy.when_deleted.as_deref(), Some("Delete"));
        assert_eq!(policy.when_scaled, None, "omitempty");
        assert_eq!(s.status.available_replicas, 3);
    }
}
