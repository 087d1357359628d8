//! The watches and snapshot builder of one configuration (a [`Pipeline`]), and the switch from
//! one configuration to the next on a reload ([`Pipelines`]).
//!
//! A reload starts the new configuration's pipeline next to the running one, which keeps
//! publishing; once every new watch has listed ([`crate::store::all_listed`]), or at
//! [`SWITCH_TIMEOUT`], the new pipeline's builder takes over the published snapshot and the
//! old pipeline stops. So a scrape never sees a half-listed configuration, and the HTTP
//! servers and the published handle carry on across reloads. See
//! [`Pipelines::follow_reloads`].
//!
//! The election carries on too, unless the new configuration elects on another Lease (a node
//! agent whose `--shard`/`--total-shards` changed): then the new configuration's election
//! starts beside the running one, and the running one ends only after the switch has
//! published a snapshot without its rows. Stepping down from a shard is thus: its rows leave
//! what scrapes see, then its Lease is released, the fencing order of
//! [`crate::leader`].

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt as _};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::config::{Config, Election, ScopeMode};
use crate::leader::{self, LeaderWatch};
use crate::plan::{self, Role};
use crate::registry::KindInfo;
use crate::snapshot::{Compression, KindSource, Published, run_builder};
use crate::store::{self, ChangeSignal, Reader, Writer};
use crate::telemetry::SnapshotTelemetry;
use crate::watch::WatchContext;

/// How long a reload waits for the new watches' first lists before switching anyway.
pub const SWITCH_TIMEOUT: Duration = Duration::from_secs(30);

/// The watches and snapshot builder of one configuration.
pub struct Pipeline {
    config: Config,
    signal: ChangeSignal,
    sources: Arc<Vec<KindSource>>,
    readers: Vec<Reader>,
    stop_tx: watch::Sender<bool>,
    watches: JoinSet<Writer>,
    follower: Option<JoinHandle<()>>,
    builder: Option<JoinHandle<()>>,
    started: Instant,
}

impl Pipeline {
    /// Starts the watches `config` plans over `kinds`: the local ones at once, the leader-only
    /// ones whenever `leader` is true (at once when it is already).
    ///
    /// NOTE: `leader` MUST be given when `config` has an election, or the leader-only watches
    /// never run.
    pub fn start(
        config: Config,
        kinds: &[&'static dyn KindInfo],
        ctx: &WatchContext,
        leader: Option<&watch::Receiver<bool>>,
    ) -> Pipeline {
        let signal = ChangeSignal::default();
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut watches = JoinSet::new();
        let mut sources = Vec::new();
        let mut readers = Vec::new();
        let mut leader_watches = Vec::new();
        for kind_plan in plan::plan(&config, kinds) {
            let kind = kind_plan.kind;
            let mut shards = Vec::with_capacity(kind_plan.watches.len());
            for planned in kind_plan.watches {
                let (writer, reader) = store::shard(kind.resource(), signal.clone());
                shards.push(reader);
                match planned.role {
                    Role::Local => {
                        watches.spawn(kind.watch(
                            planned.spec,
                            ctx.clone(),
                            writer,
                            stop_rx.clone(),
                        ));
                    }
                    Role::LeaderOnly => {
                        leader_watches.push(LeaderWatch::new(kind, planned.spec, writer));
                    }
                }
            }
            readers.extend(shards.iter().cloned());
            sources.push(KindSource {
                info: kind,
                selection: kind_plan.selection,
                shards,
            });
        }
        debug_assert!(
            leader.is_some() || leader_watches.is_empty(),
            "leader-only watches planned without an election to follow"
        );
        let follower = leader.map(|l| {
            leader::follow(
                l.clone(),
                leader_watches,
                ctx.clone(),
                config.watch.shard,
                stop_rx.clone(),
            )
        });
        Pipeline {
            config,
            signal,
            sources: Arc::new(sources),
            readers,
            stop_tx,
            watches,
            follower,
            builder: None,
            started: Instant::now(),
        }
    }

    /// The configuration this pipeline runs.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Starts publishing this pipeline's snapshots into `published`, the first one at once.
    pub fn publish(&mut self, published: Published, observer: Arc<SnapshotTelemetry>) {
        self.builder = Some(tokio::spawn(run_builder(
            self.sources.clone(),
            published,
            self.signal.clone(),
            self.config.snapshot_interval,
            Compression {
                gzip: self.config.gzip,
                namespace_views: self.config.auth.is_some(),
            },
            observer,
        )));
        self.signal.notify();
    }

    /// Completes once every watch has listed, or at the switch deadline ([`SWITCH_TIMEOUT`]
    /// after the pipeline started). Owns what it reads, so it can be polled while the pipeline
    /// is moved.
    ///
    /// NOTE: it waits on the pipeline's change signal, which the builder consumes too: only a
    /// pipeline that does not publish yet may be waited for.
    fn listed(&self) -> impl Future<Output = ()> + Send + 'static {
        let readers = self.readers.clone();
        let signal = self.signal.clone();
        let deadline = self.started + SWITCH_TIMEOUT;
        async move {
            loop {
                if store::all_listed(&readers) {
                    return;
                }
                tokio::select! {
                    () = signal.changed() => {}
                    () = tokio::time::sleep_until(deadline) => {
                        tracing::warn!("the new configuration's watches have not all listed \
                            after {SWITCH_TIMEOUT:?}; switching anyway");
                        return;
                    }
                }
            }
        }
    }

