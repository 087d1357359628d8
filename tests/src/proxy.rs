//! A TCP proxy on loopback between an agent and the apiserver, for failure tests.
//!
//! [`FaultProxy::stall`] models a network partition: established connections stop carrying
//! bytes and new ones are accepted but never forwarded, so requests hang rather than fail fast.
//! [`FaultProxy::cut`] resets every connection and refuses new ones. [`FaultProxy::heal`]
//! restores forwarding for new connections; [`FaultProxy::resume`] restores it on every
//! connection, the stalled ones too. [`FaultProxy::cap`] forwards at most so many bytes a
//! second in each direction of each connection, as a thin link does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    /// Forward at most this many bytes a second, each direction of each connection.
    Cap(u32),
}

impl Mode {
    fn forwards(self) -> bool {
        matches!(self, Mode::Pass | Mode::Cap(_))
    }
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
                    Mode::Stall | Mode::Pass | Mode::Cap(_) => {
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

    /// Forwards at most `bytes_per_second` in each direction of each connection, from now on
    /// (connections already open included); [`FaultProxy::heal`] lifts it.
    pub fn cap(&self, bytes_per_second: u32) {
        let _ = self.mode.send(Mode::Cap(bytes_per_second.max(1)));
    }

    /// Resets every connection and refuses new ones.
    pub fn cut(&self) {
        let _ = self.mode.send(Mode::Cut);
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    /// Forwards again on every connection, the stalled ones included, as a link that comes
    /// back by itself does: nothing is reset, so only the client can tell a stall from a slow
    /// answer.
    pub fn resume(&self) {
        let _ = self.mode.send(Mode::Pass);
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
        let Ok(now) = mode.wait_for(|m| m.forwards()).await.map(|m| *m) else {
            return;
        };
        // Under a cap, a tenth of a second's worth at a time, then the rest of that tenth.
        let limit = match now {
            Mode::Cap(rate) => (rate as usize / 10).clamp(1, buf.len()),
            _ => buf.len(),
        };
        let n = tokio::select! {
            r = from.read(&mut buf[..limit]) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = mode.wait_for(|m| *m != now) => continue,
        };
        if mode.wait_for(|m| m.forwards()).await.is_err() {
            return;
        }
        let started = tokio::time::Instant::now();
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        if let Mode::Cap(rate) = now {
            let due = Duration::from_secs_f64(n as f64 / f64::from(rate));
            tokio::time::sleep_until(started + due).await;
        }
    }
}
