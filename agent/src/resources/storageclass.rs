//! StorageClasses (`storage.k8s.io/v1/StorageClass`), scope [`Scope::Cluster`]: watched by the
//! leader only. Mirrors kube-state-metrics' `internal/store/storageclass.go`
//! (`storageClassMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`StorageClass`]; the identity label
//! `storageclass` is put in front by the writer, as `wrapStorageClassFunc` does. See [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode type =====

/// The fields of a StorageClass that the families read; everything else (`parameters`,
/// `mountOptions`, …) is skipped.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct StorageClass {
    /// Identity, labels, annotations, timestamps.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// The volume plugin that provisions volumes of this class.
    pub provisioner: Option<String>,
    /// `Delete` or `Retain`; the API defaults it to `Delete`.
    pub reclaim_policy: Option<String>,
    /// `Immediate` or `WaitForFirstConsumer`; the API defaults it to `Immediate`.
    pub volume_binding_mode: Option<String>,
}
crate::impl_object!(StorageClass => KIND);

// ===== family table =====

/// The storageclass kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `storageClassMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<StorageClass> = Kind {
    resource: "storageclasses",
    api: ApiType::new("storage.k8s.io", "v1", "StorageClass", "storageclasses"),
    scope: Scope::Cluster,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::storageclass::StorageClass>),
    identity,
    families: &[
        Family::stable(
            "kube_storageclass_info",
            "StorageClass facts as labels: provisioner, reclaim policy, volume binding mode.",
            MetricType::Gauge,
            info,
        ),
        Family::stable(
            "kube_storageclass_created",
            "Unix time (seconds) at which the StorageClass object was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_storageclass_annotations",
            "StorageClass annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::stable(
            "kube_storageclass_labels",
            "StorageClass labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
    ],
};

/// `storageclass`, like `wrapStorageClassFunc`.
fn identity(s: &StorageClass) -> Identity {
    Identity::new([("storageclass", s.metadata.name.as_deref().unwrap_or(""))])
}

// ===== family functions =====

/// The defaults KSM substitutes for an unset reclaim policy and binding mode
/// (`defaultReclaimPolicy`, `defaultVolumeBindingMode`), the same the API server applies.
const DEFAULT_RECLAIM_POLICY: &str = "Delete";
const DEFAULT_VOLUME_BINDING_MODE: &str = "Immediate";

/// KSM's `kube_storageclass_info` generator: `provisioner`, `reclaim_policy`,
/// `volume_binding_mode`, the last two defaulted when unset (a present `""` stays `""`).
fn info(s: &StorageClass, out: &mut Series<'_>) {
    out.sample(
        [
            ("provisioner", s.provisioner.as_deref().unwrap_or("")),
            (
                "reclaim_policy",
                s.reclaim_policy
                    .as_deref()
                    .unwrap_or(DEFAULT_RECLAIM_POLICY),
            ),
            (
                "volume_binding_mode",
                s.volume_binding_mode
                    .as_deref()
                    .unwrap_or(DEFAULT_VOLUME_BINDING_MODE),
            ),
        ],
        1.0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(json: &str, f: fn(&StorageClass, &mut Series<'_>)) -> String {
        let s: StorageClass = serde_json::from_str(json).unwrap();
        let ident = identity(&s);
        let ctx = RenderContext::default();
        let mut buf = Vec::new();
        f(&s, &mut Series::new(&mut buf, "m", &ident, &ctx));
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn unset_reclaim_policy_and_binding_mode_take_the_api_defaults() {
        assert_eq!(
            render(
                r#"{"metadata":{"name":"sc"},"provisioner":"p","reclaimPolicy":null}"#,
                info
            ),
            "m{storageclass=\"sc\",provisioner=\"p\",reclaim_policy=\"Delete\",\
             volume_binding_mode=\"Immediate\"} 1\n"
        );
        assert_eq!(
            render(
                r#"{"reclaimPolicy":"Retain","volumeBindingMode":"WaitForFirstConsumer"}"#,
                info
            ),
            "m{storageclass=\"\",provisioner=\"\",reclaim_policy=\"Retain\",\
             volume_binding_mode=\"WaitForFirstConsumer\"} 1\n"
        );
    }
}
