//! TLS for both HTTP ports: `--tls-config FILE`, Prometheus exporter-toolkit's web config, made
//! into one rustls [`ServerConfig`] whose certificate and client CA follow their files.
//!
//! [`ServerTls::load`] reads everything at start and fails naming the flag, the key and the
//! file. [`ServerTls::follow_files`] then watches the directories of the certificate, key and
//! client CA (a cert-manager or Secret volume rotation swaps a symlink in the directory, as
//! `crate::reload` explains) and re-reads them on change. A new certificate is published only
//! once it parses and its key matches, a new CA only once it makes a verifier, so a handshake
//! never meets a half-written file: a bad file keeps the previous version, is logged, and is
//! counted in `ksa_tls_reloads_total{result="failure"}`. The protocol settings of the web config
//! itself (versions, suites, client auth type) are read once; changing them needs a restart.
//!
//! This module builds TLS configuration only; accepting connections is `super::serve`'s.
//! See [`ServerTls::load`].

mod certs;
pub mod web_config;

#[cfg(test)]
pub(crate) use certs::tests as tests_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use tokio::sync::watch;

use crate::reload::FileWatch;
use crate::telemetry::Telemetry;
use certs::{CertResolver, ClientVerifier, certified_key, not_after, root_store};
use web_config::{Pem, WebConfig};

/// A `--tls-config` that cannot be served. Fatal at start.
#[derive(Debug, thiserror::Error)]
#[error("--tls-config {}: {kind}", path.display())]
pub struct Error {
    /// The web config file.
    pub path: PathBuf,
    /// What is wrong (boxed: a `Result` carrying it stays small).
    pub kind: Box<ErrorKind>,
}

