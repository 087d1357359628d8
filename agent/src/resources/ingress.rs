//! Ingresses (`networking.k8s.io/v1/Ingress`), scope [`Scope::Namespaced`]: watched by the
//! leader. Mirrors kube-state-metrics' `internal/store/ingress.go` (`ingressMetricFamilies`),
//! family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`Ingress`]; the identity labels `namespace`,
//! `ingress` are put in front by the writer, as `wrapIngressFunc` does. See [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::null_as_default;
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of an Ingress that the families read; everything else is skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct Ingress {
    /// Identity, labels, annotations, resource version, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: IngressSpec,
}
crate::impl_object!(Ingress => KIND);

/// `spec`, lean. The default backend is not read: KSM reports rule paths only.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct IngressSpec {
    /// The IngressClass, when set (`kube_ingress_info`'s `ingressclass`).
    pub ingress_class_name: Option<String>,
    /// Host rules, in spec order.
    #[serde(deserialize_with = "null_as_default")]
    pub rules: Vec<IngressRule>,
    /// TLS blocks, in spec order.
    #[serde(deserialize_with = "null_as_default")]
    pub tls: Vec<IngressTls>,
}

/// One `spec.rules[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct IngressRule {
    /// The host matched; absent matches every host.
    pub host: Option<String>,
    /// HTTP paths; rules without it render no path.
    pub http: Option<HttpRule>,
}

/// `spec.rules[].http`.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct HttpRule {
    /// Paths, in spec order.
    #[serde(deserialize_with = "null_as_default")]
    pub paths: Vec<HttpPath>,
}

/// One `spec.rules[].http.paths[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpPath {
    /// The path matched.
    pub path: Option<String>,
    /// `Exact`, `Prefix` or `ImplementationSpecific`.
    pub path_type: Option<String>,
    /// Where matching requests go.
    #[serde(deserialize_with = "null_as_default")]
    pub backend: Backend,
}

/// `paths[].backend`: a service or a typed object reference (exactly one, by validation).
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct Backend {
    /// A service backend.
    pub service: Option<ServiceBackend>,
    /// A resource backend.
    pub resource: Option<ResourceBackend>,
}

/// `backend.service`.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ServiceBackend {
    /// Service name.
    pub name: Option<String>,
    /// Service port, by number or by name.
    #[serde(deserialize_with = "null_as_default")]
    pub port: ServiceBackendPort,
}

/// `backend.service.port`. Only the number is read: KSM prints the number, `0` for a named port.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ServiceBackendPort {
    /// Port number; absent when the port is given by name.
    pub number: Option<i64>,
}

/// `backend.resource`, a `TypedLocalObjectReference`.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourceBackend {
    /// API group; absent for the core group.
    pub api_group: Option<String>,
    /// Kind.
    pub kind: Option<String>,
    /// Name.
    pub name: Option<String>,
}

/// One `spec.tls[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct IngressTls {
    /// Hosts the certificate covers, in spec order.
    #[serde(deserialize_with = "null_as_default")]
    pub hosts: Vec<String>,
    /// The secret holding the certificate.
    pub secret_name: Option<String>,
}

// ===== family table =====

/// The ingress kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `ingressMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<Ingress> = Kind {
    resource: "ingresses",
    api: ApiType::new("networking.k8s.io", "v1", "Ingress", "ingresses"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::ingress::Ingress>),
    identity,
    families: &[
        Family::stable(
            "kube_ingress_info",
            "The ingress, with the class it belongs to.",
            MetricType::Gauge,
            info,
        ),
        Family::experimental(
            "kube_ingress_annotations",
            "Ingress annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::stable(
            "kube_ingress_labels",
            "Ingress labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::stable(
            "kube_ingress_created",
            "Unix time (seconds) at which the ingress object was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_ingress_metadata_resource_version",
            "The ingress object's resource version, as a number.",
            MetricType::Gauge,
            metadata::resource_version,
        ),
        Family::stable(
            "kube_ingress_path",
            "One series per rule path, with its host and its service or resource backend.",
            MetricType::Gauge,
            path,
        ),
        Family::stable(
            "kube_ingress_tls",
            "One series per host of each TLS block, with the secret holding its certificate.",
            MetricType::Gauge,
            tls,
        ),
    ],
};

