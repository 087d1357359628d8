//! One accept loop for both ports, plain or TLS: accept, set TCP_NODELAY, handshake when TLS
//! is on (bounded by [`HANDSHAKE_TIMEOUT`]), then serve the router over HTTP/1.1 with hyper,
//! as `axum::serve` does, until the shutdown future completes.
//!
//! A connection's failure, the handshake's included, ends that connection only: it is logged
//! at debug and, for a handshake, counted in `ksa_tls_handshake_errors_total`. Shutdown stops
//! accepting, lets each connection finish the request in flight (hyper's graceful shutdown),
//! drops handshakes still under way, and returns once every connection has closed. This module
//! knows routers and sockets; what a request means is the routers'. See [`serve`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::telemetry::Telemetry;

/// How long a client may take to complete the TLS handshake after connecting. A client that
/// never finishes it (a port scanner, a plain-HTTP scraper) does not hold a task for longer.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound listener and how its connections are served.
pub struct Listener {
    /// The bound socket.
    pub tcp: TcpListener,
    /// The TLS configuration; `None` serves plain HTTP.
    pub tls: Option<Arc<ServerConfig>>,
    /// `metrics` or `telemetry`: the `listener` label of its handshake errors.
    pub name: &'static str,
}

/// Serves `router` on `listener` until `shutdown` completes, then waits for the open
/// connections to finish.
///
/// Accept errors are never fatal: one that concerns a single connection is skipped, any other
/// (out of file descriptors) is logged and retried after a second, as `axum::serve` does.
pub async fn serve(
    listener: Listener,
    router: Router,
    telemetry: Telemetry,
    shutdown: impl Future<Output = ()>,
) {
    let Listener { tcp, tls, name } = listener;
    let acceptor = tls.map(TlsAcceptor::from);
    // Connections hold a receiver each: `stop` tells them to shut down, and `closed`
    // completes once the last one has dropped its receiver.
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = tcp.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    tracing::error!(listener = name, error = %e, "accept failed; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        no_delay(&stream);
        let conn = Connection {
            router: router.clone(),
            stop: stop_rx.clone(),
            peer,
        };
        match &acceptor {
            None => {
                tokio::spawn(conn.serve(stream));
            }
            Some(acceptor) => {
                let handshake = acceptor.accept(stream);
                let telemetry = telemetry.clone();
                tokio::spawn(async move {
                    let mut stop = conn.stop.clone();
                    let tls = tokio::select! {
                        r = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake) => r,
                        _ = stop.wait_for(|s| *s) => return,
                    };
                    match tls {
                        Ok(Ok(stream)) => conn.serve(stream).await,
                        Ok(Err(e)) => {
                            tracing::debug!(listener = name, peer = %conn.peer, error = %e,
                                "TLS handshake failed");
                            telemetry.tls_handshake_error(name, "error");
                        }
                        Err(_) => {
                            tracing::debug!(listener = name, peer = %conn.peer,
                                "TLS handshake timed out");
                            telemetry.tls_handshake_error(name, "timeout");
                        }
                    }
                });
            }
        }
    }
    drop(tcp);
    drop(stop_rx);
    let _ = stop_tx.send(true);
    stop_tx.closed().await;
}

/// One accepted connection, before its protocol is known.
struct Connection {
    router: Router,
    stop: watch::Receiver<bool>,
    peer: SocketAddr,
}

impl Connection {
    /// Serves HTTP on `io` until the client closes it, or until shutdown once the request in
    /// flight is answered.
    async fn serve<I>(mut self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = TowerToHyperService::new(self.router);
        let builder = Builder::new(TokioExecutor::new());
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        tokio::pin!(conn);
        let mut stopping = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::trace!(peer = %self.peer, error = %e,
                            "connection ended with an error");
                    }
                    return;
                }
                _ = self.stop.wait_for(|s| *s), if !stopping => {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// A body is sent as many chunks; without TCP_NODELAY the last small segment of a response
/// waits for the scraper's delayed ACK (40 ms on Linux).
fn no_delay(tcp: &TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY could not be set");
    }
}

/// Errors of `accept` that concern one connection only (hyper's and axum's list).
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use rustls::pki_types::pem::PemObject as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    async fn get_over<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) -> String {
        s.write_all(b"GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        // A TLS port answers plain HTTP with an alert and a reset: whatever arrived is enough.
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    async fn start(
        tls: Option<Arc<ServerConfig>>,
    ) -> (
        SocketAddr,
        watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
        Telemetry,
    ) {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let router = Router::new().route("/x", get(|| async { "hello" }));
        let (tx, mut rx) = watch::channel(false);
        let telemetry = Telemetry::new();
        let task = tokio::spawn(serve(
            Listener {
                tcp,
                tls,
                name: "metrics",
            },
            router,
            telemetry.clone(),
            async move {
                let _ = rx.wait_for(|s| *s).await;
            },
        ));
        (addr, tx, task, telemetry)
    }

    #[tokio::test]
    async fn plain_http_is_served_and_shutdown_ends_the_loop() {
        let (addr, stop, task, _) = start(None).await;
        let tcp = TcpStream::connect(addr).await.unwrap();
        let answer = get_over(tcp).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("hello"), "{answer}");
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "no longer listening"
        );
    }

    #[tokio::test]
    async fn a_connection_idle_at_shutdown_does_not_hold_it_up() {
        let (addr, stop, task, _) = start(None).await;
        let _idle = TcpStream::connect(addr).await.unwrap();
        // Wait until the connection is accepted: a request on a second one is answered after.
        let answer = get_over(TcpStream::connect(addr).await.unwrap()).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("an idle keep-alive connection is closed at shutdown")
            .unwrap();
    }

    #[tokio::test]
    async fn a_failed_handshake_is_counted_and_the_listener_keeps_serving() {
        let dir = std::env::temp_dir().join(format!("ksa-serve-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = crate::http::tls::tests_support::Ca::new("ca");
        let issued = ca.issue("server", None);
        std::fs::write(dir.join("tls.crt"), &issued.cert).unwrap();
        std::fs::write(dir.join("tls.key"), &issued.key).unwrap();
        std::fs::write(
            dir.join("web.yaml"),
            "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n",
        )
        .unwrap();
        let tls = crate::http::tls::ServerTls::load(&dir.join("web.yaml")).unwrap();
        let (addr, stop, task, telemetry) = start(Some(tls.config())).await;

        // Plain HTTP to the TLS port: not a handshake.
        let answer = get_over(TcpStream::connect(addr).await.unwrap()).await;
        assert!(!answer.contains("hello"), "{answer}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let errors = || {
            telemetry.value(
                "ksa_tls_handshake_errors_total",
                &[("listener", "metrics"), ("reason", "error")],
            )
        };
        while errors() != Some(1.0) {
            assert!(tokio::time::Instant::now() < deadline, "not counted");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        // A client trusting the CA gets an answer.
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(
            rustls::pki_types::CertificateDer::pem_slice_iter(ca.pem.as_bytes()).flatten(),
        );
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let stream = tokio_rustls::TlsConnector::from(Arc::new(client))
            .connect(name, tcp)
            .await
            .unwrap();
        let answer = get_over(stream).await;
        assert!(answer.ends_with("hello"), "{answer}");

        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
