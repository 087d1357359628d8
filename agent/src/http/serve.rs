//! One accept loop for both ports, plain or TLS: accept, set TCP_NODELAY, handshake when TLS
//! is on (bounded by [`HANDSHAKE_TIMEOUT`]), then serve the router over HTTP/1.1 with hyper,
//! as `axum::serve` does, until the shutdown future completes.
//!
//! A connection's failure, the handshake's included, ends that connection only: it is logged
//! at debug and, for a handshake, counted in `ksa_tls_handshake_errors_total`.
//!
//! Clients are bounded by [`ServerLimits`] so that none can hold the server's resources: a
//! connection over the limit is closed at once, one that does not send its first request's head
//! in time, sits idle, or does not read its answer is closed (each counted in
//! `ksa_http_connections_closed_total`), and a request head over [`MAX_HEADER_BYTES`] gets 431.
//! Every connection is its own task on the shared runtime and waits on I/O only, so none of
//! this slows a scrape or a watch. Shutdown stops
//! accepting, lets each connection finish the request in flight (hyper's graceful shutdown),
//! drops handshakes still under way, and returns once every connection has closed. This module
//! knows routers and sockets; what a request means is the routers'. See [`serve`].

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::telemetry::Telemetry;

/// How long a client may take to complete the TLS handshake after connecting. A client that
/// never finishes it (a port scanner, a plain-HTTP scraper) does not hold a task for longer.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request head (request line and headers) read; a larger one is answered 431.
/// Scrapes send a few hundred bytes; a bearer token for `--auth-filter` is a few KB.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// How long clients may take, and how many may be connected at once (`--server-*` flags).
///
/// Timeouts are kube-state-metrics' flags with its defaults, enforced on what this server reads
/// and writes: `read_header` from the connection's start to its first request's head, and for
/// every later head (the shorter of it and `read`, since no request here has a body); `idle`
/// while nothing is read or written; `write` while an answer is not read by the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// `--server-read-header-timeout`.
    pub read_header_timeout: Duration,
    /// `--server-read-timeout`.
    pub read_timeout: Duration,
    /// `--server-write-timeout`.
    pub write_timeout: Duration,
    /// `--server-idle-timeout`.
    pub idle_timeout: Duration,
    /// `--server-max-connections`, per listener.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            read_header_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(300),
            max_connections: 1024,
        }
    }
}

impl ServerLimits {
    /// The bound on reading one request head.
    fn head_timeout(&self) -> Duration {
        self.read_header_timeout.min(self.read_timeout)
    }
}

/// A bound listener and how its connections are served.
pub struct Listener {
    /// The bound socket.
    pub tcp: TcpListener,
    /// The TLS configuration; `None` serves plain HTTP.
    pub tls: Option<Arc<ServerConfig>>,
    /// `metrics` or `telemetry`: the `listener` label of its handshake errors.
    pub name: &'static str,
    /// Timeouts and the connection limit.
    pub limits: ServerLimits,
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
    let Listener {
        tcp,
        tls,
        name,
        limits,
    } = listener;
    let acceptor = tls.map(TlsAcceptor::from);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
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
        // Closed at once when every slot is taken: no task, no handshake, no buffer.
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(listener = name, peer = %peer, limit = limits.max_connections,
                "connection limit reached; closing the new connection");
            telemetry.connection_closed(name, "limit");
            continue;
        };
        no_delay(&stream);
        let conn = Connection {
            router: router.clone(),
            stop: stop_rx.clone(),
            peer,
            limits,
            name,
            telemetry: telemetry.clone(),
            _slot: slot,
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
    limits: ServerLimits,
    name: &'static str,
    telemetry: Telemetry,
    /// The connection's place under `--server-max-connections`, given back when it closes.
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl Connection {
    /// Serves HTTP on `io` until the client closes it, until a limit closes it (see
    /// [`ServerLimits`]), or until shutdown once the request in flight is answered.
    async fn serve<I>(mut self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::new());
        let seen = activity.clone();
        let router = self.router.map_request(move |req| {
            seen.head_read();
            req
        });
        let service = TowerToHyperService::new(router);
        // No hyper timer: its header read timeout also runs while a keep-alive connection waits
        // for its next request, which would close Prometheus' connection between scrapes;
        // `Activity` keeps the two apart.
        let mut builder = Builder::new(TokioExecutor::new());
        builder.http1().max_buf_size(MAX_HEADER_BYTES);
        let io = Watched {
            io,
            activity: activity.clone(),
        };
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        tokio::pin!(conn);
        let mut stopping = false;
        loop {
            let (deadline, reason) = activity.deadline(&self.limits);
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
                () = tokio::time::sleep_until(deadline) => {
                    // The deadline may have moved on meanwhile; close only if it has not.
                    let (now_due, reason_now) = activity.deadline(&self.limits);
                    if now_due <= Instant::now() && reason_now == reason {
                        tracing::debug!(listener = self.name, peer = %self.peer, reason,
                            "closing the connection");
                        self.telemetry.connection_closed(self.name, reason);
                        return;
                    }
                }
            }
        }
    }
}

