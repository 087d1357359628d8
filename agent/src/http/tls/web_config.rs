//! The `--tls-config` file: Prometheus exporter-toolkit's web configuration, as node_exporter
//! and kube-state-metrics read it (`web/tls_config.go`), parsed into what rustls can do.
//!
//! Parsing is pure: no file but the web config itself is read here, and nothing is built. Every
//! error names the key at fault (`tls_server_config.min_version`) and the value. Relative paths
//! are taken from the web config's own directory, as exporter-toolkit's `SetDirectory` does.
//!
//! What differs from exporter-toolkit, on purpose (each one is also in docs/install.md):
//! - `min_version: TLS10`/`TLS11` mean TLS 1.2: rustls speaks TLS 1.2 and 1.3 only, so the
//!   floor is higher than asked, never lower. A `max_version` below TLS12 leaves no protocol and
//!   is an error.
//! - `cipher_suites` takes Go's names. Go applies the list to TLS 1.2 only; here a TLS 1.3 name
//!   in the list restricts TLS 1.3 as well, and without one every TLS 1.3 suite stays. Go's CBC
//!   and RSA-key-exchange suites have no rustls implementation: naming one is an error.
//! - The verifying client auth types need `client_ca_file` (or `client_ca`): Go would fall back
//!   to the system roots, which would accept a client certificate from any public CA.
//! - `basic_auth_users`, `rate_limit`, `client_allowed_sans` and `http_server_config.headers`
//!   are refused: each one restricts or shapes access, so ignoring it would serve more than the
//!   file asks. `http_server_config.http2` is accepted; the agent serves HTTP/1.1 only (what
//!   Prometheus scrapes with).
//! - A file without a certificate is an error: exporter-toolkit falls back to plain HTTP, but
//!   `--tls-config` must never mean plain HTTP silently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rustls::crypto::SupportedKxGroup;
use rustls::{CipherSuite, NamedGroup, SupportedCipherSuite, SupportedProtocolVersion};
use serde::Deserialize;

/// A web config whose content is not valid.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not YAML, an unknown key, or a value of the wrong type (serde names the key).
    #[error("{0}")]
    Syntax(String),
    /// A key with a value that is not allowed.
    #[error("{key}: {reason}")]
    Invalid {
        /// The key, as a path from the top (`tls_server_config.max_version`).
        key: &'static str,
        /// What is wrong with the value.
        reason: String,
    },
    /// An exporter-toolkit key the agent does not implement.
    #[error("{key}: not supported by kube-state-agent ({why})")]
    Unsupported {
        /// The key.
        key: &'static str,
        /// Why, and what to use instead.
        why: &'static str,
    },
}

/// A PEM input: a file (re-read when it changes) or text inline in the web config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pem {
    /// `cert_file`, `key_file`, `client_ca_file`: the path, made absolute against the web
    /// config's directory when it was relative.
    File(PathBuf),
    /// `cert`, `key`, `client_ca`: fixed for the life of the process.
    Inline(String),
}

impl Pem {
    /// The file, if the PEM comes from one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Pem::File(p) => Some(p),
            Pem::Inline(_) => None,
        }
    }
}

/// exporter-toolkit's `client_auth_type`, with Go's `crypto/tls` meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum ClientAuth {
    /// No certificate is asked for.
    #[default]
    NoClientCert,
    /// A certificate is asked for, not required, not verified.
    RequestClientCert,
    /// A certificate is required, not verified against a CA (the handshake signature is).
    /// `RequireClientCert` is exporter-toolkit's older spelling.
    #[serde(alias = "RequireClientCert")]
    RequireAnyClientCert,
    /// A certificate is optional; one that is sent must chain to the client CA.
    VerifyClientCertIfGiven,
    /// A certificate is required and must chain to the client CA.
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    /// Whether a sent certificate is checked against the client CA.
    pub fn verifies(self) -> bool {
        matches!(
            self,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        )
    }

    /// Whether a client without a certificate is refused.
    pub fn mandatory(self) -> bool {
        matches!(
            self,
            ClientAuth::RequireAnyClientCert | ClientAuth::RequireAndVerifyClientCert
        )
    }
}

