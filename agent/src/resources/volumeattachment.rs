//! VolumeAttachments (`storage.k8s.io/v1/VolumeAttachment`), scope [`Scope::Cluster`]: watched
//! by the leader only. Mirrors kube-state-metrics' `internal/store/volumeattachment.go`
//! (`volumeAttachmentMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`VolumeAttachment`]; the identity label
//! `volumeattachment` is put in front by the writer, as `wrapVolumeAttachmentFunc` does. See
//! [`KIND`].

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::{
    bool_value, kube_map_labels, null_as_default,
};
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::config::KeyAllowlist;
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a VolumeAttachment that the families read; everything else is skipped.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct VolumeAttachment {
    /// Identity, labels, timestamps.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: VolumeAttachmentSpec,
    /// `status`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub status: VolumeAttachmentStatus,
}
crate::impl_object!(VolumeAttachment => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct VolumeAttachmentSpec {
    /// The CSI driver (or in-tree attacher) that handles the attachment.
    pub attacher: Option<String>,
    /// The node the volume is attached to.
    pub node_name: Option<String>,
    /// What is attached.
    #[serde(deserialize_with = "null_as_default")]
    pub source: VolumeAttachmentSource,
}

/// `spec.source`, lean: `inlineVolumeSpec` is not read.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct VolumeAttachmentSource {
    /// The PersistentVolume attached, when the source is one.
    pub persistent_volume_name: Option<String>,
}

/// `status`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct VolumeAttachmentStatus {
    /// Whether the attach operation succeeded.
    pub attached: Option<bool>,
    /// Driver-provided key/values, handed to the mount step.
    #[serde(deserialize_with = "null_as_default")]
    pub attachment_metadata: Option<BTreeMap<String, String>>,
}

// ===== family table =====

/// The volumeattachment kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `volumeAttachmentMetricFamilies` order: it is
/// the exposition order.
pub static KIND: Kind<VolumeAttachment> = Kind {
    resource: "volumeattachments",
    api: ApiType::new("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments"),
    scope: Scope::Cluster,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::volumeattachment::VolumeAttachment>),
    identity,
    families: &[
        Family::experimental(
            "kube_volumeattachment_labels",
            "VolumeAttachment labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::experimental(
            "kube_volumeattachment_info",
            "VolumeAttachment facts as labels: attacher and node.",
            MetricType::Gauge,
            info,
        ),
        Family::experimental(
            "kube_volumeattachment_created",
            "Unix time (seconds) at which the VolumeAttachment object was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_volumeattachment_spec_source_persistentvolume",
            "The PersistentVolume the attachment refers to, when its source is one.",
            MetricType::Gauge,
            spec_source_persistentvolume,
        ),
        Family::experimental(
            "kube_volumeattachment_status_attached",
            "1 when the volume is attached, else 0.",
            MetricType::Gauge,
            status_attached,
        ),
        Family::experimental(
            "kube_volumeattachment_status_attachment_metadata",
            "The attacher's attachment metadata, as metadata_* labels.",
            MetricType::Gauge,
            status_attachment_metadata,
        ),
    ],
};

/// `volumeattachment`, like `wrapVolumeAttachmentFunc`.
fn identity(va: &VolumeAttachment) -> Identity {
    Identity::new([(
        "volumeattachment",
        va.metadata.name.as_deref().unwrap_or(""),
    )])
}

// ===== family functions =====

/// KSM's `kube_volumeattachment_info` generator: `attacher`, `node`.
fn info(va: &VolumeAttachment, out: &mut Series<'_>) {
    out.sample(
        [
            ("attacher", va.spec.attacher.as_deref().unwrap_or("")),
            ("node", va.spec.node_name.as_deref().unwrap_or("")),
        ],
        1.0,
    );
}

/// KSM's `kube_volumeattachment_spec_source_persistentvolume` generator: `volumename`; nothing
/// when the source is an inline volume spec.
fn spec_source_persistentvolume(va: &VolumeAttachment, out: &mut Series<'_>) {
    if let Some(name) = &va.spec.source.persistent_volume_name {
        out.sample([("volumename", name.as_str())], 1.0);
    }
}

/// KSM's `kube_volumeattachment_status_attached` generator: always one sample, 0 when unset.
fn status_attached(va: &VolumeAttachment, out: &mut Series<'_>) {
    out.value(bool_value(va.status.attached.unwrap_or(false)));
}

/// KSM's `kube_volumeattachment_status_attachment_metadata` generator: always one sample, with
/// every metadata key as a `metadata_*` label (sanitized, snake-cased, sorted, conflicts
/// suffixed, as `mapToPrometheusLabels` does). No allowlist applies.
fn status_attachment_metadata(va: &VolumeAttachment, out: &mut Series<'_>) {
    let pairs = kube_map_labels(
        "metadata",
        va.status.attachment_metadata.as_ref(),
        &KeyAllowlist::all(),
    );
    out.sample(pairs, 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(json: &str, f: fn(&VolumeAttachment, &mut Series<'_>)) -> String {
        let va: VolumeAttachment = serde_json::from_str(json).unwrap();
        let ident = identity(&va);
        let ctx = RenderContext::default();
        let mut buf = Vec::new();
        f(&va, &mut Series::new(&mut buf, "m", &ident, &ctx));
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn attachment_metadata_ignores_the_allowlists_and_is_present_even_when_empty() {
        assert_eq!(
            render(
                r#"{"metadata":{"name":"va"},"status":{"attachmentMetadata":
                {"devicePath":"/dev/xvdb","device.path":"x"}}}"#,
                status_attachment_metadata
            ),
            "m{volumeattachment=\"va\",metadata_device_path_conflict1=\"x\",\
             metadata_device_path_conflict2=\"/dev/xvdb\"} 1\n"
        );
        assert_eq!(
            render(
                r#"{"status":{"attachmentMetadata":null}}"#,
                status_attachment_metadata
            ),
            "m{volumeattachment=\"\"} 1\n"
        );
    }

    #[test]
    fn an_inline_source_has_no_persistentvolume_series_and_attached_defaults_to_zero() {
        let json =
            r#"{"spec":{"source":{"inlineVolumeSpec":{"csi":{"driver":"d"}}}},"status":null}"#;
        assert_eq!(render(json, spec_source_persistentvolume), "");
        assert_eq!(
            render(json, status_attached),
            "m{volumeattachment=\"\"} 0\n"
        );
    }
}