/// What a connection did last, shared by its I/O ([`Watched`]), its service and its task.
struct Activity {
    started: Instant,
    /// Milliseconds from `started` to the last read or write that moved bytes.
    last_io_ms: AtomicU64,
    /// Milliseconds from `started` (plus one) to when a write began to wait for the client; 0
    /// while no write waits.
    write_waiting_since_ms: AtomicU64,
    /// A request head was read in full.
    first_request: AtomicBool,
    /// Milliseconds from `started` (plus one) to the first byte of a request whose head is not
    /// read in full yet; 0 while none is being read.
    head_started_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            started: Instant::now(),
            last_io_ms: AtomicU64::new(0),
            write_waiting_since_ms: AtomicU64::new(0),
            first_request: AtomicBool::new(false),
            head_started_ms: AtomicU64::new(0),
        }
    }

    /// A request head was read in full (the service is called with it).
    fn head_read(&self) {
        self.first_request.store(true, Ordering::Release);
        self.head_started_ms.store(0, Ordering::Release);
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn at(&self, ms: u64) -> Instant {
        self.started + Duration::from_millis(ms)
    }

    /// When the connection is to be closed if nothing happens, and why.
    fn deadline(&self, limits: &ServerLimits) -> (Instant, &'static str) {
        if !self.first_request.load(Ordering::Acquire) {
            return (self.started + limits.head_timeout(), "read_header_timeout");
        }
        let head_started = self.head_started_ms.load(Ordering::Acquire);
        if head_started != 0 {
            return (
                self.at(head_started - 1) + limits.head_timeout(),
                "read_header_timeout",
            );
        }
        match self.write_waiting_since_ms.load(Ordering::Acquire) {
            0 => (
                self.at(self.last_io_ms.load(Ordering::Acquire)) + limits.idle_timeout,
                "idle_timeout",
            ),
            since => (self.at(since - 1) + limits.write_timeout, "write_timeout"),
        }
    }

    /// Bytes moved now; returns when, in milliseconds from `started`.
    fn moved(&self) -> u64 {
        let now = self.now_ms();
        self.last_io_ms.store(now, Ordering::Release);
        now
    }

    /// Bytes were read: the first of a request starts its head's clock.
    fn read_some(&self) {
        let now = self.moved();
        let _ = self.head_started_ms.compare_exchange(
            0,
            now.saturating_add(1),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }
}

/// A connection's I/O, recording its progress in [`Activity`].
struct Watched<I> {
    io: I,
    activity: Arc<Activity>,
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read_some();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> Watched<I> {
    /// Records a write's outcome: progress, or the start of a wait for the client.
    fn wrote<T>(&self, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        let a = &self.activity;
        match &polled {
            Poll::Pending => {
                let since = a.now_ms().saturating_add(1);
                let _ = a.write_waiting_since_ms.compare_exchange(
                    0,
                    since,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            }
            Poll::Ready(_) => {
                a.write_waiting_since_ms.store(0, Ordering::Release);
                a.moved();
            }
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_flush(cx);
        self.wrote(polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
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
        start_with(tls, ServerLimits::default()).await
    }

    async fn start_with(
        tls: Option<Arc<ServerConfig>>,
        limits: ServerLimits,
    ) -> (
        SocketAddr,
        watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
        Telemetry,
    ) {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let router = Router::new()
            .route("/x", get(|| async { "hello" }))
            .route("/big", get(|| async { vec![b'x'; BIG] }));
        let (tx, mut rx) = watch::channel(false);
        let telemetry = Telemetry::new();
        let task = tokio::spawn(serve(
            Listener {
                tcp,
                tls,
                name: "metrics",
                limits,
            },
            router,
            telemetry.clone(),
            async move {
                let _ = rx.wait_for(|s| *s).await;
            },
        ));
        (addr, tx, task, telemetry)
    }

    /// An answer larger than the socket buffers hold, so a client that does not read it leaves
    /// the server's write waiting.
    const BIG: usize = 64 << 20;

    /// Limits short enough for a test, the connection limit at `max`.
    fn short(max: usize) -> ServerLimits {
        ServerLimits {
            read_header_timeout: Duration::from_millis(300),
            read_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_millis(600),
            idle_timeout: Duration::from_millis(900),
            max_connections: max,
        }
    }

    /// Connections the server closed on its own for `reason`, as counted.
    fn closed(telemetry: &Telemetry, reason: &str) -> Option<f64> {
        telemetry.value(
            "ksa_http_connections_closed_total",
            &[("listener", "metrics"), ("reason", reason)],
        )
    }

    /// Reads until the server closes the connection (or 60 s pass: a failure); what was read.
    async fn until_closed(s: &mut TcpStream) -> Vec<u8> {
        let mut out = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(60), async {
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                }
            }
        });
        // Generous: the bound checked is that the server closes at all; the machine may be busy.
        read.await.expect("the server closes the connection");
        out
    }

    #[tokio::test]
    async fn a_client_that_sends_no_request_or_trickles_its_head_is_closed_and_others_are_served() {
        let (addr, _stop, _task, telemetry) = start_with(None, short(64)).await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut slowloris = TcpStream::connect(addr).await.unwrap();
        let trickle = tokio::spawn(async move {
            for b in b"GET /x HTTP/1.1\r\nHost: t\r\nX-Slow: " {
                if slowloris.write_all(&[*b]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            until_closed(&mut slowloris).await
        });
        let answer = get_over(TcpStream::connect(addr).await.unwrap()).await;
        assert!(answer.ends_with("hello"), "served beside them: {answer}");
        assert!(until_closed(&mut silent).await.is_empty());
        let trickled = trickle.await.unwrap();
        assert!(
            !String::from_utf8_lossy(&trickled).contains("hello"),
            "never served"
        );
        assert!(closed(&telemetry, "read_header_timeout").unwrap_or(0.0) >= 1.0);
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
        let (addr, _stop, _task, telemetry) = start_with(None, short(64)).await;
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        let answered = Instant::now();
        let out = until_closed(&mut conn).await;
        assert!(String::from_utf8_lossy(&out).ends_with("hello"));
        let idle = answered.elapsed();
        assert!(
            idle >= Duration::from_millis(800),
            "closed after {idle:?} idle, before the idle timeout"
        );
        assert_eq!(closed(&telemetry, "idle_timeout"), Some(1.0));
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_its_answer_is_closed_after_the_write_timeout() {
        let (addr, _stop, _task, telemetry) = start_with(None, short(64)).await;
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        // Read nothing: the server's write waits, then the connection is closed.
        let closed = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                if closed(&telemetry, "write_timeout") == Some(1.0) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        // Generous, as in `until_closed`.
        closed.await.expect("the stalled write is cut");
        let read = until_closed(&mut conn).await;
        assert!(read.len() < BIG, "the answer was cut short");
        let answer = get_over(TcpStream::connect(addr).await.unwrap()).await;
        assert!(answer.ends_with("hello"), "{answer}");
    }

    #[tokio::test]
    async fn connections_over_the_limit_are_closed_and_a_freed_slot_serves_again() {
        let (addr, _stop, _task, telemetry) = start_with(None, short(2)).await;
        let first = TcpStream::connect(addr).await.unwrap();
        let second = TcpStream::connect(addr).await.unwrap();
        let mut third = TcpStream::connect(addr).await.unwrap();
        third
            .write_all(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .ok();
        assert!(until_closed(&mut third).await.is_empty(), "over the limit");
        assert_eq!(closed(&telemetry, "limit"), Some(1.0));
        drop((first, second));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answer = get_over(TcpStream::connect(addr).await.unwrap()).await;
            if answer.ends_with("hello") {
                break;
            }
            assert!(Instant::now() < deadline, "slots never came back");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_request_head_over_the_bound_gets_431_and_the_server_goes_on() {
        let (addr, _stop, _task, _) = start_with(None, ServerLimits::default()).await;
        let mut conn = TcpStream::connect(addr).await.unwrap();
        let huge = format!(
            "GET /x HTTP/1.1\r\nHost: t\r\nX-Huge: {}\r\n\r\n",
            "a".repeat(1 << 20)
        );
        // The server may answer and close before the whole head is written.
        let _ = conn.write_all(huge.as_bytes()).await;
        let answer = String::from_utf8_lossy(&until_closed(&mut conn).await).into_owned();
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
        let answer = get_over(TcpStream::connect(addr).await.unwrap()).await;
        assert!(answer.ends_with("hello"), "{answer}");
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