/// `namespace`, `ingress`, like `wrapIngressFunc`.
fn identity(i: &Ingress) -> Identity {
    Identity::new([
        ("namespace", i.metadata.namespace.as_deref().unwrap_or("")),
        ("ingress", i.metadata.name.as_deref().unwrap_or("")),
    ])
}

// ===== family functions =====

/// The class KSM's `kube_ingress_info` reports: the `kubernetes.io/ingress.class` annotation
/// when present (even empty), else `spec.ingressClassName`, else `_default`.
fn ingress_class(i: &Ingress) -> &str {
    i.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("kubernetes.io/ingress.class"))
        .or(i.spec.ingress_class_name.as_ref())
        .map_or("_default", String::as_str)
}

/// `kube_ingress_info` in `ingressMetricFamilies`: one sample, `ingressclass` as [`ingress_class`].
fn info(i: &Ingress, out: &mut Series<'_>) {
    out.sample([("ingressclass", ingress_class(i))], 1.0);
}

/// `kube_ingress_path`: one sample per path of every rule that has `http`, in spec order.
///
/// A service backend gives `service_name` and `service_port` (the port number, `0` when the port
/// is named, as KSM prints `Port.Number`); any other path gives `resource_api_group`,
/// `resource_kind`, `resource_name`.
///
/// NOTE: a path with neither backend (the apiserver rejects it) makes KSM dereference a nil
/// pointer; we render the resource shape with empty values instead.
fn path(i: &Ingress, out: &mut Series<'_>) {
    for rule in &i.spec.rules {
        let Some(http) = &rule.http else { continue };
        let host = rule.host.as_deref().unwrap_or("");
        for p in &http.paths {
            let path = p.path.as_deref().unwrap_or("");
            let path_type = p.path_type.as_deref().unwrap_or("");
            if let Some(svc) = &p.backend.service {
                let port = svc.port.number.unwrap_or(0).to_string();
                out.sample(
                    [
                        ("host", host),
                        ("path", path),
                        ("path_type", path_type),
                        ("service_name", svc.name.as_deref().unwrap_or("")),
                        ("service_port", port.as_str()),
                    ],
                    1.0,
                );
            } else {
                let res = p.backend.resource.as_ref();
                let field = |f: fn(&ResourceBackend) -> Option<&str>| res.and_then(f).unwrap_or("");
                out.sample(
                    [
                        ("host", host),
                        ("path", path),
                        ("path_type", path_type),
                        ("resource_api_group", field(|r| r.api_group.as_deref())),
                        ("resource_kind", field(|r| r.kind.as_deref())),
                        ("resource_name", field(|r| r.name.as_deref())),
                    ],
                    1.0,
                );
            }
        }
    }
}

/// `kube_ingress_tls`: one sample per host of each TLS block; a block without hosts gives none.
fn tls(i: &Ingress, out: &mut Series<'_>) {
    for block in &i.spec.tls {
        let secret = block.secret_name.as_deref().unwrap_or("");
        for host in &block.hosts {
            out.sample([("tls_host", host.as_str()), ("secret", secret)], 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(i: &Ingress, f: fn(&Ingress, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(i, identity(i), &RenderContext::default(), f)
    }

    fn ingress(json: &str) -> Ingress {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_class_annotation_wins_over_the_spec_and_default_is_underscore_default() {
        let none = ingress(r#"{"metadata":{"name":"i","namespace":"n"}}"#);
        assert_eq!(ingress_class(&none), "_default");
        let spec = ingress(r#"{"spec":{"ingressClassName":"nginx"}}"#);
        assert_eq!(ingress_class(&spec), "nginx");
        let both = ingress(
            r#"{"metadata":{"annotations":{"kubernetes.io/ingress.class":""}},
            "spec":{"ingressClassName":"nginx"}}"#,
        );
        assert_eq!(ingress_class(&both), "");
    }

    #[test]
    fn named_ports_print_zero_and_rules_without_http_render_nothing() {
        let i = ingress(
            r#"{"metadata":{"name":"i","namespace":"n"},"spec":{"rules":[
            {"host":"a","http":{"paths":[{"path":"/","backend":{"service":{"name":"s","port":{"name":"http"}}}}]}},
            {"host":"b"},
            {"host":"c","http":null}]}}"#,
        );
        assert_eq!(
            render(&i, path),
            "m{namespace=\"n\",ingress=\"i\",host=\"a\",path=\"/\",path_type=\"\",\
             service_name=\"s\",service_port=\"0\"} 1\n"
        );
    }
}
