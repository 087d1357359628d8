//! `networking.k8s.io/v1/Ingress`, lean: the fields the ingress families read (the JSON twin
//! is the lean `Ingress` in `resources/ingress.rs`), at the field numbers of
//! `k8s.io/api/networking/v1/generated.proto`. The default backend and the status are skipped
//! by prost without being built.
//!
//! JSON inlines a rule's `IngressRuleValue`; protobuf nests it at field 2.

use super::meta::{ObjectMeta, always, omitempty};
use super::{Message, Result};
use crate::resources::ingress as lean;

/// `networking/v1.Ingress`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Ingress {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<IngressSpec>,
}

/// `networking/v1.IngressSpec`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IngressSpec {
    /// `tls`.
    #[prost(message, repeated, tag = "2")]
    pub tls: Vec<IngressTls>,
    /// `rules`.
    #[prost(message, repeated, tag = "3")]
    pub rules: Vec<IngressRule>,
    /// `ingressClassName` (a pointer).
    #[prost(string, optional, tag = "4")]
    pub ingress_class_name: Option<String>,
}

/// `networking/v1.IngressTLS`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IngressTls {
    /// `hosts`.
    #[prost(string, repeated, tag = "1")]
    pub hosts: Vec<String>,
    /// `secretName`.
    #[prost(string, optional, tag = "2")]
    pub secret_name: Option<String>,
}

/// `networking/v1.IngressRule`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IngressRule {
    /// `host`.
    #[prost(string, optional, tag = "1")]
    pub host: Option<String>,
    /// The inlined `ingressRuleValue`.
    #[prost(message, optional, tag = "2")]
    pub value: Option<IngressRuleValue>,
}

/// `networking/v1.IngressRuleValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IngressRuleValue {
    /// `http` (a pointer).
    #[prost(message, optional, tag = "1")]
    pub http: Option<HttpIngressRuleValue>,
}

/// `networking/v1.HTTPIngressRuleValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HttpIngressRuleValue {
    /// `paths`.
    #[prost(message, repeated, tag = "1")]
    pub paths: Vec<HttpIngressPath>,
}

/// `networking/v1.HTTPIngressPath`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HttpIngressPath {
    /// `path`.
    #[prost(string, optional, tag = "1")]
    pub path: Option<String>,
    /// `backend`.
    #[prost(message, optional, tag = "2")]
    pub backend: Option<IngressBackend>,
    /// `pathType` (a pointer).
    #[prost(string, optional, tag = "3")]
    pub path_type: Option<String>,
}

/// `networking/v1.IngressBackend`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IngressBackend {
    /// `resource` (a pointer).
    #[prost(message, optional, tag = "3")]
    pub resource: Option<TypedLocalObjectReference>,
    /// `service` (a pointer).
    #[prost(message, optional, tag = "4")]
    pub service: Option<IngressServiceBackend>,
}

/// `networking/v1.IngressServiceBackend`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IngressServiceBackend {
    /// `name`.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// `port`.
    #[prost(message, optional, tag = "2")]
    pub port: Option<ServiceBackendPort>,
}

/// `networking/v1.ServiceBackendPort`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServiceBackendPort {
    /// `number`.
    #[prost(int32, optional, tag = "2")]
    pub number: Option<i32>,
}

/// `v1.TypedLocalObjectReference`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypedLocalObjectReference {
    /// `apiGroup` (a pointer).
    #[prost(string, optional, tag = "1")]
    pub api_group: Option<String>,
    /// `kind`.
    #[prost(string, optional, tag = "2")]
    pub kind: Option<String>,
    /// `name`.
    #[prost(string, optional, tag = "3")]
    pub name: Option<String>,
}

fn backend(b: IngressBackend) -> lean::Backend {
    lean::Backend {
        service: b.service.map(|s| lean::ServiceBackend {
            name: always(s.name),
            port: lean::ServiceBackendPort {
                // `number` is tagged `omitempty`: port 0 (a named port) is absent.
                number: s
                    .port
                    .and_then(|p| p.number)
                    .filter(|n| *n != 0)
                    .map(i64::from),
            },
        }),
        resource: b.resource.map(|r| lean::ResourceBackend {
            api_group: r.api_group,
            kind: always(r.kind),
            name: always(r.name),
        }),
    }
}

impl Message for Ingress {
    type Object = lean::Ingress;
    const NAME: &'static str = "networking.k8s.io/v1/Ingress";

    fn into_object(self) -> Result<lean::Ingress> {
        let spec = self.spec.unwrap_or_default();
        Ok(lean::Ingress {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::IngressSpec {
                ingress_class_name: spec.ingress_class_name,
                rules: spec
                    .rules
                    .into_iter()
                    .map(|r| lean::IngressRule {
                        host: omitempty(r.host),
                        http: r.value.and_then(|v| v.http).map(|h| lean::HttpRule {
                            paths: h
                                .paths
                                .into_iter()
                                .map(|p| lean::HttpPath {
                                    path: omitempty(p.path),
                                    path_type: p.path_type,
                                    backend: backend(p.backend.unwrap_or_default()),
                                })
                                .collect(),
                        }),
                    })
                    .collect(),
                tls: spec
                    .tls
                    .into_iter()
                    .map(|t| lean::IngressTls {
                        hosts: t.hosts,
                        secret_name: omitempty(t.secret_name),
                    })
                    .collect(),
            },
        })
    }
}