    /// Stops publishing first (so emptied stores are never published), then every watch.
    pub async fn stop(mut self) {
        if let Some(builder) = self.builder.take() {
            builder.abort();
        }
        let _ = self.stop_tx.send(true);
        if let Some(follower) = self.follower.take() {
            let _ = follower.await;
        }
        while self.watches.join_next().await.is_some() {}
    }
}

/// A running election for one Lease ([`crate::leader::run`]), as the pipelines use it.
pub struct ElectionHandle {
    config: Election,
    leader: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ElectionHandle {
    /// The election of `config` run by `task`, which publishes leadership on `leader` and
    /// ends when `stop` turns true (or is dropped), stepping down and releasing the Lease.
    pub fn new(
        config: Election,
        leader: watch::Receiver<bool>,
        stop: watch::Sender<bool>,
        task: JoinHandle<()>,
    ) -> ElectionHandle {
        ElectionHandle {
            config,
            leader,
            stop,
            task,
        }
    }

    /// Ends the election (releasing the Lease if held) and waits for it.
    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Starts the election of one Lease.
pub type StartElection = Box<dyn Fn(Election) -> ElectionHandle + Send + Sync>;

/// The custom kinds of one custom resource state config text.
#[derive(Default)]
struct CustomKinds {
    source: Option<String>,
    kinds: Vec<&'static dyn KindInfo>,
}

impl CustomKinds {
    /// `builtin` followed by the custom kinds of `config` (after the built-in kinds: their
    /// families come last in a scrape, as kube-state-metrics writes its custom stores after the
    /// built-in ones), made anew only when the config's text differs from the last one's.
    fn with(
        &mut self,
        builtin: &[&'static dyn KindInfo],
        config: &Config,
    ) -> Vec<&'static dyn KindInfo> {
        let source = config.custom.as_ref().map(|c| &c.source);
        if source != self.source.as_ref() {
            self.kinds = config
                .custom
                .as_ref()
                .map(|c| {
                    crate::custom::kind::leak(c)
                        .into_iter()
                        .map(|k| k as &'static dyn KindInfo)
                        .collect()
                })
                .unwrap_or_default();
            self.source = source.cloned();
        }
        builtin.iter().chain(&self.kinds).copied().collect()
    }
}

/// The pipeline in effect, and the next one while its watches list after a reload.
pub struct Pipelines {
    current: Pipeline,
    pending: Option<Pipeline>,
    kinds: &'static [&'static dyn KindInfo],
    /// The custom kinds of the running custom resource state config, with its text: a reload
    /// that leaves the text alone reuses them, so kinds are leaked only when it changes (see
    /// `crate::custom::kind`).
    custom: CustomKinds,
    ctx: WatchContext,
    /// The current pipeline's election.
    election: Option<ElectionHandle>,
    /// The pending pipeline's election, when it elects on another Lease than the current one.
    pending_election: Option<ElectionHandle>,
    start_election: Option<StartElection>,
    published: Published,
    observer: Arc<SnapshotTelemetry>,
}

impl Pipelines {
    /// Starts the pipeline of `config` and its publishing into `published`, and its election
    /// through `start_election` (given exactly when `config` has an election); the leader-only
    /// watches follow it.
    pub fn start(
        config: Config,
        kinds: &'static [&'static dyn KindInfo],
        ctx: WatchContext,
        start_election: Option<StartElection>,
        published: Published,
    ) -> Pipelines {
        let observer = SnapshotTelemetry::new(ctx.telemetry.clone());
        let mut custom = CustomKinds::default();
        let all = custom.with(kinds, &config);
        debug_assert_eq!(config.election.is_some(), start_election.is_some());
        let election = match (&config.election, &start_election) {
            (Some(e), Some(start)) => Some(start(e.clone())),
            _ => None,
        };
        let leader = election.as_ref().map(|e| &e.leader);
        let mut current = Pipeline::start(config, &all, &ctx, leader);
        current.publish(published.clone(), observer.clone());
        Pipelines {
            current,
            pending: None,
            kinds,
            custom,
            ctx,
            election,
            pending_election: None,
            start_election,
            published,
            observer,
        }
    }

    /// The configuration whose snapshots are published.
    pub fn current(&self) -> &Config {
        self.current.config()
    }

    /// Applies each configuration `reloads` yields: starts its pipeline next to the current
    /// one (replacing a pending one that has not switched yet) and switches to it once its
    /// watches have listed, or at [`SWITCH_TIMEOUT`]. Never completes; cancel-safe between
    /// reloads (cancelling mid-switch leaves every pipeline stoppable by [`Pipelines::stop`]).
    pub async fn follow_reloads(&mut self, reloads: &mut (impl Stream<Item = Config> + Unpin)) {
        let mut reloads_ended = false;
        loop {
            let listed = self.pending.as_ref().map(Pipeline::listed);
            let switch = async move {
                match listed {
                    Some(f) => f.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                next = reloads.next(), if !reloads_ended => match next {
                    Some(config) => self.reload(config).await,
                    None => reloads_ended = true,
                },
                () = switch => self.switch().await,
            }
        }
    }

    /// Starts `config`'s pipeline next to the current one, and its election when it elects
    /// on another Lease (a superseded pending pipeline stops first, then its election: it
    /// never published).
    async fn reload(&mut self, config: Config) {
        if let Some(superseded) = self.pending.take() {
            superseded.stop().await;
        }
        if let Some(superseded) = self.pending_election.take() {
            superseded.stop().await;
        }
        let running = self.election.as_ref().map(|e| &e.config);
        if let (Some(new), Some(start)) = (&config.election, &self.start_election)
            && running != Some(new)
        {
            tracing::info!(lease = %new.name, "the new configuration elects on another Lease");
            self.pending_election = Some(start(new.clone()));
        }
        let leader = self
            .pending_election
            .as_ref()
            .or(self.election.as_ref())
            .map(|e| &e.leader);
        let all = self.custom.with(self.kinds, &config);
        let next = Pipeline::start(config, &all, &self.ctx, leader);
        self.pending = Some(next);
    }

    /// Makes the pending pipeline current: its builder publishes from now on (going on from
    /// the published generation), and the old pipeline stops. When the new pipeline elects on
    /// another Lease, the old election ends once a snapshot of the new pipeline is published,
    /// so the old shard's rows are gone from every scrape before its Lease is released.
    ///
    /// NOTE: cancelled while it waits for that snapshot (at shutdown), the old election's
    /// handle is dropped, which ends it all the same.
    async fn switch(&mut self) {
        let Some(mut next) = self.pending.take() else {
            return;
        };
        if let Some(builder) = self.current.builder.take() {
            builder.abort();
        }
        let generation = self.published.load().generation();
        next.publish(self.published.clone(), self.observer.clone());
        let old_shard = self.current.config().watch.shard;
        std::mem::replace(&mut self.current, next).stop().await;
        if let Some(new) = self.pending_election.take()
            && let Some(old) = self.election.replace(new)
        {
            let fenced = self.published.published_after(generation);
            if tokio::time::timeout(SWITCH_TIMEOUT, fenced).await.is_err() {
                tracing::warn!(lease = %old.config.name, "no snapshot of the new configuration \
                    was published in {SWITCH_TIMEOUT:?}; releasing the old Lease anyway");
            }
            let lease = old.config.name.clone();
            old.stop().await;
            tracing::info!(%lease, "stepped down from the old shard's Lease");
        }
        let config = self.current.config();
        if config.watch.shard != old_shard {
            // A `--scope=cluster` instance serves its shard whatever happens; a node agent's
            // ordinal follows its leadership (`leader::follow`), and the old election's end
            // reported not leading, whatever the new one does.
            let (index, total) = config.watch.shard.map_or((0, 1), |s| (s.index, s.total));
            let leading = self.election.as_ref().map(|e| *e.leader.borrow());
            if let Some(leading) = leading {
                self.ctx.telemetry.leader_is(leading);
            }
            let serving = match leading {
                Some(leading) => leading.then_some(index),
                None => (config.scope == ScopeMode::Cluster).then_some(index),
            };
            self.ctx.telemetry.shard(total, serving);
            tracing::info!(shard = index, total_shards = total, "re-sharded");
        }
        tracing::info!(resources = %config.resources.join(","),
            from = %config.resources_from, "new configuration in effect");
    }

    /// Ends the elections (the Lease released if held), so the next candidate takes over
    /// at its next attempt; the pipelines keep running until [`Pipelines::stop`].
    pub async fn stop_elections(&mut self) {
        if let Some(pending) = self.pending_election.take() {
            pending.stop().await;
        }
        if let Some(current) = self.election.take() {
            current.stop().await;
        }
    }

    /// Stops every pipeline, and the elections if still running.
    pub async fn stop(mut self) {
        self.stop_elections().await;
        if let Some(pending) = self.pending {
            pending.stop().await;
        }
        self.current.stop().await;
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;
    use futures::channel::mpsc;

    use super::*;
    use crate::config::Args;
    use crate::exposition::Format;
    use crate::mock_api::{Answer, MockApi, Seen, discovery, list};
    use crate::registry;
    use crate::telemetry::Telemetry;

    fn config(args: &[&str]) -> Config {
        let argv = ["kube-state-agent", "--api-encoding=json"]
            .into_iter()
            .chain(args.iter().copied());
        Config::from_args(Args::try_parse_from(argv).unwrap(), &registry::catalog()).unwrap()
    }

    /// The configuration started with: namespaces, cluster-wide.
    fn first() -> Config {
        config(&["--scope=cluster", "--resources=namespaces"])
    }

    /// The reloaded one: services too, and the namespaces' `team` label (so its snapshots
    /// tell themselves apart even while the services have not listed).
    fn reloaded() -> Config {
        config(&[
            "--scope=cluster",
            "--resources=namespaces,services",
            "--metric-labels-allowlist=namespaces=[team]",
        ])
    }

    /// An API server with one namespace and one service; the service list is answered once
    /// `services_listed` turns true.
    fn api(services_listed: watch::Receiver<bool>) -> (WatchContext, MockApi) {
        let (client, server) = MockApi::start(move |req: &Seen| {
            if req.is_watch() {
                return Answer::Hold;
            }
            match req.path.as_str() {
                "/api/v1" => discovery(&["namespaces", "services"]),
                "/api/v1/namespaces" => list(
                    "NamespaceList",
                    vec![serde_json::json!({"metadata": {"name": "a", "uid": "u-a",
                        "resourceVersion": "9", "labels": {"team": "x"}},
                        "status": {"phase": "Active"}})],
                ),
                "/api/v1/services" => {
                    let mut listed = services_listed.clone();
                    Answer::Later(Box::pin(async move {
                        let _ = listed.wait_for(|l| *l).await;
                        list(
                            "ServiceList",
                            vec![
                                serde_json::json!({"metadata": {"name": "s", "namespace": "a",
                                "uid": "u-s", "resourceVersion": "9"},
                                "spec": {"type": "ClusterIP"}}),
                            ],
                        )
                    }))
                }
                _ => Answer::status(404, "NotFound"),
            }
        });
        let ctx = WatchContext {
            client,
            telemetry: Telemetry::new(),
            node_labels: Default::default(),
        };
        (ctx, server)
    }

    fn body(published: &Published) -> String {
        String::from_utf8(published.load().body(Format::Text, false).chunks.to_vec()).unwrap()
    }

    /// Waits (polling tokio's clock, paused in these tests) until `done` holds.
    async fn eventually(what: &str, done: impl Fn() -> bool) {
        let wait = async {
            while !done() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(120), wait)
            .await
            .unwrap_or_else(|_| panic!("never: {what}"));
    }

    /// Runs `test` while `pipelines` follow `reloads`.
    async fn following_reloads(
        pipelines: &mut Pipelines,
        reloads: &mut mpsc::UnboundedReceiver<Config>,
        test: impl Future<Output = ()>,
    ) {
        tokio::select! {
            () = pipelines.follow_reloads(reloads) => unreachable!("follows forever"),
            () = test => {}
        }
    }

    const FIRST_ROW: &str = r#"kube_namespace_status_phase{namespace="a",phase="Active"} 1"#;
    const RELOADED_ROW: &str = r#"kube_namespace_labels{namespace="a",label_team="x"} 1"#;
    const SERVICE_ROW: &str = r#"kube_service_info{namespace="a",service="s""#;

    /// Starts the first configuration and waits for its ready snapshot.
    async fn started(ctx: WatchContext, published: &Published) -> Pipelines {
        let pipelines = Pipelines::start(first(), registry::KINDS, ctx, None, published.clone());
        eventually("the first configuration's ready snapshot", || {
            published.load().is_ready() && body(published).contains(FIRST_ROW)
        })
        .await;
        pipelines
    }

    #[tokio::test(start_paused = true)]
    async fn a_reload_serves_the_old_snapshot_until_the_new_watches_have_listed() {
        let (services_tx, services_listed) = watch::channel(false);
        let (ctx, server) = api(services_listed);
        let telemetry = ctx.telemetry.clone();
        let published = Published::default();
        let mut pipelines = started(ctx, &published).await;
        let before = published.load().generation();
        let (reload, mut reloads) = mpsc::unbounded();

        let test = async {
            reload.unbounded_send(reloaded()).unwrap();
            server.nth(1, |s| s.is_list_of("/api/v1/services")).await;
            // The new namespace watch lists at once, the services do not: nothing switches.
            server.nth(2, |s| s.is_list_of("/api/v1/namespaces")).await;
            tokio::time::sleep(SWITCH_TIMEOUT / 2).await;
            let old = body(&published);
            assert!(
                old.contains(FIRST_ROW) && !old.contains(RELOADED_ROW),
                "{old}"
            );
            assert!(published.load().is_ready());

            services_tx.send(true).unwrap();
            eventually("the new configuration's snapshot", || {
                let new = body(&published);
                new.contains(RELOADED_ROW) && new.contains(SERVICE_ROW)
            })
            .await;
            let snapshot = published.load();
            assert!(snapshot.is_ready(), "switched once listed: ready at once");
            assert!(snapshot.generation() > before, "generations go on");
            eventually("the old pipeline's watch stopped", || {
                telemetry.value("ksa_watches_active", &[("resource", "namespaces")]) == Some(1.0)
            })
            .await;
        };
        following_reloads(&mut pipelines, &mut reloads, test).await;
        assert_eq!(pipelines.current().resources, ["namespaces", "services"]);
        pipelines.stop().await;
        assert_eq!(
            telemetry.value("ksa_watches_active", &[("resource", "services")]),
            Some(0.0),
            "stopping stops every watch"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_reload_whose_watches_never_list_switches_at_the_deadline() {
        let (_services_tx, services_listed) = watch::channel(false);
        let (ctx, server) = api(services_listed);
        let published = Published::default();
        let mut pipelines = started(ctx, &published).await;
        let (reload, mut reloads) = mpsc::unbounded();

        let test = async {
            let reloaded_at = Instant::now();
            reload.unbounded_send(reloaded()).unwrap();
            server.nth(1, |s| s.is_list_of("/api/v1/services")).await;
            tokio::time::sleep_until(reloaded_at + SWITCH_TIMEOUT - Duration::from_secs(1)).await;
            assert!(
                !body(&published).contains(RELOADED_ROW),
                "still the old snapshot"
            );
            eventually("the switch at the deadline", || {
                body(&published).contains(RELOADED_ROW)
            })
            .await;
            let switched_after = Instant::now() - reloaded_at;
            assert!(
                switched_after <= SWITCH_TIMEOUT + Duration::from_secs(1),
                "switched {switched_after:?} after the reload"
            );
            assert!(
                !published.load().is_ready(),
                "a snapshot with a kind still listing is not ready"
            );
            assert!(!body(&published).contains(SERVICE_ROW));
        };
        following_reloads(&mut pipelines, &mut reloads, test).await;
        pipelines.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_reload_before_the_switch_replaces_the_pending_one() {
        let (_services_tx, services_listed) = watch::channel(false);
        let (ctx, server) = api(services_listed);
        let telemetry = ctx.telemetry.clone();
        let published = Published::default();
        let mut pipelines = started(ctx, &published).await;
        let (reload, mut reloads) = mpsc::unbounded();

        let test = async {
            reload.unbounded_send(reloaded()).unwrap();
            server.nth(1, |s| s.is_list_of("/api/v1/services")).await;
            // Back to namespaces only, with the label: this one lists at once.
            reload
                .unbounded_send(config(&[
                    "--scope=cluster",
                    "--resources=namespaces",
                    "--metric-labels-allowlist=namespaces=[team]",
                ]))
                .unwrap();
            eventually("the second reload in effect", || {
                body(&published).contains(RELOADED_ROW)
            })
            .await;
            assert!(published.load().is_ready());
            eventually("the superseded services watch stopped", || {
                telemetry.value("ksa_watches_active", &[("resource", "services")]) == Some(0.0)
            })
            .await;
        };
        following_reloads(&mut pipelines, &mut reloads, test).await;
        assert_eq!(pipelines.current().resources, ["namespaces"]);
        pipelines.stop().await;
    }

    /// Pins the sequence of a move to another shard's Lease: the new election starts with the
    /// reload, the old one ends only after the switch, when the published snapshot no longer
    /// holds the old shard's rows. (Whether the wait for that snapshot is needed depends on
    /// scheduling here; the live test `shards::a_node_agents_total_shards_change_…` checks the
    /// rows against the Lease from outside.)
    #[tokio::test(start_paused = true)]
    async fn a_node_agent_moving_to_another_shards_lease_releases_the_old_one_after_its_rows_left()
    {
        let (_listed_tx, listed) = watch::channel(true);
        let (ctx, _server) = api(listed);
        let published = Published::default();
        // The shard of two that does not own the one namespace: its rows must go.
        let other = (0..2)
            .find(|i| {
                !crate::sharding::Shard {
                    index: *i,
                    total: 2,
                }
                .owns("u-a")
            })
            .unwrap();
        let node = |extra: &[&str]| {
            let base = ["--node=n1", "--resources=namespaces", "--lease-name=l"];
            config(&[&base[..], extra].concat())
        };
        // Elections that lead at once and note when they start and end, and whether the
        // published snapshot still held the old shard's rows when they ended.
        let events = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let start: StartElection = {
            let (events, published) = (events.clone(), published.clone());
            Box::new(move |e: Election| {
                events.lock().unwrap().push(format!("start {}", e.name));
                let (leader_tx, leader) = watch::channel(true);
                let (stop, mut stopped) = watch::channel(false);
                let (events, published, name) = (events.clone(), published.clone(), e.name.clone());
                let task = tokio::spawn(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                    let rows = body(&published).contains(FIRST_ROW);
                    events
                        .lock()
                        .unwrap()
                        .push(format!("stop {name}, old rows published: {rows}"));
                    drop(leader_tx);
                });
                ElectionHandle::new(e, leader, stop, task)
            })
        };
        let mut pipelines = Pipelines::start(
            node(&[]),
            registry::KINDS,
            ctx,
            Some(start),
            published.clone(),
        );
        eventually("the leader's rows", || body(&published).contains(FIRST_ROW)).await;

        let (reload, mut reloads) = mpsc::unbounded();
        let shard = format!("--shard={other}");
        let test = async {
            reload
                .unbounded_send(node(&["--total-shards=2", &shard]))
                .unwrap();
            eventually("the old election ended", || {
                events.lock().unwrap().len() == 3
            })
            .await;
        };
        following_reloads(&mut pipelines, &mut reloads, test).await;
        assert_eq!(
            *events.lock().unwrap(),
            [
                "start l".to_string(),
                format!("start l-shard-{other}"),
                "stop l, old rows published: false".to_string(),
            ]
        );
        assert!(!body(&published).contains(FIRST_ROW));
        pipelines.stop().await;
        assert_eq!(
            events.lock().unwrap().last().map(String::as_str),
            Some(format!("stop l-shard-{other}, old rows published: false").as_str()),
            "stopping ends the new election too"
        );
    }
}
