//! Electing the one agent that also exports cluster-scope kinds, through a
//! `coordination.k8s.io/v1` Lease, client-go style, among the agents that are candidates
//! ([`candidacy`]).
//!
//! Every write carries the Lease's resourceVersion, so two candidates can never both win: the
//! apiserver answers the slower one 409. Expiry is judged on *local observation* (when this
//! agent last saw the record change), never by comparing clocks across machines, as client-go's
//! `leaderelection` does. See [`run`]; [`follow`] runs the leader-only watches while this agent
//! leads. This module never renders or serves.
//!
//! # Requests
//! A candidate follows the Lease through one list+watch of that object alone
//! (`fieldSelector=metadata.name=<lease>` in its namespace, resumed from the last
//! resourceVersion, relisted only on 410 Gone), and writes only to create, take over or renew
//! it; a write's response is the latest state it knows. A follower makes no periodic request:
//! with N candidates the election costs N watches plus the holder's renewal every retry period.
//! An agent that is not a candidate makes none at all.
//!
//! # Fencing
//! The holder publishes `false` on its [`tokio::sync::watch`] channel the moment
//! `renew_deadline` has passed since it *sent* its last successful renewal, even while a request
//! hangs. Another candidate may only take over `lease_duration` after its watch showed the record
//! change, which is after that renewal was sent, so with `renew_deadline < lease_duration` our
//! cluster-scope rows are gone before anyone else can export them. An agent that stops being a
//! candidate fences the same way at once and never renews again.

pub mod candidacy;
mod follow;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::{FutureExt as _, Stream, StreamExt as _};