/// exporter-toolkit's TLS version names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum TlsVersion {
    /// TLS 1.0: not spoken by rustls.
    #[serde(rename = "TLS10")]
    Tls10,
    /// TLS 1.1: not spoken by rustls.
    #[serde(rename = "TLS11")]
    Tls11,
    /// TLS 1.2.
    #[serde(rename = "TLS12")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "TLS13")]
    Tls13,
}

/// The whole file, as written. Unknown keys are refused by serde, naming the key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    tls_server_config: Option<TlsServerConfig>,
    #[serde(default)]
    http_server_config: Option<HttpServerConfig>,
    #[serde(default)]
    basic_auth_users: Option<serde_norway::Value>,
    #[serde(default)]
    rate_limit: Option<serde_norway::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsServerConfig {
    #[serde(default)]
    cert: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    client_ca: Option<String>,
    #[serde(default)]
    cert_file: Option<PathBuf>,
    #[serde(default)]
    key_file: Option<PathBuf>,
    #[serde(default)]
    client_auth_type: Option<ClientAuth>,
    #[serde(default)]
    client_ca_file: Option<PathBuf>,
    #[serde(default)]
    cipher_suites: Option<Vec<String>>,
    #[serde(default)]
    curve_preferences: Option<Vec<String>>,
    #[serde(default)]
    min_version: Option<TlsVersion>,
    #[serde(default)]
    max_version: Option<TlsVersion>,
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    client_allowed_sans: Option<serde_norway::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpServerConfig {
    #[serde(default)]
    http2: Option<bool>,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
}

/// A valid web config, in rustls' terms.
///
/// # Invariants
/// `versions` is not empty; `cipher_suites` holds at least one suite of one of `versions`;
/// `kx_groups` is not empty; `client_ca` is set exactly when `client_auth` verifies.
#[derive(Debug)]
pub struct WebConfig {
    /// The certificate chain, end-entity first.
    pub cert: Pem,
    /// Its private key.
    pub key: Pem,
    /// Whether and how clients present certificates.
    pub client_auth: ClientAuth,
    /// The CA bundle client certificates must chain to (verifying modes only).
    pub client_ca: Option<Pem>,
    /// The protocol versions served, highest first.
    pub versions: Vec<&'static SupportedProtocolVersion>,
    /// The cipher suites served, in preference order.
    pub cipher_suites: Vec<SupportedCipherSuite>,
    /// The key exchange groups, in preference order.
    pub kx_groups: Vec<&'static dyn SupportedKxGroup>,
    /// `prefer_server_cipher_suites` (exporter-toolkit's default: true): the server's order
    /// of suites wins over the client's.
    pub prefer_server_order: bool,
    /// Things worth a log line at start that do not stop the agent.
    pub warnings: Vec<String>,
}

/// Parses the web config `contents`, read from `path`.
///
/// # Errors
/// When the file is not YAML, holds an unknown key, a bad value, or a key the agent does not
/// implement; every message names the key.
pub fn parse(contents: &[u8], path: &Path) -> Result<WebConfig, Error> {
    let file: File = if contents.iter().all(u8::is_ascii_whitespace) {
        File::default()
    } else {
        serde_norway::from_slice(contents).map_err(|e| Error::Syntax(e.to_string()))?
    };
    let dir = path.parent().unwrap_or(Path::new(""));
    if file.basic_auth_users.as_ref().is_some_and(non_empty) {
        return Err(Error::Unsupported {
            key: "basic_auth_users",
            why: "use --auth-filter, which checks bearer tokens with the API server",
        });
    }
    if file.rate_limit.as_ref().is_some_and(non_empty) {
        return Err(Error::Unsupported {
            key: "rate_limit",
            why: "a scrape is a load of shared bytes; limit clients with a NetworkPolicy",
        });
    }
    let mut warnings = Vec::new();
    if let Some(http) = &file.http_server_config {
        if http.headers.as_ref().is_some_and(|h| !h.is_empty()) {
            return Err(Error::Unsupported {
                key: "http_server_config.headers",
                why: "the agent sets no custom response headers",
            });
        }
        if http.http2 == Some(true) {
            warnings.push(
                "--tls-config: http_server_config.http2 is ignored: the agent serves HTTP/1.1 \
                 only"
                    .to_string(),
            );
        }
    }
    let tls = file.tls_server_config.unwrap_or_default();
    if tls.client_allowed_sans.as_ref().is_some_and(non_empty) {
        return Err(Error::Unsupported {
            key: "tls_server_config.client_allowed_sans",
            why: "verify clients with client_ca_file and a CA that issues only their certificates",
        });
    }
    let cert = pem(
        dir,
        tls.cert_file,
        tls.cert,
        "tls_server_config.cert_file",
        "tls_server_config.cert",
    )?
    .ok_or(Error::Invalid {
        key: "tls_server_config.cert_file",
        reason: "missing (set cert_file or cert): there is no certificate to serve".to_string(),
    })?;
    let key = pem(
        dir,
        tls.key_file,
        tls.key,
        "tls_server_config.key_file",
        "tls_server_config.key",
    )?
    .ok_or(Error::Invalid {
        key: "tls_server_config.key_file",
        reason: "missing (set key_file or key)".to_string(),
    })?;
    let client_ca = pem(
        dir,
        tls.client_ca_file,
        tls.client_ca,
        "tls_server_config.client_ca_file",
        "tls_server_config.client_ca",
    )?;
    let client_auth = tls.client_auth_type.unwrap_or_default();
    let client_ca = match (client_auth, client_ca) {
        (ClientAuth::NoClientCert, Some(_)) => {
            return Err(Error::Invalid {
                key: "tls_server_config.client_ca_file",
                reason: "a client CA is set but client_auth_type is NoClientCert".to_string(),
            });
        }
        (mode, None) if mode.verifies() => {
            return Err(Error::Invalid {
                key: "tls_server_config.client_ca_file",
                reason: format!(
                    "client_auth_type {mode:?} verifies client certificates and needs the CA \
                     they must chain to (client_ca_file or client_ca)"
                ),
            });
        }
        (mode, ca) if mode.verifies() => ca,
        (mode, Some(_)) => {
            warnings.push(format!(
                "--tls-config: tls_server_config.client_ca_file is not used with \
                 client_auth_type {mode:?}, which verifies no certificate"
            ));
            None
        }
        (_, None) => None,
    };
    let min = tls.min_version.unwrap_or(TlsVersion::Tls12);
    let max = tls.max_version.unwrap_or(TlsVersion::Tls13);
    if max < TlsVersion::Tls12 {
        return Err(Error::Invalid {
            key: "tls_server_config.max_version",
            reason: format!("{max:?}: rustls speaks TLS12 and TLS13 only"),
        });
    }
    if min > max {
        return Err(Error::Invalid {
            key: "tls_server_config.min_version",
            reason: format!("{min:?} is above max_version {max:?}"),
        });
    }
    if min < TlsVersion::Tls12 {
        warnings.push(format!(
            "--tls-config: tls_server_config.min_version {min:?} is served as TLS12: rustls \
             speaks TLS12 and TLS13 only"
        ));
    }
    let mut versions = Vec::new();
    if max >= TlsVersion::Tls13 {
        versions.push(&rustls::version::TLS13);
    }
    if min <= TlsVersion::Tls12 {
        versions.push(&rustls::version::TLS12);
    }
    let cipher_suites = cipher_suites(tls.cipher_suites.as_deref(), &versions)?;
    let kx_groups = kx_groups(tls.curve_preferences.as_deref())?;
    Ok(WebConfig {
        cert,
        key,
        client_auth,
        client_ca,
        versions,
        cipher_suites,
        kx_groups,
        prefer_server_order: tls.prefer_server_cipher_suites.unwrap_or(true),
        warnings,
    })
}

/// Whether an optional YAML value says something (not null, not an empty list or map).
fn non_empty(v: &serde_norway::Value) -> bool {
    match v {
        serde_norway::Value::Null => false,
        serde_norway::Value::Sequence(s) => !s.is_empty(),
        serde_norway::Value::Mapping(m) => !m.is_empty(),
        _ => true,
    }
}

/// The PEM given by a `*_file` key or its inline twin; setting both is refused.
fn pem(
    dir: &Path,
    file: Option<PathBuf>,
    inline: Option<String>,
    file_key: &'static str,
    inline_key: &'static str,
) -> Result<Option<Pem>, Error> {
    let file = file.filter(|f| !f.as_os_str().is_empty());
    let inline = inline.filter(|i| !i.trim().is_empty());
    match (file, inline) {
        (Some(_), Some(_)) => Err(Error::Invalid {
            key: file_key,
            reason: format!("set either {file_key} or {inline_key}, not both"),
        }),
        (Some(f), None) => Ok(Some(Pem::File(dir.join(f)))),
        (None, Some(i)) => Ok(Some(Pem::Inline(i))),
        (None, None) => Ok(None),
    }
}

/// Go's cipher suite names (`crypto/tls.CipherSuites()`, which exporter-toolkit accepts) and
/// the rustls suite each one is, `None` for those rustls does not implement.
const GO_CIPHER_SUITES: &[(&str, Option<CipherSuite>)] = &[
    (
        "TLS_AES_128_GCM_SHA256",
        Some(CipherSuite::TLS13_AES_128_GCM_SHA256),
    ),
    (
        "TLS_AES_256_GCM_SHA384",
        Some(CipherSuite::TLS13_AES_256_GCM_SHA384),
    ),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        Some(CipherSuite::TLS13_CHACHA20_POLY1305_SHA256),
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        Some(CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        Some(CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        Some(CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        Some(CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        Some(CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
    ),
    // Go's constant names for the same two suites.
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        Some(CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        Some(CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        Some(CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
    ),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", None),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", None),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", None),
    ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", None),
    ("TLS_RSA_WITH_AES_128_GCM_SHA256", None),
    ("TLS_RSA_WITH_AES_256_GCM_SHA384", None),
    ("TLS_RSA_WITH_AES_128_CBC_SHA", None),
    ("TLS_RSA_WITH_AES_256_CBC_SHA", None),
];

/// The suites `names` select among the ring provider's, in the order given; every suite of
/// `versions` when `names` is absent. A TLS 1.3 suite is kept unless a TLS 1.3 name is given.
fn cipher_suites(
    names: Option<&[String]>,
    versions: &[&'static SupportedProtocolVersion],
) -> Result<Vec<SupportedCipherSuite>, Error> {
    const KEY: &str = "tls_server_config.cipher_suites";
    let available = rustls::crypto::ring::default_provider().cipher_suites;
    let served = |s: &SupportedCipherSuite| versions.iter().any(|v| s.version() == *v);
    let Some(names) = names.filter(|n| !n.is_empty()) else {
        return Ok(available.into_iter().filter(served).collect());
    };
    let mut chosen = Vec::new();
    for name in names {
        let suite = match GO_CIPHER_SUITES.iter().find(|(go, _)| go == name) {
            Some((_, Some(suite))) => *suite,
            Some((_, None)) => {
                return Err(Error::Invalid {
                    key: KEY,
                    reason: format!(
                        "{name} is not implemented by rustls (no CBC or RSA key exchange suites)"
                    ),
                });
            }
            None => {
                return Err(Error::Invalid {
                    key: KEY,
                    reason: format!(
                        "unknown cipher suite {name:?} (Go's names, such as \
                         TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)"
                    ),
                });
            }
        };
        if let Some(s) = available.iter().find(|s| s.suite() == suite)
            && !chosen
                .iter()
                .any(|c: &SupportedCipherSuite| c.suite() == suite)
        {
            chosen.push(*s);
        }
    }
    let tls13 = |s: &SupportedCipherSuite| s.version() == &rustls::version::TLS13;
    if !chosen.iter().any(tls13) {
        // Go's list applies to TLS 1.2 only: TLS 1.3 keeps every suite.
        chosen.extend(available.iter().filter(|s| tls13(s)).copied());
    }
    chosen.retain(served);
    if chosen.is_empty() {
        return Err(Error::Invalid {
            key: KEY,
            reason: "none of the suites named is usable with min_version..max_version".to_string(),
        });
    }
    Ok(chosen)
}

/// exporter-toolkit's curve names and the ring provider's groups, `None` where ring has none.
const GO_CURVES: &[(&str, Option<NamedGroup>)] = &[
    ("X25519", Some(NamedGroup::X25519)),
    ("CurveP256", Some(NamedGroup::secp256r1)),
    ("CurveP384", Some(NamedGroup::secp384r1)),
    ("CurveP521", None),
];

/// The key exchange groups `names` select, in the order given; all of ring's when absent.
fn kx_groups(names: Option<&[String]>) -> Result<Vec<&'static dyn SupportedKxGroup>, Error> {
    const KEY: &str = "tls_server_config.curve_preferences";
    let available = rustls::crypto::ring::default_provider().kx_groups;
    let Some(names) = names.filter(|n| !n.is_empty()) else {
        return Ok(available);
    };
    let mut chosen: Vec<&'static dyn SupportedKxGroup> = Vec::new();
    for name in names {
        let group = match GO_CURVES.iter().find(|(go, _)| go == name) {
            Some((_, Some(g))) => *g,
            Some((_, None)) => {
                return Err(Error::Invalid {
                    key: KEY,
                    reason: format!("{name} is not implemented by rustls' ring provider"),
                });
            }
            None => {
                return Err(Error::Invalid {
                    key: KEY,
                    reason: format!("unknown curve {name:?} (X25519, CurveP256, CurveP384)"),
                });
            }
        };
        if let Some(g) = available.iter().find(|g| g.name() == group)
            && !chosen.iter().any(|c| c.name() == group)
        {
            chosen.push(*g);
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(yaml: &str) -> Result<WebConfig, Error> {
        parse(yaml.as_bytes(), Path::new("/etc/ksa/web.yaml"))
    }

    fn err(yaml: &str) -> String {
        web(yaml).expect_err(yaml).to_string()
    }

    const MINIMAL: &str = "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n";

    #[test]
    fn a_minimal_file_serves_tls12_and_tls13_with_paths_next_to_the_file() {
        let c = web(MINIMAL).unwrap();
        assert_eq!(c.cert, Pem::File("/etc/ksa/tls.crt".into()));
        assert_eq!(c.key, Pem::File("/etc/ksa/tls.key".into()));
        assert_eq!(c.client_auth, ClientAuth::NoClientCert);
        assert_eq!(c.client_ca, None);
        assert_eq!(
            c.versions,
            [&rustls::version::TLS13, &rustls::version::TLS12]
        );
        assert_eq!(
            c.cipher_suites.len(),
            rustls::crypto::ring::default_provider().cipher_suites.len()
        );
        assert!(c.prefer_server_order);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn every_implemented_key_is_read() {
        let c = web("tls_server_config:
  cert_file: /abs/tls.crt
  key_file: tls.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  min_version: TLS13
  max_version: TLS13
  cipher_suites: [TLS_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
  curve_preferences: [CurveP384, X25519]
  prefer_server_cipher_suites: false
http_server_config:
  http2: false
")
        .unwrap();
        assert_eq!(c.cert, Pem::File("/abs/tls.crt".into()));
        assert_eq!(c.client_auth, ClientAuth::RequireAndVerifyClientCert);
        assert_eq!(c.client_ca, Some(Pem::File("/etc/ksa/ca.crt".into())));
        assert_eq!(c.versions, [&rustls::version::TLS13]);
        // The TLS 1.2 suite is dropped: max and min are TLS13.
        let suites: Vec<_> = c.cipher_suites.iter().map(|s| s.suite()).collect();
        assert_eq!(suites, [CipherSuite::TLS13_AES_256_GCM_SHA384]);
        let groups: Vec<_> = c.kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(groups, [NamedGroup::secp384r1, NamedGroup::X25519]);
        assert!(!c.prefer_server_order);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn inline_pems_are_accepted_and_both_forms_at_once_refused() {
        let c = web(
            "tls_server_config:\n  cert: \"-----BEGIN CERTIFICATE-----\"\n  key: k\n  \
             client_auth_type: VerifyClientCertIfGiven\n  client_ca: c\n",
        )
        .unwrap();
        assert_eq!(
            c.cert,
            Pem::Inline("-----BEGIN CERTIFICATE-----".to_string())
        );
        assert_eq!(c.key, Pem::Inline("k".to_string()));
        assert_eq!(c.client_ca, Some(Pem::Inline("c".to_string())));
        let e = err("tls_server_config:\n  cert_file: a\n  cert: b\n  key_file: k\n");
        assert!(e.contains("tls_server_config.cert_file"), "{e}");
        assert!(e.contains("not both"), "{e}");
    }

    #[test]
    fn go_tls12_cipher_names_keep_every_tls13_suite_as_go_does() {
        let c = web(&format!(
            "{MINIMAL}  cipher_suites: [TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305]\n"
        ))
        .unwrap();
        let suites: Vec<_> = c.cipher_suites.iter().map(|s| s.suite()).collect();
        assert_eq!(
            suites[0],
            CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        );
        assert_eq!(
            suites.len(),
            4,
            "one TLS 1.2 suite and the three TLS 1.3 ones"
        );
        let c = web(&format!(
            "{MINIMAL}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n  \
             max_version: TLS12\n"
        ))
        .unwrap();
        assert_eq!(c.versions, [&rustls::version::TLS12]);
        let suites: Vec<_> = c.cipher_suites.iter().map(|s| s.suite()).collect();
        assert_eq!(suites, [CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]);
    }

    #[test]
    fn an_unknown_or_unimplemented_cipher_suite_is_named() {
        let e = err(&format!("{MINIMAL}  cipher_suites: [TLS_FANCY_CIPHER]\n"));
        assert!(e.starts_with("tls_server_config.cipher_suites"), "{e}");
        assert!(e.contains("TLS_FANCY_CIPHER"), "{e}");
        let e = err(&format!(
            "{MINIMAL}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]\n"
        ));
        assert!(e.contains("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"), "{e}");
        assert!(e.contains("not implemented by rustls"), "{e}");
        let e = err(&format!(
            "{MINIMAL}  cipher_suites: [TLS_AES_128_GCM_SHA256]\n  max_version: TLS12\n"
        ));
        assert!(e.contains("none of the suites"), "{e}");
    }

    #[test]
    fn versions_are_checked_and_tls10_and_tls11_mean_tls12() {
        let c = web(&format!("{MINIMAL}  min_version: TLS10\n")).unwrap();
        assert_eq!(
            c.versions,
            [&rustls::version::TLS13, &rustls::version::TLS12]
        );
        assert!(
            c.warnings[0].contains("min_version Tls10"),
            "{:?}",
            c.warnings
        );
        let e = err(&format!("{MINIMAL}  max_version: TLS11\n"));
        assert!(e.starts_with("tls_server_config.max_version"), "{e}");
        let e = err(&format!(
            "{MINIMAL}  min_version: TLS13\n  max_version: TLS12\n"
        ));
        assert!(e.starts_with("tls_server_config.min_version"), "{e}");
        let e = err(&format!("{MINIMAL}  min_version: TLS14\n"));
        assert!(e.contains("min_version") && e.contains("TLS14"), "{e}");
        let e = err(&format!("{MINIMAL}  max_version: 1.3\n"));
        assert!(e.contains("max_version"), "{e}");
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let e = err(&format!("{MINIMAL}  cert_flie: x\n"));
        assert!(e.contains("cert_flie"), "{e}");
        let e = err(&format!("{MINIMAL}tls_sever_config: {{}}\n"));
        assert!(e.contains("tls_sever_config"), "{e}");
        let e = err(&format!("{MINIMAL}http_server_config:\n  http3: true\n"));
        assert!(e.contains("http3"), "{e}");
    }

    #[test]
    fn client_auth_types_follow_exporter_toolkit() {
        for (name, mode) in [
            ("NoClientCert", ClientAuth::NoClientCert),
            ("RequestClientCert", ClientAuth::RequestClientCert),
            ("RequireAnyClientCert", ClientAuth::RequireAnyClientCert),
            ("RequireClientCert", ClientAuth::RequireAnyClientCert),
        ] {
            let c = web(&format!("{MINIMAL}  client_auth_type: {name}\n")).unwrap();
            assert_eq!(c.client_auth, mode, "{name}");
            assert!(c.client_ca.is_none(), "{name}");
        }
        let e = err(&format!("{MINIMAL}  client_auth_type: AnyCert\n"));
        assert!(
            e.contains("client_auth_type") && e.contains("AnyCert"),
            "{e}"
        );
        // A CA without a mode asking for certificates: exporter-toolkit refuses it too.
        let e = err(&format!("{MINIMAL}  client_ca_file: ca.crt\n"));
        assert!(e.starts_with("tls_server_config.client_ca_file"), "{e}");
        for mode in ["VerifyClientCertIfGiven", "RequireAndVerifyClientCert"] {
            let e = err(&format!("{MINIMAL}  client_auth_type: {mode}\n"));
            assert!(e.contains("client_ca_file") && e.contains(mode), "{e}");
        }
        let c = web(&format!(
            "{MINIMAL}  client_auth_type: RequestClientCert\n  client_ca_file: ca.crt\n"
        ))
        .unwrap();
        assert!(c.client_ca.is_none());
        assert!(c.warnings[0].contains("client_ca_file"), "{:?}", c.warnings);
    }

    #[test]
    fn curves_are_mapped_and_p521_is_refused() {
        let e = err(&format!("{MINIMAL}  curve_preferences: [CurveP521]\n"));
        assert!(
            e.contains("curve_preferences") && e.contains("CurveP521"),
            "{e}"
        );
        let e = err(&format!("{MINIMAL}  curve_preferences: [P256]\n"));
        assert!(e.contains("P256"), "{e}");
    }

    #[test]
    fn keys_that_would_widen_access_if_ignored_are_refused() {
        for (yaml, key) in [
            ("basic_auth_users:\n  alice: $2y$10$x\n", "basic_auth_users"),
            ("rate_limit:\n  burst: 10\n", "rate_limit"),
            (
                "http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
                "http_server_config.headers",
            ),
            (
                "  client_allowed_sans: [a.example]\n",
                "tls_server_config.client_allowed_sans",
            ),
        ] {
            let e = err(&format!("{MINIMAL}{yaml}"));
            assert!(e.starts_with(key), "{key}: {e}");
            assert!(e.contains("not supported"), "{key}: {e}");
        }
        let c = web(&format!("{MINIMAL}basic_auth_users: {{}}\n")).unwrap();
        assert!(c.warnings.is_empty());
        let c = web(&format!("{MINIMAL}http_server_config:\n  http2: true\n")).unwrap();
        assert!(c.warnings[0].contains("HTTP/1.1"), "{:?}", c.warnings);
    }

    #[test]
    fn a_file_without_a_certificate_is_refused() {
        for yaml in [
            "",
            "tls_server_config: {}\n",
            "http_server_config:\n  http2: false\n",
        ] {
            let e = err(yaml);
            assert!(e.starts_with("tls_server_config.cert_file"), "{e}");
        }
        let e = err("tls_server_config:\n  cert_file: a\n");
        assert!(e.starts_with("tls_server_config.key_file"), "{e}");
    }
}
