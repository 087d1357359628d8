//! Electing the one agent that also exports cluster-scope kinds, through a
//! `coordination.k8s.io/v1` Lease, client-go style.
//!
//! Every write carries the Lease's resourceVersion, so two candidates can never both win: the
//! apiserver answers the slower one 409. Expiry is judged on *local observation* (when this
//! agent last saw the record change), never by comparing clocks across machines, as client-go's
//! `leaderelection` does. See [`run`]; [`follow`] runs the leader-only watches while this agent
//! leads. This module never renders or serves.
//!
//! # Fencing
//! The holder publishes `false` on its [`tokio::sync::watch`] channel the moment it has not
//! renewed for `renew_deadline`, even while a request hangs. Another candidate may only take
//! over `lease_duration` after it last saw the record change, which is after our last renewal,
//! so with `renew_deadline < lease_duration` our cluster-scope rows are gone before anyone else
//! can export them.

mod follow;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::FutureExt as _;

pub use follow::{LeaderWatch, follow};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::Election;
use crate::telemetry::Telemetry;

/// What one attempt found and did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// No Lease: create it, held by us.
    Create,
    /// We hold it: renew.
    Renew,
    /// Free or expired: take it over.
    TakeOver,
    /// Someone else holds a live claim.
    Follow,
}

/// The pure decision of one attempt.
pub fn decide(spec: Option<&LeaseSpec>, me: &str, expired: bool) -> Action {
    let Some(spec) = spec else {
        return Action::Create;
    };
    match spec.holder_identity.as_deref() {
        Some(h) if h == me => Action::Renew,
        None | Some("") => Action::TakeOver,
        Some(_) if expired => Action::TakeOver,
        Some(_) => Action::Follow,
    }
}

/// When the record we last saw changed, for expiry by local observation.
#[derive(Debug, Default)]
struct Observed {
    record: Option<(Option<String>, Option<MicroTime>)>,
    at: Option<Instant>,
    duration: Option<Duration>,
}

impl Observed {
    fn see(&mut self, spec: &LeaseSpec, now: Instant) {
        let record = (spec.holder_identity.clone(), spec.renew_time.clone());
        if self.record.as_ref() != Some(&record) {
            self.record = Some(record);
            self.at = Some(now);
        }
        self.duration = spec
            .lease_duration_seconds
            .map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0)));
    }

    fn expired(&self, now: Instant, default: Duration) -> bool {
        match self.at {
            Some(at) => now >= at + self.duration.unwrap_or(default),
            None => true,
        }
    }
}

fn now_micro() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

/// Whether the election is running: false only while it waits out its backoff after a panic,
/// when this agent is a candidate in name only, so `/readyz` answers 503 until it runs again.
#[derive(Clone, Debug)]
pub struct ElectionRunning(Arc<AtomicBool>);

impl Default for ElectionRunning {
    fn default() -> Self {
        ElectionRunning(Arc::new(AtomicBool::new(true)))
    }
}

impl ElectionRunning {
    /// Whether the election runs now.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn set(&self, running: bool) {
        self.0.store(running, Ordering::Relaxed);
    }
}

/// Runs the election until `shutdown` turns true, publishing leadership on `leader`. On
/// shutdown the Lease is released (holder cleared) if held, so the next candidate takes over at
/// its next attempt instead of waiting for expiry. A panic in the election fences at once (this
/// agent stops leading, so the leader-only rows go) and the election starts again after a
/// backoff; see [`restart_after_panic`].
pub async fn run(
    api: Api<Lease>,
    config: Election,
    leader: watch::Sender<bool>,
    running: ElectionRunning,
    shutdown: watch::Receiver<bool>,
    telemetry: Telemetry,
) {
    let elect = || elect(&api, &config, &leader, shutdown.clone(), &telemetry);
    let supervisor = Supervisor {
        leader: &leader,
        running: &running,
        config: &config,
        telemetry: &telemetry,
    };
    supervisor
        .restart_after_panic(shutdown.clone(), elect)
        .await;
}