/// What is wrong with a `--tls-config`.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// The web config file cannot be read.
    #[error("cannot read it: {0}")]
    Read(#[source] std::io::Error),
    /// Its content is not valid.
    #[error(transparent)]
    WebConfig(#[from] web_config::Error),
    /// A file it names cannot be read.
    #[error("{key} {}: {source}", file.display())]
    ReadFile {
        /// The key naming the file.
        key: &'static str,
        /// The file.
        file: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A PEM it names or holds is not a usable certificate, key or CA.
    #[error("{key}: {source}")]
    Pem {
        /// The key (for a file, followed by its path).
        key: String,
        /// What is wrong.
        #[source]
        source: certs::Error,
    },
    /// rustls refused the combination of settings.
    #[error("building the TLS configuration: {0}")]
    Config(#[source] rustls::Error),
}

/// The TLS side of both servers: the [`ServerConfig`] handshakes use, and what reloads its
/// certificate and client CA.
pub struct ServerTls {
    path: PathBuf,
    web: WebConfig,
    config: Arc<ServerConfig>,
    resolver: Arc<CertResolver>,
    verifier: Arc<ClientVerifier>,
    /// The bytes each reloadable input had when last read (good or bad), so an event in the
    /// directory that changed none of them is not counted as a reload.
    seen: Seen,
}

#[derive(Default, PartialEq, Eq)]
struct Seen {
    web_config: Vec<u8>,
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Vec<u8>,
}

impl ServerTls {
    /// Reads the web config at `path` and everything it names, and builds the server config.
    ///
    /// # Errors
    /// When a file cannot be read, the web config is not valid or names something the agent
    /// does not implement, the certificate and key do not parse or do not match, or the client
    /// CA is not usable; the error names `--tls-config`, the key and the file.
    pub fn load(path: &Path) -> Result<ServerTls, Error> {
        let fail = |kind| Error {
            path: path.to_path_buf(),
            kind: Box::new(kind),
        };
        let contents = std::fs::read(path).map_err(|e| fail(ErrorKind::Read(e)))?;
        let web = web_config::parse(&contents, path).map_err(|e| fail(e.into()))?;
        let provider = Arc::new(CryptoProvider {
            cipher_suites: web.cipher_suites.clone(),
            kx_groups: web.kx_groups.clone(),
            ..rustls::crypto::ring::default_provider()
        });
        let cert = read(&web.cert, "tls_server_config.cert_file").map_err(fail)?;
        let key = read(&web.key, "tls_server_config.key_file").map_err(fail)?;
        let first = certified_key(&cert, &key, &provider).map_err(|source| {
            fail(ErrorKind::Pem {
                key: describe(&web.cert, "tls_server_config.cert_file", "key_file"),
                source,
            })
        })?;
        let client_ca = match &web.client_ca {
            Some(pem) => read(pem, "tls_server_config.client_ca_file").map_err(fail)?,
            None => Vec::new(),
        };
        let roots = match &web.client_ca {
            Some(pem) => Some(root_store(&client_ca).map_err(|source| {
                fail(ErrorKind::Pem {
                    key: describe(pem, "tls_server_config.client_ca_file", ""),
                    source,
                })
            })?),
            None => None,
        };
        let verifier = Arc::new(
            ClientVerifier::new(web.client_auth, roots, provider.clone()).map_err(|source| {
                fail(ErrorKind::Pem {
                    key: "tls_server_config.client_ca_file".to_string(),
                    source,
                })
            })?,
        );
        let resolver = Arc::new(CertResolver::new(first));
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&web.versions)
            .map_err(|e| fail(ErrorKind::Config(e)))?
            .with_client_cert_verifier(verifier.clone())
            .with_cert_resolver(resolver.clone());
        // HTTP/1.1 only, said explicitly so a client offering h2 first falls back at once.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.ignore_client_order = web.prefer_server_order;
        Ok(ServerTls {
            path: path.to_path_buf(),
            config: Arc::new(config),
            resolver,
            verifier,
            seen: Seen {
                web_config: contents,
                cert,
                key,
                client_ca,
            },
            web,
        })
    }

    /// The configuration every TLS handshake of both ports uses.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }

    /// Things worth a log line that do not stop the agent (TLS10 read as TLS12, …).
    pub fn warnings(&self) -> &[String] {
        &self.web.warnings
    }

    /// Reports the served certificate's expiry and starts watching the directories of the
    /// certificate, key, client CA and web config; the returned future re-reads them whenever
    /// a directory changes, until `stop` turns true.
    ///
    /// The watches are in place when this returns, so a change made after it is never missed.
    pub fn follow_files(
        mut self,
        telemetry: Telemetry,
        mut stop: watch::Receiver<bool>,
    ) -> impl Future<Output = ()> + Send + 'static {
        telemetry.tls_certificate_expiry(not_after(&self.resolver.current().cert[0]));
        let pems = [
            Some(&self.web.cert),
            Some(&self.web.key),
            self.web.client_ca.as_ref(),
        ];
        let mut dirs: Vec<&Path> = Vec::new();
        let mut watches = Vec::new();
        for file in pems
            .into_iter()
            .flatten()
            .filter_map(Pem::file)
            .chain([self.path.as_path()])
        {
            let dir = file.parent().unwrap_or(Path::new(""));
            if dirs.contains(&dir) {
                continue;
            }
            dirs.push(dir);
            // A FileWatch watches the directory of the file it is given.
            match FileWatch::start(file) {
                Ok(w) => watches.push(w),
                Err(e) => tracing::error!(dir = %dir.display(), error = %e,
                    "cannot watch a TLS directory; its files are not reloaded"),
            }
        }
        async move {
            if watches.is_empty() {
                return;
            }
            loop {
                let changed =
                    futures::future::select_all(watches.iter_mut().map(|w| Box::pin(w.changed())));
                tokio::select! {
                    _ = changed => self.reload(&telemetry),
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
    }

    /// Re-reads every reloadable input and publishes those that changed and are valid.
    fn reload(&mut self, telemetry: &Telemetry) {
        if let Ok(contents) = std::fs::read(&self.path)
            && contents != self.seen.web_config
        {
            self.seen.web_config = contents;
            tracing::warn!(file = %self.path.display(),
                "--tls-config changed: its certificate, key and client CA files are reloaded, \
                 its other settings take effect after a restart");
        }
        self.reload_certificate(telemetry);
        self.reload_client_ca(telemetry);
    }

    fn reload_certificate(&mut self, telemetry: &Telemetry) {
        let (Pem::File(cert_file), Pem::File(key_file)) = (&self.web.cert, &self.web.key) else {
            // One of them is inline: the pair cannot change without a restart.
            return;
        };
        let read = |f: &Path| std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()));
        let pair = read(cert_file).and_then(|c| Ok((c, read(key_file)?)));
        let (cert, key) = match pair {
            Ok((cert, key)) if cert == self.seen.cert && key == self.seen.key => return,
            Ok(pair) => pair,
            Err(e) => {
                // Missing mid-rotation, or gone: keep serving, try again at the next event.
                tracing::error!(error = %e, "cannot read the TLS certificate or key; \
                    keeping the served certificate");
                telemetry.tls_reload(false);
                return;
            }
        };
        let result = certified_key(&cert, &key, &self.config.crypto_provider().clone());
        self.seen.cert = cert;
        self.seen.key = key;
        match result {
            Ok(next) => {
                let expiry = not_after(&next.cert[0]);
                self.resolver.publish(next);
                telemetry.tls_reload(true);
                telemetry.tls_certificate_expiry(expiry);
                tracing::info!(cert = %cert_file.display(), not_after = expiry.unwrap_or_default(),
                    "serving a new TLS certificate");
            }
            Err(e) => {
                telemetry.tls_reload(false);
                tracing::error!(cert = %cert_file.display(), key = %key_file.display(),
                    error = %e,
                    "the new TLS certificate or key is not usable; keeping the served one");
            }
        }
    }

    fn reload_client_ca(&mut self, telemetry: &Telemetry) {
        let Some(Pem::File(file)) = &self.web.client_ca else {
            return;
        };
        let ca = match std::fs::read(file) {
            Ok(ca) if ca == self.seen.client_ca => return,
            Ok(ca) => ca,
            Err(e) => {
                tracing::error!(file = %file.display(), error = %e,
                    "cannot read the TLS client CA; keeping the current one");
                telemetry.tls_reload(false);
                return;
            }
        };
        let result = root_store(&ca).and_then(|roots| self.verifier.publish(roots));
        self.seen.client_ca = ca;
        match result {
            Ok(()) => {
                telemetry.tls_reload(true);
                tracing::info!(file = %file.display(), "verifying clients with a new CA");
            }
            Err(e) => {
                telemetry.tls_reload(false);
                tracing::error!(file = %file.display(), error = %e,
                    "the new TLS client CA is not usable; keeping the current one");
            }
        }
    }
}

/// The bytes of a PEM input; a file's read error names `key` and the file.
fn read(pem: &Pem, key: &'static str) -> Result<Vec<u8>, ErrorKind> {
    match pem {
        Pem::File(file) => std::fs::read(file).map_err(|source| ErrorKind::ReadFile {
            key,
            file: file.clone(),
            source,
        }),
        Pem::Inline(text) => Ok(text.as_bytes().to_vec()),
    }
}

/// How an error names a PEM input: the file key and path, or the inline key.
fn describe(pem: &Pem, file_key: &str, also: &str) -> String {
    let inline_key = file_key.trim_end_matches("_file");
    match pem {
        Pem::File(f) if also.is_empty() => format!("{file_key} {}", f.display()),
        Pem::File(f) => format!("{file_key} {} (with its {also})", f.display()),
        Pem::Inline(_) => inline_key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::certs::tests::{Ca, Issued};
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;

    /// A private directory for one test's files, removed on drop.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let dir = std::env::temp_dir().join(format!("ksa-tls-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }

        fn write(&self, name: &str, contents: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, contents).unwrap();
            path
        }

        fn pair(&self, issued: &Issued) {
            self.write("tls.crt", &issued.cert);
            self.write("tls.key", &issued.key);
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn der(pem: &str) -> Vec<u8> {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .to_vec()
    }

    fn served(tls: &ServerTls) -> Vec<u8> {
        tls.resolver.current().cert[0].to_vec()
    }

    fn reloads(t: &Telemetry, result: &str) -> f64 {
        t.value("ksa_tls_reloads_total", &[("result", result)])
            .unwrap_or(0.0)
    }

    const WEB: &str = "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n";

    #[test]
    fn a_new_pair_is_served_and_a_bad_one_keeps_the_last_good_certificate() {
        let dir = Dir::new("swap");
        let ca = Ca::new("ca");
        let (a, b) = (ca.issue("a", None), ca.issue("b", Some((2049, 12, 31))));
        dir.pair(&a);
        let mut tls = ServerTls::load(&dir.write("web.yaml", WEB)).unwrap();
        let t = Telemetry::new();
        assert_eq!(served(&tls), der(&a.cert));

        tls.reload(&t);
        assert_eq!(
            reloads(&t, "success") + reloads(&t, "failure"),
            0.0,
            "nothing changed"
        );

        dir.pair(&b);
        tls.reload(&t);
        assert_eq!(served(&tls), der(&b.cert));
        assert_eq!(reloads(&t, "success"), 1.0);
        assert_eq!(
            t.value("ksa_tls_certificate_expiry_timestamp_seconds", &[]),
            Some(2_524_521_600.0)
        );

        // Truncated mid-write, then a certificate with another pair's key.
        dir.write("tls.crt", &b.cert[..b.cert.len() / 2]);
        tls.reload(&t);
        assert_eq!(served(&tls), der(&b.cert));
        dir.write("tls.crt", &a.cert);
        tls.reload(&t);
        assert_eq!(served(&tls), der(&b.cert));
        assert_eq!(reloads(&t, "failure"), 2.0);
        // A directory event that changes nothing does not count the same bad pair again.
        tls.reload(&t);
        assert_eq!(reloads(&t, "failure"), 2.0);

        // The key follows: the pair is whole again.
        dir.write("tls.key", &a.key);
        tls.reload(&t);
        assert_eq!(served(&tls), der(&a.cert));
        assert_eq!(reloads(&t, "success"), 2.0);
    }

    #[test]
    fn a_bad_client_ca_keeps_the_current_one() {
        let dir = Dir::new("ca");
        let (ca1, ca2) = (Ca::new("ca1"), Ca::new("ca2"));
        dir.pair(&ca1.issue("server", None));
        dir.write("ca.crt", &ca1.pem);
        let web = format!(
            "{WEB}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"
        );
        let mut tls = ServerTls::load(&dir.write("web.yaml", &web)).unwrap();
        let t = Telemetry::new();
        use rustls::server::danger::ClientCertVerifier as _;
        let verifies = |tls: &ServerTls, issued: &Issued| {
            let cert = CertificateDer::from(der(&issued.cert));
            tls.verifier
                .verify_client_cert(&cert, &[], rustls::pki_types::UnixTime::now())
                .is_ok()
        };
        let (c1, c2) = (ca1.issue("c1", None), ca2.issue("c2", None));
        assert!(verifies(&tls, &c1) && !verifies(&tls, &c2));
        dir.write("ca.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n");
        tls.reload(&t);
        assert!(verifies(&tls, &c1) && !verifies(&tls, &c2));
        assert_eq!(reloads(&t, "failure"), 1.0);
        dir.write("ca.crt", &ca2.pem);
        tls.reload(&t);
        assert!(!verifies(&tls, &c1) && verifies(&tls, &c2));
        assert_eq!(reloads(&t, "success"), 1.0);
    }

    #[test]
    fn load_errors_name_the_flag_the_key_and_the_file() {
        let dir = Dir::new("errors");
        let missing = dir.0.join("nope.yaml");
        let e = ServerTls::load(&missing).err().unwrap().to_string();
        assert!(
            e.starts_with(&format!("--tls-config {}", missing.display())),
            "{e}"
        );

        let web = dir.write("web.yaml", WEB);
        let e = ServerTls::load(&web).err().unwrap().to_string();
        assert!(
            e.contains("tls_server_config.cert_file") && e.contains("tls.crt"),
            "{e}"
        );

        let ca = Ca::new("ca");
        let (a, b) = (ca.issue("a", None), ca.issue("b", None));
        dir.write("tls.crt", &a.cert);
        dir.write("tls.key", &b.key);
        let e = ServerTls::load(&web).err().unwrap().to_string();
        assert!(e.contains("tls_server_config.cert_file"), "{e}");
        assert!(e.contains("certificate and private key"), "{e}");

        let e = ServerTls::load(&dir.write("bad.yaml", "tls_server_config:\n  crt: x\n"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("bad.yaml") && e.contains("crt"), "{e}");
    }

    #[tokio::test]
    async fn a_rotation_by_symlink_swap_is_picked_up_by_the_watch() {
        // The Secret volume layout: tls.crt -> ..data/tls.crt, ..data -> a timestamped dir.
        let dir = Dir::new("watch");
        let ca = Ca::new("ca");
        let (a, b) = (ca.issue("a", None), ca.issue("b", None));
        for (version, issued) in [("v1", &a), ("v2", &b)] {
            std::fs::create_dir_all(dir.0.join(version)).unwrap();
            dir.write(&format!("{version}/tls.crt"), &issued.cert);
            dir.write(&format!("{version}/tls.key"), &issued.key);
        }
        let link = |target: &str, name: &str| {
            std::os::unix::fs::symlink(target, dir.0.join(name)).unwrap();
        };
        link("v1", "..data");
        link("..data/tls.crt", "tls.crt");
        link("..data/tls.key", "tls.key");
        let tls = ServerTls::load(&dir.write("web.yaml", WEB)).unwrap();
        let resolver = tls.resolver.clone();
        let t = Telemetry::new();
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(tls.follow_files(t.clone(), stop_rx));

        // Swap ..data atomically, as the kubelet does.
        link("v2", "..data_tmp");
        std::fs::rename(dir.0.join("..data_tmp"), dir.0.join("..data")).unwrap();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while resolver.current().cert[0].as_ref() != der(&b.cert) {
            assert!(tokio::time::Instant::now() < deadline, "rotation not seen");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(reloads(&t, "success"), 1.0);
        assert_eq!(reloads(&t, "failure"), 0.0);
        stop_tx.send(true).unwrap();
        task.await.unwrap();
    }
}
