//! What live tests share: the loopback [`cluster::Cluster`], the apiserver's own metrics
//! ([`apiserver`]), object builders and writers
//! ([`objects`]), the agent process ([`agent`]), a strict exposition reader ([`exposition`]),
//! admin `kubectl` ([`kubectl`]), a process's CPU and memory ([`process`]), a throwaway PKI and an HTTPS client ([`tls`]),
//! and [`poll_until`], the deadline-bounded wait used instead of sleeps.

pub mod agent;
pub mod apiserver;
pub mod cluster;
pub mod exposition;
pub mod kubectl;
pub mod objects;
pub mod process;
pub mod prometheus;
pub mod proxy;
pub mod tls;

use std::future::Future;
use std::time::{Duration, Instant};

pub use cluster::Cluster;

/// Polls `probe` every 50 ms until it returns `Some`, and returns that value.
///
/// # Panics
/// When `timeout` passes first; the message names `what` was awaited and the last
/// observation `probe` reported through `last`.
pub async fn poll_until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
