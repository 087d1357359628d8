//! CertificateSigningRequests (`certificates.k8s.io/v1/CertificateSigningRequest`), scope
//! [`Scope::Cluster`]: watched by the leader. Mirrors kube-state-metrics'
//! `internal/store/certificatesigningrequest.go` (`csrMetricFamilies`), family by family, in the
//! same order.
//!
//! Every family is a pure function of one decoded [`CertificateSigningRequest`]; the identity
//! labels `certificatesigningrequest`, `signer_name` are put in front by the writer, as
//! `wrapCSRFunc` does. See [`KIND`].

use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::null_as_default;
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a CertificateSigningRequest that the families read; everything else (the
/// request PEM, usages, …) is skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct CertificateSigningRequest {
    /// Identity, labels, annotations, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: CsrSpec,
    /// `status`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub status: CsrStatus,
}
crate::impl_object!(CertificateSigningRequest => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct CsrSpec {
    /// The signer asked to sign (`kubernetes.io/kube-apiserver-client`, …).
    pub signer_name: Option<String>,
}

/// `status`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct CsrStatus {
    /// The issued certificate: base64 on the wire, decoded here because KSM reports the decoded
    /// length. A value that is not valid base64 fails the decode, as it fails Go's.
    pub certificate: ByteString,
    /// Conditions, in status order.
    #[serde(deserialize_with = "null_as_default")]
    pub conditions: Vec<CsrCondition>,
}

/// One `status.conditions[]` entry: only its type is read.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct CsrCondition {
    /// `Approved`, `Denied` or `Failed`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
}

// ===== family table =====

/// The certificatesigningrequest kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `csrMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<CertificateSigningRequest> = Kind {
    resource: "certificatesigningrequests",
    api: ApiType::new("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests"),
    scope: Scope::Cluster,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::certificatesigningrequest::CertificateSigningRequest>),
    identity,
    families: &[
        Family::experimental(
            "kube_certificatesigningrequest_annotations",
            "CSR annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::stable(
            "kube_certificatesigningrequest_labels",
            "CSR labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::stable(
            "kube_certificatesigningrequest_created",
            "Unix time (seconds) at which the certificate signing request was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::stable(
            "kube_certificatesigningrequest_condition",
            "How many conditions of each type (approved, denied, failed) the request carries.",
            MetricType::Gauge,
            condition,
        ),
        Family::stable(
            "kube_certificatesigningrequest_cert_length",
            "Length in bytes of the issued certificate, 0 until one is issued.",
            MetricType::Gauge,
            cert_length,
        ),
    ],
};

/// `certificatesigningrequest`, `signer_name`, like `wrapCSRFunc`.
fn identity(c: &CertificateSigningRequest) -> Identity {
    Identity::new([
        (
            "certificatesigningrequest",
            c.metadata.name.as_deref().unwrap_or(""),
        ),
        ("signer_name", c.spec.signer_name.as_deref().unwrap_or("")),
    ])
}

// ===== family functions =====

/// The condition types `addCSRConditionMetrics` counts, as Kubernetes spells them and as the
/// `condition` label spells them.
const CONDITION_TYPES: [(&str, &str); 3] = [
    ("Approved", "approved"),
    ("Denied", "denied"),
    ("Failed", "failed"),
];

/// `addCSRConditionMetrics`: three samples, each counting the conditions of one type whatever
/// their status; other types are not counted.
fn condition(c: &CertificateSigningRequest, out: &mut Series<'_>) {
    for (k8s, label) in CONDITION_TYPES {
        let count = c
            .status
            .conditions
            .iter()
            .filter(|cond| cond.type_.as_deref() == Some(k8s))
            .count();
        out.sample([("condition", label)], count as f64);
    }
}

/// `kube_certificatesigningrequest_cert_length`: `len(status.certificate)` in decoded bytes,
/// always one sample.
fn cert_length(c: &CertificateSigningRequest, out: &mut Series<'_>) {
    out.value(c.status.certificate.0.len() as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(
        c: &CertificateSigningRequest,
        f: fn(&CertificateSigningRequest, &mut Series<'_>),
    ) -> String {
        crate::resources::testing::render_family(c, identity(c), &RenderContext::default(), f)
    }

    fn csr(json: &str) -> CertificateSigningRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn conditions_are_counted_per_type_whatever_their_status() {
        let c = csr(
            r#"{"metadata":{"name":"c"},"spec":{"signerName":"s"},"status":{"conditions":[
            {"type":"Approved","status":"True"},{"type":"Denied","status":"False"},
            {"type":"Approved","status":"True"},{"type":"Unknown"},{}]}}"#,
        );
        assert_eq!(
            render(&c, condition),
            "m{certificatesigningrequest=\"c\",signer_name=\"s\",condition=\"approved\"} 2\n\
             m{certificatesigningrequest=\"c\",signer_name=\"s\",condition=\"denied\"} 1\n\
             m{certificatesigningrequest=\"c\",signer_name=\"s\",condition=\"failed\"} 0\n"
        );
    }

    #[test]
    fn the_certificate_length_is_its_decoded_byte_count() {
        // "just for test" (13 bytes), as KSM's test has it.
        let c = csr(r#"{"status":{"certificate":"anVzdCBmb3IgdGVzdA=="}}"#);
        assert_eq!(
            render(&c, cert_length),
            "m{certificatesigningrequest=\"\",signer_name=\"\"} 13\n"
        );
        let none = csr(r#"{"status":{"certificate":null}}"#);
        assert_eq!(
            render(&none, cert_length),
            "m{certificatesigningrequest=\"\",signer_name=\"\"} 0\n"
        );
        assert!(
            serde_json::from_str::<CertificateSigningRequest>(
                r#"{"status":{"certificate":"not base64!"}}"#
            )
            .is_err()
        );
    }
}
