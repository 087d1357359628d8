//! The parts of a TLS server that change while it runs: the served certificate and the client
//! CA, each read from PEM and published through an [`ArcSwap`], so a handshake always sees one
//! whole, valid version and never waits for a reload.
//!
//! This module parses and publishes; it neither watches files nor decides when to reload (see
//! `super::ServerTls`). See [`CertResolver`] and [`ClientVerifier`].

use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use super::web_config::ClientAuth;

/// Why PEM input could not become a certificate, key or CA bundle.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No PEM section of the expected kind, or a malformed one.
    #[error("{what}: {reason}")]
    Pem {
        /// `certificate`, `private key`, `client CA`.
        what: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// rustls refused the key, the pair or the CA bundle.
    #[error("{what}: {source}")]
    Rustls {
        /// What was being built.
        what: &'static str,
        /// rustls' reason.
        #[source]
        source: rustls::Error,
    },
    /// The client CA bundle could not make a verifier.
    #[error("client CA: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// A certificate chain and the private key that matches its first certificate.
///
/// # Errors
/// When either PEM holds nothing usable, the key is of a kind rustls cannot sign with, or the
/// key does not belong to the certificate.
pub fn certified_key(
    cert_pem: &[u8],
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<CertifiedKey, Error> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Pem {
            what: "certificate",
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(Error::Pem {
            what: "certificate",
            reason: "no CERTIFICATE section".to_string(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| Error::Pem {
        what: "private key",
        reason: e.to_string(),
    })?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|source| Error::Rustls {
            what: "private key",
            source,
        })?;
    let certified = CertifiedKey::new(chain, signing);
    // NOTE: `CertifiedKey::from_der` lets an unknown consistency pass; a reload MUST NOT
    // publish a key that cannot be checked against its certificate.
    certified.keys_match().map_err(|source| Error::Rustls {
        what: "certificate and private key",
        source,
    })?;
    Ok(certified)
}

/// The client CA bundle as a root store.
///
/// # Errors
/// When the PEM holds no certificate or one that is not a usable trust anchor.
pub fn root_store(ca_pem: &[u8]) -> Result<RootCertStore, Error> {
    let certs = CertificateDer::pem_slice_iter(ca_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Pem {
            what: "client CA",
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(Error::Pem {
            what: "client CA",
            reason: "no CERTIFICATE section".to_string(),
        });
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|source| Error::Rustls {
            what: "client CA",
            source,
        })?;
    }
    Ok(roots)
}

/// The served certificate: every handshake takes the current one.
///
/// # Invariants
/// The published [`CertifiedKey`] always passed [`certified_key`]: a reload that fails leaves
/// the previous one in place.
#[derive(Debug)]
pub struct CertResolver {
    current: ArcSwap<CertifiedKey>,
}

impl CertResolver {
    /// Serves `first` until [`CertResolver::publish`] replaces it.
    pub fn new(first: CertifiedKey) -> CertResolver {
        CertResolver {
            current: ArcSwap::from_pointee(first),
        }
    }

    /// Makes `next` the certificate of every handshake from now on.
    pub fn publish(&self, next: CertifiedKey) {
        self.current.store(Arc::new(next));
    }

    /// The certificate served now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current.load_full()
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// Client certificate checks for one `client_auth_type`, with a client CA that can be replaced
/// while handshakes go on.
///
/// The verifying modes delegate to rustls' [`WebPkiClientVerifier`] built over the current CA;
/// `RequestClientCert` and `RequireAnyClientCert` accept any certificate, as Go does, but still
/// check the handshake signature (the client holds the certificate's key).
///
/// NOTE: no CA names are sent as hints (`root_hint_subjects` is empty): rustls borrows the list
/// from the verifier for the handshake, which a swappable CA cannot lend. Clients with one
/// configured certificate (Prometheus, curl, rustls, OpenSSL) send it regardless.
#[derive(Debug)]
pub struct ClientVerifier {
    mode: ClientAuth,
    provider: Arc<CryptoProvider>,
    /// The CA-backed verifier, in the verifying modes only.
    inner: Option<ArcSwap<Arc<dyn ClientCertVerifier>>>,
}

impl ClientVerifier {
    /// A verifier for `mode`; `roots` is the client CA, required exactly when `mode` verifies.
    ///
    /// # Errors
    /// When `roots` cannot make a verifier.
    ///
    /// # Panics
    /// Never: a verifying mode without roots is refused by the web config parser, and this
    /// returns an error for it anyway.
    pub fn new(
        mode: ClientAuth,
        roots: Option<RootCertStore>,
        provider: Arc<CryptoProvider>,
    ) -> Result<ClientVerifier, Error> {
        let inner = match (mode.verifies(), roots) {
            (true, Some(roots)) => Some(ArcSwap::from_pointee(webpki(mode, roots, &provider)?)),
            (true, None) => {
                return Err(Error::Pem {
                    what: "client CA",
                    reason: "missing".to_string(),
                });
            }
            (false, _) => None,
        };
        Ok(ClientVerifier {
            mode,
            provider,
            inner,
        })
    }

    /// Checks client certificates against `roots` from the next handshake on. No-op in the
    /// modes that verify nothing.
    ///
    /// # Errors
    /// When `roots` cannot make a verifier; the previous CA stays.
    pub fn publish(&self, roots: RootCertStore) -> Result<(), Error> {
        if let Some(inner) = &self.inner {
            inner.store(Arc::new(webpki(self.mode, roots, &self.provider)?));
        }
        Ok(())
    }
}

fn webpki(
    mode: ClientAuth,
    roots: RootCertStore,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, Error> {
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .clear_root_hint_subjects();
    let builder = if mode.mandatory() {
        builder
    } else {
        builder.allow_unauthenticated()
    };
    Ok(builder.build()?)
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.mode != ClientAuth::NoClientCert
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mode.mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match &self.inner {
            Some(inner) => inner
                .load()
                .verify_client_cert(end_entity, intermediates, now),
            None => Ok(ClientCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The end of a certificate's validity (`notAfter`), in Unix seconds; `None` when the DER is
/// not a certificate this small reader understands.
///
/// Reads just enough DER to reach `tbsCertificate.validity` (RFC 5280 §4.1), rather than
/// pulling in an X.509 parser for one number.
pub fn not_after(cert: &[u8]) -> Option<i64> {
    let (0x30, cert, _) = tlv(cert)? else {
        return None;
    };
    let (0x30, tbs, _) = tlv(cert)? else {
        return None;
    };
    let (mut tag, _, mut rest) = tlv(tbs)?;
    if tag == 0xa0 {
        // [0] EXPLICIT version, then the serial number.
        (tag, _, rest) = tlv(rest)?;
    }
    if tag != 0x02 {
        return None;
    }
    let (_signature, _, rest) = tlv(rest)?;
    let (_issuer, _, rest) = tlv(rest)?;
    let (0x30, validity, _) = tlv(rest)? else {
        return None;
    };
    let (_not_before, _, rest) = tlv(validity)?;
    let (tag, time, _) = tlv(rest)?;
    der_time(tag, time)
}

/// One DER tag-length-value: the tag, the value and what follows it.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(n)?;
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, b| acc << 8 | usize::from(*b))
    };
    let (value, rest) = rest.split_at_checked(len)?;
    Some((tag, value, rest))
}

/// A UTCTime (`YYMMDDHHMMSSZ`, years 1950–2049 as RFC 5280 says) or GeneralizedTime
/// (`YYYYMMDDHHMMSSZ`), in Unix seconds.
fn der_time(tag: u8, value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i16 = text.get(..2)?.parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, text.get(2..)?)
        }
        0x18 => (text.get(..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    if rest.len() != 10 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let two = |i: usize| rest.get(i..i + 2)?.parse::<i8>().ok();
    let at = jiff::civil::DateTime::new(year, two(0)?, two(2)?, two(4)?, two(6)?, two(8)?, 0)
        .ok()?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()?;
    Some(at.timestamp().as_second())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A CA-signed certificate for `127.0.0.1` and its key, as PEM.
    pub(crate) struct Issued {
        pub cert: String,
        pub key: String,
    }

    /// A self-signed CA that issues [`Issued`] certificates.
    pub(crate) struct Ca {
        issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
        pub pem: String,
    }

    impl Ca {
        pub fn new(name: &str) -> Ca {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = params.self_signed(&key).unwrap();
            Ca {
                pem: cert.pem(),
                issuer: rcgen::Issuer::new(params, key),
            }
        }

        pub fn issue(&self, cn: &str, not_after: Option<(i32, u8, u8)>) -> Issued {
            let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
            if let Some((y, m, d)) = not_after {
                params.not_after = rcgen::date_time_ymd(y, m, d);
            }
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &self.issuer).unwrap();
            Issued {
                cert: cert.pem(),
                key: key.serialize_pem(),
            }
        }
    }

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn der(pem: &str) -> Vec<u8> {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .to_vec()
    }

    #[test]
    fn a_certificate_needs_its_own_key() {
        let ca = Ca::new("ca");
        let (a, b) = (ca.issue("a", None), ca.issue("b", None));
        let p = provider();
        assert!(certified_key(a.cert.as_bytes(), a.key.as_bytes(), &p).is_ok());
        let e = certified_key(a.cert.as_bytes(), b.key.as_bytes(), &p).unwrap_err();
        assert!(e.to_string().contains("certificate and private key"), "{e}");
        let e = certified_key(b"", a.key.as_bytes(), &p).unwrap_err();
        assert!(e.to_string().starts_with("certificate"), "{e}");
        let e = certified_key(a.cert.as_bytes(), b"garbage", &p).unwrap_err();
        assert!(e.to_string().starts_with("private key"), "{e}");
        // Half a file, as a reader may see mid-write.
        let half = &a.cert.as_bytes()[..a.cert.len() / 2];
        assert!(certified_key(half, a.key.as_bytes(), &p).is_err());
    }

    #[test]
    fn the_resolver_serves_what_was_published_last() {
        let ca = Ca::new("ca");
        let (a, b) = (ca.issue("a", None), ca.issue("b", None));
        let p = provider();
        let resolver =
            CertResolver::new(certified_key(a.cert.as_bytes(), a.key.as_bytes(), &p).unwrap());
        assert_eq!(resolver.current().cert[0].as_ref(), der(&a.cert));
        resolver.publish(certified_key(b.cert.as_bytes(), b.key.as_bytes(), &p).unwrap());
        assert_eq!(resolver.current().cert[0].as_ref(), der(&b.cert));
    }

    #[test]
    fn client_verifiers_check_the_current_ca() {
        let (ca1, ca2) = (Ca::new("ca1"), Ca::new("ca2"));
        let (c1, c2) = (ca1.issue("client", None), ca2.issue("client", None));
        let v = ClientVerifier::new(
            ClientAuth::RequireAndVerifyClientCert,
            Some(root_store(ca1.pem.as_bytes()).unwrap()),
            provider(),
        )
        .unwrap();
        assert!(v.offer_client_auth() && v.client_auth_mandatory());
        let now = UnixTime::now();
        let check = |pem: &str| {
            v.verify_client_cert(&CertificateDer::from(der(pem)), &[], now)
                .is_ok()
        };
        assert!(check(&c1.cert));
        assert!(!check(&c2.cert));
        v.publish(root_store(ca2.pem.as_bytes()).unwrap()).unwrap();
        assert!(!check(&c1.cert));
        assert!(check(&c2.cert));

        let any = ClientVerifier::new(ClientAuth::RequestClientCert, None, provider()).unwrap();
        assert!(any.offer_client_auth() && !any.client_auth_mandatory());
        let cert = CertificateDer::from(der(&c2.cert));
        assert!(any.verify_client_cert(&cert, &[], now).is_ok());
        let given = ClientVerifier::new(
            ClientAuth::VerifyClientCertIfGiven,
            Some(root_store(ca1.pem.as_bytes()).unwrap()),
            provider(),
        )
        .unwrap();
        assert!(given.offer_client_auth() && !given.client_auth_mandatory());
        assert!(given.verify_client_cert(&cert, &[], now).is_err());
        assert!(root_store(b"not pem").is_err());
    }

    #[test]
    fn not_after_reads_utc_and_generalized_times() {
        let ca = Ca::new("ca");
        let utc = ca.issue("a", Some((2049, 12, 31)));
        assert_eq!(not_after(&der(&utc.cert)), Some(2_524_521_600));
        let generalized = ca.issue("b", Some((2051, 1, 2)));
        assert_eq!(not_after(&der(&generalized.cert)), Some(2_556_230_400));
        assert_eq!(not_after(b"\x30\x03\x02\x01\x00"), None);
        assert_eq!(not_after(b""), None);
    }
}