/// The first wait before an election that panicked starts again; it doubles with each panic in
/// a row, up to a minute.
const PANIC_BACKOFF_MIN: Duration = Duration::from_secs(1);
const PANIC_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// What the election's supervisor reports to: leadership, whether the election runs, and
/// telemetry.
struct Supervisor<'a> {
    leader: &'a watch::Sender<bool>,
    running: &'a ElectionRunning,
    config: &'a Election,
    telemetry: &'a Telemetry,
}

impl Supervisor<'_> {
    /// Runs `elect` until it returns, and again whenever it panics: leadership is withdrawn
    /// first (the Lease is then renewed by nobody here, so another candidate takes over after
    /// its duration, and this agent's leader-only rows are cleared at once), the panic is
    /// logged, and the next run waits out a backoff, not running (not ready) meanwhile. Never
    /// a leader that exports without renewing.
    async fn restart_after_panic<Fut: Future<Output = ()>>(
        &self,
        mut shutdown: watch::Receiver<bool>,
        mut elect: impl FnMut() -> Fut,
    ) {
        let mut backoff = PANIC_BACKOFF_MIN;
        loop {
            self.running.set(true);
            let Err(panic) = AssertUnwindSafe(elect()).catch_unwind().await else {
                return;
            };
            self.running.set(false);
            set(self.leader, false, self.config, self.telemetry);
            tracing::error!(lease = %self.config.name,
                panic = crate::watch::panic_message(&*panic),
                restart_in_seconds = backoff.as_secs(),
                "the leader election panicked; not leading, starting again after a backoff");
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            backoff = (backoff * 2).min(PANIC_BACKOFF_MAX);
        }
    }
}

