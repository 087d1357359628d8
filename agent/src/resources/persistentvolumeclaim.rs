//! PersistentVolumeClaims (`v1/PersistentVolumeClaim`), scope [`Scope::Namespaced`]: watched by
//! the leader only. Mirrors kube-state-metrics' `internal/store/persistentvolumeclaim.go`
//! (`persistentVolumeClaimMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`PersistentVolumeClaim`]; the identity
//! labels `namespace`, `persistentvolumeclaim` are put in front by the writer, as
//! `wrapPersistentVolumeClaimFunc` does. See [`KIND`].
//!
//! Our stored copy of persistentvolumeclaim.go predates three upstream changes, written here
//! from their PRs and KSM's `docs/metrics/storage/persistentvolumeclaim-metrics.md`:
//! `kube_persistentvolumeclaim_info`'s `volumemode` label (PR #2134),
//! `kube_persistentvolumeclaim_deletion_timestamp` (listed last, after `_created`), and the
//! empty `storageclass` for a claim without a class (PR #1923; it used to be `<none>`).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::{
    Quantity, bool_value, condition_samples, null_as_default, quantity_map,
};
use super::common::{metadata, text};
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a PersistentVolumeClaim that the families read; everything else is skipped.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct PersistentVolumeClaim {
    /// Identity, labels, annotations (one of which may name the class), timestamps.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: PersistentVolumeClaimSpec,
    /// `status`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub status: PersistentVolumeClaimStatus,
}
crate::impl_object!(PersistentVolumeClaim => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PersistentVolumeClaimSpec {
    /// Requested access modes, in spec order.
    #[serde(deserialize_with = "null_as_default")]
    pub access_modes: Vec<String>,
    /// Requested resources; only `requests.storage` is read.
    #[serde(deserialize_with = "null_as_default")]
    pub resources: ClaimResources,
    /// The requested StorageClass; `""` asks for none, absent for the default.
    pub storage_class_name: Option<String>,
    /// The bound PersistentVolume.
    pub volume_name: Option<String>,
    /// `Filesystem` or `Block`, when set.
    pub volume_mode: Option<String>,
}

/// `spec.resources`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ClaimResources {
    /// Resource name → quantity string.
    #[serde(deserialize_with = "quantity_map")]
    pub requests: BTreeMap<String, String>,
}

/// `status`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct PersistentVolumeClaimStatus {
    /// `Pending`, `Bound` or `Lost`.
    pub phase: Option<String>,
    /// Conditions, in status order.
    #[serde(deserialize_with = "null_as_default")]
    pub conditions: Vec<ClaimCondition>,
}

/// One `status.conditions[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ClaimCondition {
    /// `Resizing`, `FileSystemResizePending`, `ModifyingVolume`, or any other type.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `True`, `False` or `Unknown`.
    pub status: Option<String>,
}

// ===== family table =====