pub use candidacy::Candidacy;
pub use follow::{LeaderWatch, follow};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::PostParams;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
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
        self.expires_at(default).is_none_or(|t| now >= t)
    }

    /// When the claim last seen expires, judged here; `None`: never seen.
    fn expires_at(&self, default: Duration) -> Option<Instant> {
        self.at.map(|at| at + self.duration.unwrap_or(default))
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

/// Runs the election until `shutdown` turns true, publishing leadership on `leader`, while
/// `candidacy` says this agent is a candidate; meanwhile it makes no request at all.
///
/// On shutdown the Lease is released (holder cleared) if held, so the next candidate takes over
/// at once instead of waiting for expiry. On ceasing to be a candidate the holder stops leading
/// at once (its leader-only rows go) and simply stops renewing: the next candidate takes over
/// when the claim expires, `--lease-duration` after it last saw a renewal, which is after the
/// rows went (the fencing rule). A panic in the election fences at once (this agent stops
/// leading, so the leader-only rows go) and the election starts again after a backoff; see
/// [`Supervisor::restart_after_panic`]. Readiness never depends on candidacy.
pub async fn run(
    api: Api<Lease>,
    config: Election,
    mut candidacy: Candidacy,
    leader: watch::Sender<bool>,
    running: ElectionRunning,
    mut shutdown: watch::Receiver<bool>,
    telemetry: Telemetry,
) {
    let supervisor = Supervisor {
        leader: &leader,
        running: &running,
        config: &config,
        telemetry: &telemetry,
    };
    let selector = config
        .candidates
        .as_ref()
        .map_or_else(String::new, ToString::to_string);
    loop {
        if let Err(why) = candidacy.now() {
            telemetry.leader_candidate(false);
            tracing::info!(lease = %config.name, selector = %selector, reason = why,
                "not a leader candidate: this agent makes no Lease request and exports only its \
                 node's objects; an agent on a node matching --leader-candidate-selector leads");
            tokio::select! {
                () = candidacy.until(true) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
        telemetry.leader_candidate(true);
        tracing::info!(lease = %config.name, selector = %selector,
            "a leader candidate: following the Lease");
        let elect = || {
            elect(
                &api,
                &config,
                &leader,
                shutdown.clone(),
                candidacy.clone(),
                &telemetry,
            )
        };
        supervisor
            .restart_after_panic(shutdown.clone(), elect)
            .await;
        if *shutdown.borrow() {
            return;
        }
    }
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

/// The Lease as this candidate knows it: the latest of what its watch delivered and what its
/// own writes returned.
#[derive(Debug, Default)]
struct Followed {
    /// The latest state known; `None` while it does not exist (or is not known yet).
    current: Option<Lease>,
    /// Whether a list has completed, so that `current` is known.
    synced: bool,
    /// The list under way, with the Lease it found (if it did).
    listing: Option<Option<Lease>>,
    /// When the holder's record last changed, as seen here.
    observed: Observed,
}

impl Followed {
    fn spec(&self) -> Option<&LeaseSpec> {
        self.current.as_ref().and_then(|l| l.spec.as_ref())
    }

    /// Takes `lease` as the latest state unless what is known is newer: an event of our own
    /// write arrives after the write's response, and must not date the record again.
    fn see(&mut self, lease: Lease, now: Instant) {
        let version = |l: &Lease| {
            l.metadata
                .resource_version
                .as_deref()
                .and_then(|v| v.parse::<u64>().ok())
        };
        if let (Some(new), Some(known)) = (version(&lease), self.current.as_ref().and_then(version))
            && new <= known
        {
            return;
        }
        if let Some(spec) = &lease.spec {
            self.observed.see(spec, now);
        }
        self.current = Some(lease);
    }

    /// Applies one event of the Lease's watch.
    fn apply(&mut self, event: Result<Event<Lease>, watcher::Error>, lease: &str) {
        let now = Instant::now();
        match event {
            Ok(Event::Init) => self.listing = Some(None),
            Ok(Event::InitApply(l)) => self.listing = Some(Some(l)),
            Ok(Event::InitDone) => {
                self.synced = true;
                match self.listing.take().flatten() {
                    Some(l) => self.see(l, now),
                    None => self.current = None,
                }
            }
            Ok(Event::Apply(l)) => self.see(l, now),
            Ok(Event::Delete(_)) => self.current = None,
            Err(e) => {
                tracing::warn!(lease, error = %e, "watching the Lease failed; backing off and resuming");
            }
        }
    }
}

/// The one Lease's events: a list+watch of `metadata.name=<lease>` in its namespace, resumed
/// from the last resourceVersion (relisted on 410 Gone), with backoff after errors.
fn lease_events(
    api: &Api<Lease>,
    config: &Election,
) -> impl Stream<Item = Result<Event<Lease>, watcher::Error>> + Send + 'static {
    let selector = format!("metadata.name={}", config.name);
    watcher::watcher(api.clone(), watcher::Config::default().fields(&selector)).default_backoff()
}

/// When the next write is due: the holder's renewal one retry period after its last attempt
/// (never after its fence), a follower's takeover when the claim it follows expires here, a
/// creation or a takeover of a free Lease at once; never two attempts within one retry period.
/// `None`: nothing to write until the watch says more.
fn due(
    lease: &Followed,
    config: &Election,
    last_renew: Option<Instant>,
    last_attempt: Option<Instant>,
) -> Option<Instant> {
    let spaced = last_attempt.map_or_else(Instant::now, |t| t + config.retry_period);
    if let Some(renewed) = last_renew {
        return Some(spaced.min(renewed + config.renew_deadline));
    }
    if !lease.synced {
        return None;
    }
    match decide(lease.spec(), &config.identity, false) {
        Action::Follow => lease
            .observed
            .expires_at(config.lease_duration)
            .map(|t| t.max(spaced)),
        Action::Create | Action::Renew | Action::TakeOver => Some(spaced),
    }
}

/// Sleeps until `at`; forever when `None`.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Why one run of the election ended.
enum Ending {
    Shutdown,
    NoLongerCandidate,
}

/// One run of the election, until `shutdown` or the end of this agent's candidacy; see [`run`].
async fn elect(
    api: &Api<Lease>,
    config: &Election,
    leader: &watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
    mut candidacy: Candidacy,
    telemetry: &Telemetry,
) {
    let mut lease = Followed::default();
    let mut events = lease_events(api, config).boxed();
    // Set while leading: when the last successful write started.
    let mut last_renew: Option<Instant> = None;
    let mut last_attempt: Option<Instant> = None;
    let ending = loop {
        let due = due(&lease, config, last_renew, last_attempt);
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break Ending::Shutdown,
            () = candidacy.until(false) => break Ending::NoLongerCandidate,
            Some(event) = events.next() => {
                lease.apply(event, &config.name);
                continue;
            }
            () = sleep_until(due) => {}
        }
        let started = Instant::now();
        if last_renew.is_some_and(|t| started >= t + config.renew_deadline) {
            tracing::warn!(lease = %config.name, "renew deadline passed: fencing cluster-scope rows");
            last_renew = None;
            set(leader, false, config, telemetry);
        }
        let action = decide(
            lease.spec(),
            &config.identity,
            lease.observed.expired(started, config.lease_duration),
        );
        if action == Action::Follow {
            last_renew = None;
            set(leader, false, config, telemetry);
            continue;
        }
        last_attempt = Some(started);
        // While leading, an attempt may take until the fencing deadline and no longer.
        let deadline = match last_renew {
            Some(t) => t + config.renew_deadline,
            None => started + config.retry_period.max(Duration::from_secs(1)),
        };
        let attempt =
            tokio::time::timeout_at(deadline, write(api, config, action, lease.current.clone()));
        let outcome = tokio::select! {
            r = attempt => r.unwrap_or(Err(AttemptError::Timeout)),
            _ = shutdown.wait_for(|s| *s) => break Ending::Shutdown,
            () = candidacy.until(false) => break Ending::NoLongerCandidate,
        };
        match outcome {
            Ok(written) => {
                lease.see(written, Instant::now());
                last_renew = Some(started);
                set(leader, true, config, telemetry);
            }
            // Someone else wrote first: follow; the watch brings what they wrote.
            Err(AttemptError::Api(kube::Error::Api(e))) if e.code == 409 => {
                last_renew = None;
                set(leader, false, config, telemetry);
            }
            Err(e) => {
                if last_renew.is_some() {
                    telemetry.lease_renew_failure();
                    tracing::warn!(lease = %config.name, error = %e, "lease renewal failed");
                } else {
                    tracing::debug!(lease = %config.name, error = %e, "lease write failed");
                }
                if last_renew.is_some_and(|t| Instant::now() >= t + config.renew_deadline) {
                    tracing::warn!(lease = %config.name, "renew deadline passed: fencing cluster-scope rows");
                    last_renew = None;
                    set(leader, false, config, telemetry);
                }
            }
        }
    };
    drop(events);
    let leading = *leader.borrow();
    set(leader, false, config, telemetry);
    match ending {
        Ending::NoLongerCandidate => {
            if leading {
                tracing::info!(lease = %config.name,
                    "no longer a leader candidate: stopped leading and renewing; another \
                     candidate takes over when the claim expires");
            }
        }
        Ending::Shutdown if leading => {
            let release = release(api, config, lease.current);
            match tokio::time::timeout(Duration::from_secs(5), release).await {
                Ok(Ok(())) => tracing::info!(lease = %config.name, "lease released"),
                Ok(Err(e)) => {
                    tracing::warn!(lease = %config.name, error = %e, "releasing the lease failed")
                }
                Err(_) => tracing::warn!(lease = %config.name, "releasing the lease timed out"),
            }
        }
        Ending::Shutdown => {}
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
    /// The API call failed (network, 5xx, 409, …).
    #[error("lease request failed: {0}")]
    Api(#[from] kube::Error),
    /// The attempt did not finish before its deadline.
    #[error("lease request timed out")]
    Timeout,
}

/// One write: creates the Lease, renews it or takes it over from `current`, the latest state
/// known. Returns the Lease as written. A 409 means another candidate wrote first.
///
/// NOTE: `current` MUST be `Some` for [`Action::Renew`] and [`Action::TakeOver`] (`decide`
/// answers them only for an existing Lease).
async fn write(
    api: &Api<Lease>,
    config: &Election,
    action: Action,
    current: Option<Lease>,
) -> Result<Lease, AttemptError> {
    let duration = i32::try_from(config.lease_duration.as_secs()).unwrap_or(i32::MAX);
    let written = match (action, current) {
        (Action::Renew | Action::TakeOver, Some(mut lease)) => {
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            if action == Action::TakeOver {
                spec.holder_identity = Some(config.identity.clone());
                spec.acquire_time = Some(now_micro());
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            }
            spec.lease_duration_seconds = Some(duration);
            spec.renew_time = Some(now_micro());
            // `replace` sends the resourceVersion we know: a concurrent writer makes this 409.
            api.replace(&config.name, &PostParams::default(), &lease)
                .await?
        }
        _ => {
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
            api.create(&PostParams::default(), &lease).await?
        }
    };
    Ok(written)
}

/// Clears the holder of `current` (the latest state known) so the next candidate need not
/// wait for expiry (client-go's `ReleaseOnCancel`). When another write came first (409), the
/// Lease is left alone: it expires as usual.
async fn release(
    api: &Api<Lease>,
    config: &Election,
    current: Option<Lease>,
) -> Result<(), kube::Error> {
    let Some(mut lease) = current else {
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

    /// The election of [`election`] on `api`, run on its own task as the agent runs it, every
    /// agent a candidate.
    fn spawn_election(
        api: Api<Lease>,
        leader: watch::Sender<bool>,
        shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(run(
            api,
            election(),
            Candidacy::Every,
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
            candidates: None,
        }
    }

    const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/ns/leases";

    /// An API server holding one Lease, as the apiserver keeps it: POST creates it and PUT
    /// replaces it, each write bumping its resourceVersion (409 when the write names an older
    /// one); GET of the Lease answers it (404 before it exists); a list of the namespace's
    /// Leases holds it, and a watch from resourceVersion v answers, once the Lease is newer than
    /// v, one MODIFIED event and ends (the watcher then watches again from there). While
    /// `partitioned`, no request is answered.
    fn lease_server(partitioned: Arc<AtomicBool>) -> (Api<Lease>, MockApi) {
        let stored = Arc::new(std::sync::Mutex::new((None::<serde_json::Value>, 0_u64)));
        let (version_tx, version_rx) = watch::channel(0_u64);
        let (client, api) = MockApi::start(move |req: &Seen| {
            if partitioned.load(Ordering::SeqCst) {
                return Answer::Hold;
            }
            if req.method == http::Method::GET && req.path == LEASES {
                let param = |name: &str| {
                    req.query
                        .split('&')
                        .find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                        .map(str::to_string)
                };
                assert_eq!(
                    param("fieldSelector").as_deref(),
                    Some("metadata.name=lease")
                );
                if req.is_watch() {
                    let from: u64 = param("resourceVersion")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let (stored, mut version) = (stored.clone(), version_rx.clone());
                    return Answer::Later(Box::pin(async move {
                        let _ = version.wait_for(|v| *v > from).await;
                        let lease = stored.lock().unwrap().0.clone();
                        let event = serde_json::json!({"type": "MODIFIED", "object": lease});
                        Answer::Json(http::StatusCode::OK, format!("{event}\n"))
                    }));
                }
                let (lease, version) = &*stored.lock().unwrap();
                return Answer::ok(serde_json::json!({"kind": "LeaseList",
                    "apiVersion": "coordination.k8s.io/v1",
                    "metadata": {"resourceVersion": version.to_string()},
                    "items": lease.iter().collect::<Vec<_>>()}));
            }
            let (lease, version) = &mut *stored.lock().unwrap();
            match req.method {
                http::Method::GET => match lease {
                    Some(l) => Answer::ok(l.clone()),
                    None => Answer::status(404, "NotFound"),
                },
                http::Method::POST | http::Method::PUT => {
                    let mut written: serde_json::Value = serde_json::from_str(&req.body).unwrap();
                    let stale = match req.method {
                        http::Method::POST => lease.is_some(),
                        _ => {
                            written["metadata"]["resourceVersion"]
                                .as_str()
                                .and_then(|v| v.parse::<u64>().ok())
                                != Some(*version)
                        }
                    };
                    if stale {
                        return Answer::status(409, "Conflict");
                    }
                    *version += 1;
                    written["metadata"]["resourceVersion"] = version.to_string().into();
                    *lease = Some(written.clone());
                    version_tx.send_replace(*version);
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
            Candidacy::Every,
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
        assert!(
            server.count(|s| is_renewal(s) && s.at > last_renewal) >= 1,
            "it kept trying to renew while partitioned (none was answered)"
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

    /// A Lease held by `holder`, renewed now.
    fn held_by(holder: &str) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some("lease".into()),
                namespace: Some("ns".into()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.into()),
                lease_duration_seconds: Some(15),
                renew_time: Some(now_micro()),
                ..LeaseSpec::default()
            }),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_follower_watches_the_lease_without_polling_and_takes_over_when_renewals_stop() {
        let (api, server) = lease_server(Arc::new(AtomicBool::new(false)));
        let mut held = api
            .create(&PostParams::default(), &held_by("other"))
            .await
            .unwrap();
        let (leader_tx, mut leader) = watch::channel(false);
        let (_shutdown_tx, shutdown) = watch::channel(false);
        let task = spawn_election(api.clone(), leader_tx, shutdown);
        // The other holder renews every 2 s for a minute.
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            held.spec.as_mut().unwrap().renew_time = Some(now_micro());
            held = api
                .replace("lease", &PostParams::default(), &held)
                .await
                .unwrap();
            assert!(!*leader.borrow(), "a live claim is followed");
        }
        let ours = |s: &Seen| s.method == http::Method::PUT && s.body.contains("\"me\"");
        assert_eq!(server.count(ours), 0, "a follower never writes");
        assert_eq!(
            server.count(|s| s.method == http::Method::GET && s.path == LEASE),
            0,
            "no GET of the Lease"
        );
        assert_eq!(
            server.count(|s| s.is_list_of(LEASES)),
            1,
            "one list, then the watch"
        );
        // The holder dies: the follower takes over one lease duration after the last renewal
        // it saw, with no request in between but the watch.
        let last = Instant::now();
        leader.wait_for(|l| *l).await.unwrap();
        let took = last.elapsed();
        assert!(
            took >= Duration::from_secs(15)
                && took <= Duration::from_secs(15) + Duration::from_millis(100),
            "took over {took:?} after the last renewal"
        );
        assert_eq!(server.count(ours), 1, "one write: the takeover");
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn candidacy_follows_the_node_labels_and_a_non_candidate_makes_no_lease_request() {
        let (api, server) = lease_server(Arc::new(AtomicBool::new(false)));
        let node = candidacy::NodeLabels::default();
        let selector = crate::config::label_selector::LabelSelector::parse(
            "kube-state-agent.io/leader-candidate=true",
        )
        .unwrap();
        let candidate: std::collections::BTreeMap<String, String> = [(
            "kube-state-agent.io/leader-candidate".to_string(),
            "true".to_string(),
        )]
        .into();
        node.publish(Some(&std::collections::BTreeMap::new()));
        let (leader_tx, mut leader) = watch::channel(false);
        let (shutdown_tx, shutdown) = watch::channel(false);
        let telemetry = Telemetry::new();
        let task = tokio::spawn(run(
            api,
            election(),
            Candidacy::new(Some(selector), &node),
            leader_tx,
            ElectionRunning::default(),
            shutdown,
            telemetry.clone(),
        ));
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(server.seen().len(), 0, "not a candidate: no request at all");
        assert_eq!(telemetry.value("ksa_leader_candidate", &[]), Some(0.0));

        node.publish(Some(&candidate));
        leader.wait_for(|l| *l).await.unwrap();
        assert_eq!(telemetry.value("ksa_leader_candidate", &[]), Some(1.0));
        server.nth(2, is_renewal).await;

        node.publish(Some(&std::collections::BTreeMap::new()));
        leader.wait_for(|l| !*l).await.unwrap();
        let stepped_down = server.seen().len();
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(
            server.seen().len(),
            stepped_down,
            "no request after stepping down: {:?}",
            &server.seen()[stepped_down..]
        );
        assert!(!*leader.borrow());
        assert_eq!(telemetry.value("ksa_leader_candidate", &[]), Some(0.0));
        shutdown_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("ends on shutdown")
            .unwrap();
    }
}
