//! A TCP proxy on loopback between an agent and the apiserver, for failure tests.
//!
//! [`FaultProxy::stall`] models a network partition: established connections stop carrying
//! bytes and new ones are accepted but never forwarded, so requests hang rather than fail fast.
//! [`FaultProxy::cut`] resets every connection and refuses new ones. [`FaultProxy::heal`]
//! restores forwarding for new connections.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;

/// How the proxy treats traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forward everything.
    Pass,
    /// Hold every byte; accept connections but forward nothing.
    Stall,
    /// Drop connections.
    Cut,
}

/// The proxy; stops when dropped.
pub struct FaultProxy {
    port: u16,
    mode: watch::Sender<Mode>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let (mode, mode_rx) = watch::channel(Mode::Pass);
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let conns = connections.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                let mode = *mode_rx.borrow();
                match mode {
                    Mode::Cut => drop(inbound),
                    Mode::Stall | Mode::Pass => {
                        let rx = mode_rx.clone();
                        let task = tokio::spawn(forward(inbound, upstream, rx));
                        conns.lock().unwrap().push(task.abort_handle());
                    }
                }
            }
        })
        .abort_handle();
        FaultProxy {
            port,
            mode,
            connections,
            accept,
        }
    }

    /// The port agents connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections accepted and held since the last [`FaultProxy::cut`] or
    /// [`FaultProxy::heal`].
    pub fn held(&self) -> usize {
        self.connections.lock().unwrap().len()
    }

    /// Holds all traffic (a partition): requests hang.
    pub fn stall(&self) {
        let _ = self.mode.send(Mode::Stall);
    }

    /// Resets every connection and refuses new ones.
    pub fn cut(&self) {
        let _ = self.mode.send(Mode::Cut);
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    /// Forwards again (stalled connections are dropped: clients reconnect).
    pub fn heal(&self) {
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
        let _ = self.mode.send(Mode::Pass);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

async fn forward(inbound: TcpStream, upstream: SocketAddr, mode: watch::Receiver<Mode>) {
    let Ok(outbound) = TcpStream::connect(upstream).await else {
        return;
    };
    let (ri, wi) = inbound.into_split();
    let (ro, wo) = outbound.into_split();
    tokio::join!(pipe(ri, wo, mode.clone()), pipe(ro, wi, mode));
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // While stalled, neither read nor write: bytes stay in kernel buffers, peers wait.
        if mode.wait_for(|m| *m == Mode::Pass).await.is_err() {
            return;
        }
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = mode.wait_for(|m| *m != Mode::Pass) => continue,
        };
        if mode.wait_for(|m| *m == Mode::Pass).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
