//! ReplicationControllers (`v1/ReplicationController`), scope [`Scope::Namespaced`]: watched by
//! the leader only. Mirrors kube-state-metrics' `internal/store/replicationcontroller.go`
//! (`replicationControllerMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`ReplicationController`]; the identity labels
//! `namespace`, `replicationcontroller` are put in front by the writer, as
//! `wrapReplicationControllerFunc` does. KSM has no `_labels`/`_annotations` families for this
//! kind. See [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::null_as_default;
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a ReplicationController that the families read; everything else is skipped by
/// serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ReplicationController {
    /// Identity, owners, generation, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: ReplicationControllerSpec,
    /// `status`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub status: ReplicationControllerStatus,
}
crate::impl_object!(ReplicationController => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ReplicationControllerSpec {
    /// Desired pods; the apiserver defaults it to 1.
    pub replicas: Option<i64>,
}

/// `status`, lean. Counters absent from the object read as 0, as Go's zero value.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ReplicationControllerStatus {
    /// Pods currently owned by the controller.
    #[serde(deserialize_with = "null_as_default")]
    pub replicas: i64,
    /// Pods whose labels match the pod template's.
    #[serde(deserialize_with = "null_as_default")]
    pub fully_labeled_replicas: i64,
    /// Ready pods.
    #[serde(deserialize_with = "null_as_default")]
    pub ready_replicas: i64,
    /// Pods ready for at least `minReadySeconds`.
    #[serde(deserialize_with = "null_as_default")]
    pub available_replicas: i64,
    /// The generation the controller last acted on.
    #[serde(deserialize_with = "null_as_default")]
    pub observed_generation: i64,
}

// ===== family table =====

/// The replication controller kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `replicationControllerMetricFamilies` order:
/// it is the exposition order.
pub static KIND: Kind<ReplicationController> = Kind {
    resource: "replicationcontrollers",
    api: ApiType::new("", "v1", "ReplicationController", "replicationcontrollers"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::replicationcontroller::ReplicationController>),
    identity,
    families: &[
        Family::stable(
            "kube_replicationcontroller_created",
            "Unix time (seconds) at which the replication controller was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::stable(
            "kube_replicationcontroller_status_replicas",
            "Pods currently owned by the replication controller.",
            MetricType::Gauge,
            status_replicas,
        ),
        Family::stable(
            "kube_replicationcontroller_status_fully_labeled_replicas",
            "Pods of the replication controller whose labels match its pod template's.",
            MetricType::Gauge,
            status_fully_labeled_replicas,
        ),
        Family::stable(
            "kube_replicationcontroller_status_ready_replicas",
            "Ready pods of the replication controller.",
            MetricType::Gauge,
            status_ready_replicas,
        ),
        Family::stable(
            "kube_replicationcontroller_status_available_replicas",
            "Pods of the replication controller that have been ready for at least minReadySeconds.",
            MetricType::Gauge,
            status_available_replicas,
        ),
        Family::stable(
            "kube_replicationcontroller_status_observed_generation",
            "The generation of the replication controller last acted on by its controller.",
            MetricType::Gauge,
            status_observed_generation,
        ),
        Family::stable(
            "kube_replicationcontroller_spec_replicas",
            "Desired number of pods of the replication controller.",
            MetricType::Gauge,
            spec_replicas,
        ),
        Family::stable(
            "kube_replicationcontroller_metadata_generation",
            "Sequence number of the replication controller's desired state (metadata.generation).",
            MetricType::Gauge,
            metadata::generation,
        ),
        Family::experimental(
            "kube_replicationcontroller_owner",
            "One series per owner reference of the replication controller (empty labels when it has none).",
            MetricType::Gauge,
            metadata::owners,
        ),
    ],
};

/// `namespace`, `replicationcontroller`, like `wrapReplicationControllerFunc`.
fn identity(r: &ReplicationController) -> Identity {
    Identity::new([
        ("namespace", r.metadata.namespace.as_deref().unwrap_or("")),
        (
            "replicationcontroller",
            r.metadata.name.as_deref().unwrap_or(""),
        ),
    ])
}

// ===== family functions =====

/// `kube_replicationcontroller_status_replicas`: `status.replicas`, 0 when unset.
fn status_replicas(r: &ReplicationController, out: &mut Series<'_>) {
    out.value(r.status.replicas as f64);
}

/// `kube_replicationcontroller_status_fully_labeled_replicas`.
fn status_fully_labeled_replicas(r: &ReplicationController, out: &mut Series<'_>) {
    out.value(r.status.fully_labeled_replicas as f64);
}

/// `kube_replicationcontroller_status_ready_replicas`.
fn status_ready_replicas(r: &ReplicationController, out: &mut Series<'_>) {
    out.value(r.status.ready_replicas as f64);
}

/// `kube_replicationcontroller_status_available_replicas`.
fn status_available_replicas(r: &ReplicationController, out: &mut Series<'_>) {
    out.value(r.status.available_replicas as f64);
}

/// `kube_replicationcontroller_status_observed_generation`.
fn status_observed_generation(r: &ReplicationController, out: &mut Series<'_>) {
    out.value(r.status.observed_generation as f64);
}

/// `kube_replicationcontroller_spec_replicas`: nothing when `spec.replicas` is unset.
fn spec_replicas(r: &ReplicationController, out: &mut Series<'_>) {
    if let Some(n) = r.spec.replicas {
        out.value(n as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(r: &ReplicationController, f: fn(&ReplicationController, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(r, identity(r), &RenderContext::default(), f)
    }

    #[test]
    fn owner_without_controller_flag_reports_false() {
        // replicationcontroller_test.go's rc3.
        let rc: ReplicationController = serde_json::from_str(
            r#"{"metadata":{"name":"rc3","namespace":"ns3","generation":5,"ownerReferences":[
            {"apiVersion":"apps.openshift.io/v1","kind":"DeploymentConfig","name":"dc-test","uid":"u"}]},
            "spec":{"replicas":0}}"#,
        )
        .unwrap();
        assert_eq!(
            render(&rc, metadata::owners),
            "m{namespace=\"ns3\",replicationcontroller=\"rc3\",owner_kind=\"DeploymentConfig\",owner_name=\"dc-test\",owner_is_controller=\"false\"} 1\n"
        );
        assert_eq!(
            render(&rc, spec_replicas),
            "m{namespace=\"ns3\",replicationcontroller=\"rc3\"} 0\n"
        );
        assert_eq!(
            render(&rc, metadata::generation),
            "m{namespace=\"ns3\",replicationcontroller=\"rc3\"} 5\n"
        );
    }

    #[test]
    fn an_object_with_null_spec_and_status_decodes_to_zero_counters() {
        let rc: ReplicationController =
            serde_json::from_str(r#"{"metadata":{"name":"rc"},"spec":null,"status":null}"#)
                .unwrap();
        assert_eq!(render(&rc, spec_replicas), "");
        assert_eq!(
            render(&rc, status_available_replicas),
            "m{namespace=\"\",replicationcontroller=\"rc\"} 0\n"
        );
        assert_eq!(render(&rc, metadata::created), "");
    }
}
