//! `certificates.k8s.io/v1/CertificateSigningRequest`, lean: the fields the
//! certificatesigningrequest families read (the JSON twin is the lean
//! `CertificateSigningRequest` in `resources/certificatesigningrequest.rs`), at the field
//! numbers of `k8s.io/api/certificates/v1/generated.proto`. The request itself, the requester
//! and the usages are skipped by prost without being built.

use k8s_openapi::ByteString;

use super::meta::{ObjectMeta, always};
use super::{Message, Result};
use crate::resources::certificatesigningrequest as lean;

/// `certificates/v1.CertificateSigningRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CertificateSigningRequest {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<CsrSpec>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<CsrStatus>,
}

/// `certificates/v1.CertificateSigningRequestSpec`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CsrSpec {
    /// `signerName`.
    #[prost(string, optional, tag = "7")]
    pub signer_name: Option<String>,
}

/// `certificates/v1.CertificateSigningRequestStatus`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CsrStatus {
    /// `conditions`.
    #[prost(message, repeated, tag = "1")]
    pub conditions: Vec<CsrCondition>,
    /// `certificate`: the issued certificate's PEM bytes.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub certificate: Option<Vec<u8>>,
}

/// `certificates/v1.CertificateSigningRequestCondition`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CsrCondition {
    /// `type`.
    #[prost(string, optional, tag = "1")]
    pub r#type: Option<String>,
}

impl Message for CertificateSigningRequest {
    type Object = lean::CertificateSigningRequest;
    const NAME: &'static str = "certificates.k8s.io/v1/CertificateSigningRequest";

    fn into_object(self) -> Result<lean::CertificateSigningRequest> {
        let status = self.status.unwrap_or_default();
        Ok(lean::CertificateSigningRequest {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::CsrSpec {
                signer_name: always(self.spec.unwrap_or_default().signer_name),
            },
            status: lean::CsrStatus {
                certificate: ByteString(status.certificate.unwrap_or_default()),
                conditions: status
                    .conditions
                    .into_iter()
                    .map(|c| lean::CsrCondition {
                        type_: always(c.r#type),
                    })
                    .collect(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;
    use crate::decode::Decoded;

    /// The live capture has no status: approval and certificates go through their own
    /// subresources and checks. This one is what a signed request carries.
    #[test]
    fn the_certificate_bytes_and_condition_types_of_an_issued_request_decode() {
        let pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let csr = CertificateSigningRequest {
            spec: Some(CsrSpec {
                signer_name: Some("kubernetes.io/kube-apiserver-client".into()),
            }),
            status: Some(CsrStatus {
                conditions: vec![
                    CsrCondition {
                        r#type: Some("Approved".into()),
                    },
                    CsrCondition {
                        r#type: Some(String::new()),
                    },
                ],
                certificate: Some(pem.to_vec()),
            }),
            ..Default::default()
        };
        let Decoded::Object(c) = super::super::decode::<CertificateSigningRequest>(
            bytes::Bytes::from(csr.encode_to_vec()),
        ) else {
            panic!("decodes");
        };
        assert_eq!(c.status.certificate.0, pem.to_vec());
        let types: Vec<Option<&str>> = c
            .status
            .conditions
            .iter()
            .map(|c| c.type_.as_deref())
            .collect();
        assert_eq!(types, [Some("Approved"), Some("")]);
        assert_eq!(
            c.spec.signer_name.as_deref(),
            Some("kubernetes.io/kube-apiserver-client")
        );
    }
}
