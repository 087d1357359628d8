//! TLS for live tests: a throwaway PKI ([`Ca`] issuing server and client certificates with
//! rcgen) and an HTTPS client ([`TlsClient`]) built on rustls with the ring provider, the same
//! stack as the agent, so no OpenSSL is involved.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A certificate and its private key, as PEM.
#[derive(Clone)]
pub struct Issued {
    /// The certificate.
    pub cert: String,
    /// Its private key (PKCS#8).
    pub key: String,
}

impl Issued {
    /// The certificate's DER bytes, to compare with what a server presents.
    ///
    /// # Panics
    /// When the PEM is not a certificate (never for one issued here).
    pub fn der(&self) -> Vec<u8> {
        CertificateDer::from_pem_slice(self.cert.as_bytes())
            .expect("an issued certificate")
            .to_vec()
    }
}

/// A self-signed certificate authority.
pub struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// The CA certificate, PEM.
    pub pem: String,
}

impl Ca {
    /// A new CA named `name`.
    ///
    /// # Panics
    /// When rcgen fails (it does not for these parameters).
    pub fn new(name: &str) -> Ca {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().expect("a key");
        let cert = params.self_signed(&key).expect("a CA certificate");
        Ca {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A certificate for `cn` with the subject alternative names `sans` (an IP address or a
    /// DNS name each), signed by this CA; good for servers and clients alike.
    ///
    /// # Panics
    /// When rcgen fails.
    pub fn issue(&self, cn: &str, sans: &[&str]) -> Issued {
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(sans).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = rcgen::KeyPair::generate().expect("a key");
        let cert = params.signed_by(&key, &self.issuer).expect("a certificate");
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// An HTTPS client for `127.0.0.1` that trusts one CA and may present a certificate.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<rustls::ClientConfig>,
}

impl TlsClient {
    /// Trusts `ca_pem`; presents `client` when given.
    ///
    /// # Panics
    /// When a PEM does not parse.
    pub fn new(ca_pem: &str, client: Option<&Issued>) -> TlsClient {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.expect("CA PEM")).expect("a CA certificate");
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS 1.2 and 1.3")
        .with_root_certificates(roots);
        let config = match client {
            Some(c) => {
                let chain = CertificateDer::pem_slice_iter(c.cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .expect("client certificate PEM");
                let key = PrivateKeyDer::from_pem_slice(c.key.as_bytes()).expect("client key");
                builder
                    .with_client_auth_cert(chain, key)
                    .expect("a client certificate")
            }
            None => builder.with_no_client_auth(),
        };
        TlsClient {
            config: Arc::new(config),
        }
    }

    /// Connects to `127.0.0.1:port` and completes the handshake, checking the server's
    /// certificate against the CA for the name `127.0.0.1`.
    ///
    /// # Errors
    /// When the connection or the handshake fails, or takes more than 10 s.
    pub async fn connect(&self, port: u16) -> Result<TlsStream<TcpStream>, String> {
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect :{port}: {e}"))?;
        let name = ServerName::try_from("127.0.0.1").expect("an IP address");
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
            .await
            .map_err(|_| format!("TLS handshake with :{port}: no answer in 10 s"))?
            .map_err(|e| format!("TLS handshake with :{port}: {e}"))
    }

    /// The end-entity certificate `127.0.0.1:port` presents to a new connection, DER.
    ///
    /// # Errors
    /// As [`TlsClient::connect`].
    pub async fn peer_certificate(&self, port: u16) -> Result<Vec<u8>, String> {
        let stream = self.connect(port).await?;
        let (_, conn) = stream.get_ref();
        conn.peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec())
            .ok_or_else(|| "the server presented no certificate".to_string())
    }

    /// GET `path` over HTTPS: status and body.
    ///
    /// # Errors
    /// When the handshake fails, the server ends the connection (as it does, with TLS 1.3,
    /// after refusing the client's certificate), or the answer is not HTTP.
    pub async fn get(&self, port: u16, path: &str) -> Result<(u16, String), String> {
        let stream = self.connect(port).await?;
        crate::agent::http_get_on(stream, path).await
    }
}