/// The persistentvolumeclaim kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `persistentVolumeClaimMetricFamilies` order:
/// it is the exposition order.
pub static KIND: Kind<PersistentVolumeClaim> = Kind {
    resource: "persistentvolumeclaims",
    api: ApiType::new("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::persistentvolumeclaim::PersistentVolumeClaim>),
    identity,
    families: &[
        Family::stable(
            "kube_persistentvolumeclaim_labels",
            "Claim labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::experimental(
            "kube_persistentvolumeclaim_annotations",
            "Claim annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::stable(
            "kube_persistentvolumeclaim_info",
            "Claim facts as labels: storage class, bound volume, volume mode.",
            MetricType::Gauge,
            info,
        ),
        Family::stable(
            "kube_persistentvolumeclaim_status_phase",
            "Phase of the claim, one series per possible phase.",
            MetricType::Gauge,
            status_phase,
        ),
        Family::stable(
            "kube_persistentvolumeclaim_resource_requests_storage_bytes",
            "Storage requested by the claim, in bytes.",
            MetricType::Gauge,
            resource_requests_storage_bytes,
        ),
        Family::stable(
            "kube_persistentvolumeclaim_access_mode",
            "One series per access mode the claim requests.",
            MetricType::Gauge,
            access_mode,
        ),
        Family::experimental(
            "kube_persistentvolumeclaim_status_condition",
            "Status of each claim condition, one series per possible status.",
            MetricType::Gauge,
            status_condition,
        ),
        Family::experimental(
            "kube_persistentvolumeclaim_created",
            "Unix time (seconds) at which the claim object was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_persistentvolumeclaim_deletion_timestamp",
            "Unix time (seconds) at which the claim object was marked for deletion.",
            MetricType::Gauge,
            metadata::deletion_timestamp,
        ),
    ],
};

/// `namespace`, `persistentvolumeclaim`, like `wrapPersistentVolumeClaimFunc`.
fn identity(c: &PersistentVolumeClaim) -> Identity {
    Identity::new([
        ("namespace", c.metadata.namespace.as_deref().unwrap_or("")),
        (
            "persistentvolumeclaim",
            c.metadata.name.as_deref().unwrap_or(""),
        ),
    ])
}

// ===== family functions =====

/// KSM's `kube_persistentvolumeclaim_info` generator: `storageclass` (see [`claim_class`]),
/// `volumename`, `volumemode` (empty when unset: unlike the PV family, no default is assumed).
fn info(c: &PersistentVolumeClaim, out: &mut Series<'_>) {
    out.sample(
        [
            ("storageclass", claim_class(c)),
            ("volumename", text(c.spec.volume_name.as_ref())),
            ("volumemode", text(c.spec.volume_mode.as_ref())),
        ],
        1.0,
    );
}

/// The phases KSM's claim phase generator enumerates, in its order.
const PHASES: [&str; 3] = ["Lost", "Bound", "Pending"];

/// KSM's `kube_persistentvolumeclaim_status_phase` generator: three samples, nothing while the
/// phase is unset.
fn status_phase(c: &PersistentVolumeClaim, out: &mut Series<'_>) {
    let phase = text(c.status.phase.as_ref());
    if phase.is_empty() {
        return;
    }
    for p in PHASES {
        out.sample([("phase", p)], bool_value(phase == p));
    }
}

/// KSM's requested-storage generator: `Quantity.Value()` of `requests.storage`, nothing when
/// absent. An unparsable quantity also gives nothing: KSM cannot decode such an object at all.
fn resource_requests_storage_bytes(c: &PersistentVolumeClaim, out: &mut Series<'_>) {
    if let Some(q) = c
        .spec
        .resources
        .requests
        .get("storage")
        .and_then(|raw| Quantity::parse(raw))
    {
        out.value(q.value());
    }
}

/// KSM's `kube_persistentvolumeclaim_access_mode` generator: one sample per requested mode.
fn access_mode(c: &PersistentVolumeClaim, out: &mut Series<'_>) {
    for mode in &c.spec.access_modes {
        out.sample([("access_mode", mode.as_str())], 1.0);
    }
}

/// KSM's `kube_persistentvolumeclaim_status_condition` generator: three samples per condition,
/// labelled `condition` and `status`.
///
/// NOTE: KSM's docs (and so `ksm-metric-families.tsv`) name the first label `type`; KSM's code
/// and its `persistentvolumeclaim_test.go` expectations emit `condition`, which is what we
/// emit.
fn status_condition(c: &PersistentVolumeClaim, out: &mut Series<'_>) {
    for cond in &c.status.conditions {
        condition_samples(out, &[("condition", text(cond.type_.as_ref()))], text(cond.status.as_ref()));
    }
}

// ===== helpers =====

/// The annotation that named a claim's class before `spec.storageClassName` existed.
const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

/// `getPersistentVolumeClaimClass`: the beta annotation when present (even empty), else
/// `spec.storageClassName`, else `""`.
fn claim_class(c: &PersistentVolumeClaim) -> &str {
    c.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(BETA_STORAGE_CLASS_ANNOTATION))
        .map(String::as_str)
        .or(c.spec.storage_class_name.as_deref())
        .unwrap_or("")
}


#[cfg(test)]
mod tests {
    use super::*;

    fn claim(json: &str) -> PersistentVolumeClaim {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_beta_annotation_wins_over_the_spec_class_even_when_empty() {
        let c = claim(
            r#"{"metadata":{"annotations":{"volume.beta.kubernetes.io/storage-class":""}},
            "spec":{"storageClassName":"fast"}}"#,
        );
        assert_eq!(claim_class(&c), "");
        let c = claim(
            r#"{"metadata":{"annotations":{"volume.beta.kubernetes.io/storage-class":"old"}},
            "spec":{"storageClassName":"fast"}}"#,
        );
        assert_eq!(claim_class(&c), "old");
        assert_eq!(
            claim_class(&claim(r#"{"spec":{"storageClassName":"fast"}}"#)),
            "fast"
        );
        assert_eq!(claim_class(&claim(r#"{"spec":{}}"#)), "");
    }

    #[test]
    fn null_spec_and_status_decode_as_empty() {
        let c = claim(r#"{"metadata":{"name":"c"},"spec":null,"status":null}"#);
        assert!(c.spec.access_modes.is_empty() && c.status.conditions.is_empty());
        let c = claim(r#"{"spec":{"resources":null,"accessModes":null}}"#);
        assert!(c.spec.resources.requests.is_empty());
    }
}
