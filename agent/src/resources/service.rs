//! Services (`v1/Service`), scope [`Scope::Namespaced`]: watched by the leader only. Mirrors
//! kube-state-metrics' `internal/store/service.go` (`serviceMetricFamilies`), family by family,
//! in the same order.
//!
//! Every family is a pure function of one decoded [`Service`]; the identity labels `namespace`,
//! `service`, `uid` are put in front by the writer, as `wrapSvcFunc` does. See [`KIND`].
//!
//! NOTE: KSM's newest service.go also has an opt-in `kube_service_spec_ports` family; it is not
//! in the family list this agent matches (`ksm-metric-families.tsv`), so it is not here.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::null_as_default;
use super::common::{metadata, text};
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a Service that the families read; everything else is skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct Service {
    /// Identity, labels, annotations, timestamps.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: ServiceSpec,
    /// `status`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub status: ServiceStatus,
}
crate::impl_object!(Service => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceSpec {
    /// `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// The primary cluster IP (`None` for headless services).
    #[serde(rename = "clusterIP")]
    pub cluster_ip: Option<String>,
    /// The DNS name an `ExternalName` service aliases.
    pub external_name: Option<String>,
    /// The requested load-balancer IP (deprecated upstream, still reported).
    #[serde(rename = "loadBalancerIP")]
    pub load_balancer_ip: Option<String>,
    /// `Cluster` or `Local`.
    pub external_traffic_policy: Option<String>,
    /// Extra IPs the service is reachable on, in spec order.
    #[serde(rename = "externalIPs", deserialize_with = "null_as_default")]
    pub external_ips: Vec<String>,
}

/// `status`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceStatus {
    /// `status.loadBalancer`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub load_balancer: LoadBalancerStatus,
}

/// `status.loadBalancer`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct LoadBalancerStatus {
    /// Ingress points, in status order.
    #[serde(deserialize_with = "null_as_default")]
    pub ingress: Vec<LoadBalancerIngress>,
}

/// One `status.loadBalancer.ingress[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct LoadBalancerIngress {
    /// IP-based ingress point.
    pub ip: Option<String>,
    /// DNS-based ingress point.
    pub hostname: Option<String>,
}

// ===== family table =====

/// The service kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `serviceMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<Service> = Kind {
    resource: "services",
    api: ApiType::new("", "v1", "Service", "services"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::service::Service>),
    identity,
    families: &[
        Family::stable(
            "kube_service_info",
            "Service facts as labels: cluster IP, external name, load-balancer IP, external traffic policy.",
            MetricType::Gauge,
            info,
        ),
        Family::stable(
            "kube_service_created",
            "Unix time (seconds) at which the Service was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::stable(
            "kube_service_spec_type",
            "The Service's type, as the type label.",
            MetricType::Gauge,
            spec_type,
        ),
        Family::experimental(
            "kube_service_annotations",
            "Service annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::stable(
            "kube_service_labels",
            "Service labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::stable(
            "kube_service_spec_external_ip",
            "One series per external IP listed in the Service's spec.",
            MetricType::Gauge,
            spec_external_ip,
        ),
        Family::stable(
            "kube_service_status_load_balancer_ingress",
            "One series per ingress point the load balancer reports for the Service.",
            MetricType::Gauge,
            status_load_balancer_ingress,
        ),
        Family::experimental(
            "kube_service_deletion_timestamp",
            "Unix time (seconds) at which the Service was marked for deletion.",
            MetricType::Gauge,
            metadata::deletion_timestamp,
        ),
    ],
};

/// `namespace`, `service`, `uid`, like `wrapSvcFunc`.
fn identity(s: &Service) -> Identity {
    Identity::new([
        ("namespace", s.metadata.namespace.as_deref().unwrap_or("")),
        ("service", s.metadata.name.as_deref().unwrap_or("")),
        ("uid", s.metadata.uid.as_deref().unwrap_or("")),
    ])
}


// ===== family functions =====

/// `kube_service_info`'s generator: always one sample, unset fields as empty labels.
fn info(s: &Service, out: &mut Series<'_>) {
    out.sample(
        [
            ("cluster_ip", text(s.spec.cluster_ip.as_ref())),
            ("external_name", text(s.spec.external_name.as_ref())),
            ("load_balancer_ip", text(s.spec.load_balancer_ip.as_ref())),
            (
                "external_traffic_policy",
                text(s.spec.external_traffic_policy.as_ref()),
            ),
        ],
        1.0,
    );
}

/// `kube_service_spec_type`'s generator: always one sample, `type` empty when unset.
fn spec_type(s: &Service, out: &mut Series<'_>) {
    out.sample([("type", text(s.spec.type_.as_ref()))], 1.0);
}

/// `kube_service_spec_external_ip`'s generator: one series per `spec.externalIPs` entry.
fn spec_external_ip(s: &Service, out: &mut Series<'_>) {
    for ip in &s.spec.external_ips {
        out.sample([("external_ip", ip.as_str())], 1.0);
    }
}

/// `kube_service_status_load_balancer_ingress`'s generator: `ip`, `hostname` per ingress point.
fn status_load_balancer_ingress(s: &Service, out: &mut Series<'_>) {
    for ingress in &s.status.load_balancer.ingress {
        out.sample(
            [
                ("ip", text(ingress.ip.as_ref())),
                ("hostname", text(ingress.hostname.as_ref())),
            ],
            1.0,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn service(json: &str) -> Service {
        serde_json::from_str(json).unwrap()
    }

    fn render(s: &Service, f: fn(&Service, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(s, identity(s), &RenderContext::default(), f)
    }

    #[test]
    fn info_keeps_ksm_label_order_with_empty_values_for_unset_fields() {
        let s = service(
            r#"{"metadata":{"name":"s","namespace":"n","uid":"u"},
            "spec":{"type":"ExternalName","externalName":"db.example.com"}}"#,
        );
        assert_eq!(
            render(&s, info),
            "m{namespace=\"n\",service=\"s\",uid=\"u\",cluster_ip=\"\",external_name=\"db.example.com\",\
             load_balancer_ip=\"\",external_traffic_policy=\"\"} 1\n"
        );
    }

    #[test]
    fn null_spec_status_and_lists_decode_as_empty() {
        let s = service(r#"{"metadata":{"name":"s"},"spec":null,"status":null}"#);
        assert_eq!(render(&s, spec_external_ip), "");
        assert_eq!(render(&s, status_load_balancer_ingress), "");
        assert_eq!(
            render(&s, spec_type),
            "m{namespace=\"\",service=\"s\",uid=\"\",type=\"\"} 1\n"
        );
        let s = service(
            r#"{"metadata":{"name":"s"},"spec":{"externalIPs":null},
            "status":{"loadBalancer":{"ingress":null}}}"#,
        );
        assert_eq!(render(&s, spec_external_ip), "");
        assert_eq!(render(&s, status_load_balancer_ingress), "");
    }

    #[test]
    fn ingress_points_with_only_a_hostname_keep_an_empty_ip() {
        let s = service(
            r#"{"metadata":{"name":"s"},"status":{"loadBalancer":{"ingress":[
            {"hostname":"lb.example.com","ipMode":"Proxy"}]}}}"#,
        );
        assert_eq!(
            render(&s, status_load_balancer_ingress),
            "m{namespace=\"\",service=\"s\",uid=\"\",ip=\"\",hostname=\"lb.example.com\"} 1\n"
        );
    }
}