/// One run of the election, until `shutdown`; see [`run`].
async fn elect(
    api: &Api<Lease>,
    config: &Election,
    leader: &watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
    telemetry: &Telemetry,
) {
    let mut observed = Observed::default();
    let mut last_renew: Option<Instant> = None;
    loop {
        let started = Instant::now();
        // While leading, an attempt may take until the fencing deadline and no longer.
        let deadline = match last_renew {
            Some(t) => t + config.renew_deadline,
            None => started + config.retry_period.max(Duration::from_secs(1)),
        };
        let attempt = tokio::time::timeout_at(deadline, attempt(api, config, &mut observed));
        let outcome = tokio::select! {
            r = attempt => r.unwrap_or(Err(AttemptError::Timeout)),
            _ = shutdown.wait_for(|s| *s) => break,
        };
        match outcome {
            Ok(true) => {
                last_renew = Some(Instant::now());
                set(leader, true, config, telemetry);
            }
            Ok(false) => {
                last_renew = None;
                set(leader, false, config, telemetry);
            }
            Err(e) => {
                if last_renew.is_some() {
                    telemetry.lease_renew_failure();
                    tracing::warn!(lease = %config.name, error = %e, "lease renewal failed");
                }
                if last_renew.is_some_and(|t| Instant::now() >= t + config.renew_deadline) {
                    tracing::warn!(lease = %config.name, "renew deadline passed: fencing cluster-scope rows");
                    last_renew = None;
                    set(leader, false, config, telemetry);
                }
            }
        }
        // Next attempt one retry period after this one started, but never after the fence.
        let mut next = started + config.retry_period;
        if let Some(t) = last_renew {
            next = next.min(t + config.renew_deadline);
        }
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
    if *leader.borrow() {
        set(leader, false, config, telemetry);
        match tokio::time::timeout(Duration::from_secs(5), release(api, config)).await {
            Ok(Ok(())) => tracing::info!(lease = %config.name, "lease released"),
            Ok(Err(e)) => {
                tracing::warn!(lease = %config.name, error = %e, "releasing the lease failed")
            }
            Err(_) => tracing::warn!(lease = %config.name, "releasing the lease timed out"),
        }
    }
}

fn set(leader: &watch::Sender<bool>, value: bool, config: &Election, telemetry: &Telemetry) {
    let changed = leader.send_if_modified(|v| std::mem::replace(v, value) != value);
    if changed {
        telemetry.leader_changed(value);
        if value {
            tracing::info!(lease = %config.name, identity = %config.identity, "became leader");
        } else {
            tracing::info!(lease = %config.name, identity = %config.identity, "stopped leading");
        }
    }
}

/// Why one attempt did not settle.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    /// The API call failed (network, 5xx, …).
    #[error("lease request failed: {0}")]
    Api(#[from] kube::Error),
    /// The attempt did not finish before its deadline.
    #[error("lease request timed out")]
    Timeout,
}

/// One get-then-write round. `Ok(true)`: we hold the Lease now; `Ok(false)`: someone else
/// does (or won the race).
async fn attempt(
    api: &Api<Lease>,
    config: &Election,
    observed: &mut Observed,
) -> Result<bool, AttemptError> {
    let current = api.get_opt(&config.name).await?;
    let now = Instant::now();
    if let Some(spec) = current.as_ref().and_then(|l| l.spec.as_ref()) {
        observed.see(spec, now);
    }
    let spec = current.as_ref().and_then(|l| l.spec.as_ref());
    let action = decide(
        spec,
        &config.identity,
        observed.expired(now, config.lease_duration),
    );
    let duration = i32::try_from(config.lease_duration.as_secs()).unwrap_or(i32::MAX);
    let result = match action {
        Action::Follow => return Ok(false),
        Action::Create => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(config.name.clone()),
                    namespace: Some(config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(config.identity.clone()),
                    lease_duration_seconds: Some(duration),
                    acquire_time: Some(now_micro()),
                    renew_time: Some(now_micro()),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            api.create(&PostParams::default(), &lease).await
        }
        Action::Renew | Action::TakeOver => {
            let mut lease = current.expect("Renew and TakeOver need a Lease");
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            if action == Action::TakeOver {
                spec.holder_identity = Some(config.identity.clone());
                spec.acquire_time = Some(now_micro());
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            }
            spec.lease_duration_seconds = Some(duration);
            spec.renew_time = Some(now_micro());
            // `replace` sends the resourceVersion we read: a concurrent writer makes this 409.
            api.replace(&config.name, &PostParams::default(), &lease)
                .await
        }
    };
    match result {
        Ok(lease) => {
            if let Some(spec) = &lease.spec {
                observed.see(spec, Instant::now());
            }
            Ok(true)
        }
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Clears the holder so the next candidate need not wait for expiry (client-go's
/// `ReleaseOnCancel`).
async fn release(api: &Api<Lease>, config: &Election) -> Result<(), kube::Error> {
    let Some(mut lease) = api.get_opt(&config.name).await? else {
        return Ok(());
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    if spec.holder_identity.as_deref() != Some(config.identity.as_str()) {
        return Ok(());
    }
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    spec.renew_time = Some(now_micro());
    api.replace(&config.name, &PostParams::default(), &lease)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: Option<&str>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_string),
            lease_duration_seconds: Some(15),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn decisions_follow_client_go() {
        assert_eq!(decide(None, "a", false), Action::Create);
        assert_eq!(decide(Some(&spec(Some("a"))), "a", false), Action::Renew);
        assert_eq!(decide(Some(&spec(Some("a"))), "a", true), Action::Renew);
        assert_eq!(decide(Some(&spec(Some("b"))), "a", false), Action::Follow);
        assert_eq!(decide(Some(&spec(Some("b"))), "a", true), Action::TakeOver);
        assert_eq!(decide(Some(&spec(None)), "a", false), Action::TakeOver);
        assert_eq!(decide(Some(&spec(Some(""))), "a", false), Action::TakeOver);
    }

    #[test]
    fn expiry_counts_from_when_the_record_last_changed_here() {
        let t0 = Instant::now();
        let mut o = Observed::default();
        assert!(
            o.expired(t0, Duration::from_secs(15)),
            "never seen: free to take"
        );
        let mut s = spec(Some("b"));
        s.renew_time = Some(now_micro());
        o.see(&s, t0);
        assert!(!o.expired(t0 + Duration::from_secs(14), Duration::from_secs(15)));
        // The same record seen again later does not restart the clock...
        o.see(&s, t0 + Duration::from_secs(10));
        assert!(o.expired(t0 + Duration::from_secs(15), Duration::from_secs(15)));
        // ...a renewal does.
        let mut renewed = s.clone();
        renewed.renew_time = Some(MicroTime(
            s.renew_time.as_ref().unwrap().0 + k8s_openapi::jiff::SignedDuration::from_secs(2),
        ));
        o.see(&renewed, t0 + Duration::from_secs(12));
        assert!(!o.expired(t0 + Duration::from_secs(20), Duration::from_secs(15)));
    }

    use std::sync::atomic::AtomicBool;

    use crate::mock_api::{Answer, MockApi, Seen};

    const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/ns/leases/lease";

    #[tokio::test(start_paused = true)]
    async fn an_election_that_panics_stops_leading_at_once_and_starts_again_after_a_backoff() {
        use std::sync::atomic::AtomicUsize;

        let (leader_tx, mut leader_rx) = watch::channel(false);
        let (stop_tx, stop) = watch::channel(false);
        let telemetry = Telemetry::new();
        let config = election();
        let runs = AtomicUsize::new(0);
        let elect = || {
            let run = runs.fetch_add(1, Ordering::SeqCst);
            let (leader, mut stop) = (&leader_tx, stop.clone());
            async move {
                leader.send_replace(true);
                tokio::time::sleep(Duration::from_secs(10)).await;
                assert!(run > 0, "a bug in the first run");
                let _ = stop.wait_for(|s| *s).await;
            }
        };
        let running = ElectionRunning::default();
        let observe = async {
            leader_rx.wait_for(|l| *l).await.unwrap();
            let started = Instant::now();
            assert!(running.get());
            leader_rx.wait_for(|l| !*l).await.unwrap();
            let fenced = started.elapsed();
            assert!(!running.get(), "not running (not ready) during the backoff");
            leader_rx.wait_for(|l| *l).await.unwrap();
            let leads_again = started.elapsed();
            assert!(running.get(), "running again");
            stop_tx.send(true).unwrap();
            (fenced, leads_again)
        };
        let supervisor = Supervisor {
            leader: &leader_tx,
            running: &running,
            config: &config,
            telemetry: &telemetry,
        };
        let supervised = supervisor.restart_after_panic(stop.clone(), elect);
        let ((fenced, leads_again), ()) = tokio::join!(observe, supervised);
        assert_eq!(
            fenced,
            Duration::from_secs(10),
            "not leading the moment it panics"
        );
        assert_eq!(
            leads_again,
            Duration::from_secs(10) + PANIC_BACKOFF_MIN,
            "elected again after the backoff"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    /// The election of [`election`] on `api`, run on its own task as the agent runs it.
    fn spawn_election(
        api: Api<Lease>,
        leader: watch::Sender<bool>,
        shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(run(
            api,
            election(),
            leader,
            ElectionRunning::default(),
            shutdown,
            Telemetry::new(),
        ))
    }

    fn election() -> Election {
        Election {
            namespace: "ns".into(),
            name: "lease".into(),
            identity: "me".into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// An API server holding one Lease, as the apiserver keeps it: GET answers it (404 before
    /// it exists), POST creates it and PUT replaces it, each write bumping its
    /// resourceVersion. While `partitioned`, no request is answered.
    fn lease_server(partitioned: Arc<AtomicBool>) -> (Api<Lease>, MockApi) {
        let stored = std::sync::Mutex::new((None::<serde_json::Value>, 0_u64));
        let (client, api) = MockApi::start(move |req: &Seen| {
            if partitioned.load(Ordering::SeqCst) {
                return Answer::Hold;
            }
            let (lease, version) = &mut *stored.lock().unwrap();
            match req.method {
                http::Method::GET => match lease {
                    Some(l) => Answer::ok(l.clone()),
                    None => Answer::status(404, "NotFound"),
                },
                http::Method::POST | http::Method::PUT => {
                    let mut written: serde_json::Value = serde_json::from_str(&req.body).unwrap();
                    *version += 1;
                    written["metadata"]["resourceVersion"] = version.to_string().into();
                    *lease = Some(written.clone());
                    let status = if req.method == http::Method::POST {
                        http::StatusCode::CREATED
                    } else {
                        http::StatusCode::OK
                    };
                    Answer::Json(status, written.to_string())
                }
                _ => Answer::status(405, "MethodNotAllowed"),
            }
        });
        (Api::namespaced(client, "ns"), api)
    }

    fn is_renewal(s: &Seen) -> bool {
        s.method == http::Method::PUT && s.path == LEASE
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_that_cannot_renew_stops_leading_by_its_renew_deadline() {
        let partitioned = Arc::new(AtomicBool::new(false));
        let (api, server) = lease_server(partitioned.clone());
        let (leader_tx, mut leader) = watch::channel(false);
        let (_shutdown_tx, shutdown) = watch::channel(false);
        let telemetry = Telemetry::new();
        let config = election();
        let task = tokio::spawn(run(
            api,
            config.clone(),
            leader_tx,
            ElectionRunning::default(),
            shutdown,
            telemetry.clone(),
        ));
        leader.wait_for(|l| *l).await.unwrap();
        // Renewals go through every retry period, and it keeps leading.
        let last_renewal = server.nth(3, is_renewal).await.at;
        assert!(*leader.borrow(), "renewed: still leading");
        // The apiserver stops answering: the next attempt hangs.
        partitioned.store(true, Ordering::SeqCst);
        leader.wait_for(|l| !*l).await.unwrap();
        let fenced = Instant::now() - last_renewal;
        assert!(
            fenced <= config.renew_deadline,
            "fenced {fenced:?} after the last renewal, later than the renew deadline"
        );
        assert!(
            fenced > config.renew_deadline - config.retry_period,
            "fenced after {fenced:?}: a failing renewal is retried until the deadline"
        );
        assert_eq!(
            server.count(is_renewal),
            3,
            "no renewal got through meanwhile"
        );
        assert!(telemetry.value("ksa_lease_renew_failures_total", &[]) >= Some(1.0));
        assert_eq!(telemetry.value("ksa_leader", &[]), Some(0.0));
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_releases_the_lease_on_shutdown() {
        let (api, server) = lease_server(Arc::new(AtomicBool::new(false)));
        let (leader_tx, mut leader) = watch::channel(false);
        let (shutdown_tx, shutdown) = watch::channel(false);
        let task = spawn_election(api, leader_tx, shutdown);
        leader.wait_for(|l| *l).await.unwrap();
        let created = server.nth(1, |s| s.method == http::Method::POST).await;
        let created: serde_json::Value = serde_json::from_str(&created.body).unwrap();
        assert_eq!(created["spec"]["holderIdentity"], "me");

        shutdown_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the election ends on shutdown")
            .unwrap();
        assert!(!*leader.borrow(), "it stopped leading before releasing");
        let release = server.seen().pop().expect("requests");
        assert!(
            is_renewal(&release),
            "the last request writes the Lease: {release:?}"
        );
        let released: serde_json::Value = serde_json::from_str(&release.body).unwrap();
        assert!(
            released["spec"]["holderIdentity"].is_null(),
            "the holder is cleared: {released}"
        );
        assert_eq!(released["spec"]["leaseDurationSeconds"], 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_follower_does_not_write_the_lease_and_takes_it_over_once_expired() {
        let (api, server) = lease_server(Arc::new(AtomicBool::new(false)));
        // Another candidate holds the Lease, renewed just now (as seen from here).
        let held = Lease {
            metadata: ObjectMeta {
                name: Some("lease".into()),
                namespace: Some("ns".into()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some("other".into()),
                lease_duration_seconds: Some(15),
                renew_time: Some(now_micro()),
                ..LeaseSpec::default()
            }),
        };
        api.create(&PostParams::default(), &held).await.unwrap();
        let started = Instant::now();
        let (leader_tx, mut leader) = watch::channel(false);
        let (_shutdown_tx, shutdown) = watch::channel(false);
        let task = spawn_election(api, leader_tx, shutdown);
        leader.wait_for(|l| *l).await.unwrap();
        let took = Instant::now() - started;
        // Expiry by local observation: the record never changed after it was first seen.
        assert!(
            took >= Duration::from_secs(15) && took <= Duration::from_secs(15 + 2),
            "took over after {took:?}"
        );
        assert_eq!(
            server.count(|s| s.method == http::Method::PUT),
            1,
            "one write: the takeover"
        );
        task.abort();
    }
}
