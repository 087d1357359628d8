//! Wiring: load TLS, build the client, start one watch per (kind, selector), the snapshot
//! builder and the two HTTP servers, swap the watches and builder for new ones when the
//! `--config` file changes, and stop them all on SIGTERM. See [`run`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::Api;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::client;
use crate::config::{self, Config, NamespaceFilter, ScopeMode};
use crate::exposition::RenderContext;
use crate::http::auth::{Authorizer, NamespaceNames};
use crate::http::review::ApiReviewer;
use crate::http::serve::{Listener, serve};
use crate::http::tls::{self, ServerTls};
use crate::http::{AppState, router, shutdown_signal, telemetry_router};
use crate::leader;
use crate::registry;
use crate::registry::KindInfo;
use crate::reload::FileWatch;
use crate::resources::{FamilySelection, Scope};
use crate::snapshot::{Compression, KindSource, Published, run_builder};
use crate::store::{self, ChangeSignal, Reader, Writer};
use crate::telemetry::{SnapshotTelemetry, Telemetry};
use crate::watch::{ListOptions, WatchContext, WatchSpec, WatchTarget};

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No API client could be built.
    #[error(transparent)]
    Client(#[from] client::Error),
    /// A listening address could not be bound.
    #[error("cannot listen on {addr} ({flag}): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The flag pair that set it.
        flag: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `--tls-config` cannot be served.
    #[error(transparent)]
    Tls(#[from] tls::Error),
}

/// The watches this agent runs for a kind of `scope`.
///
/// Namespaced kinds (pods included) get one watch per allowed namespace, or one cluster-wide
/// watch with the denied namespaces excluded by field selector, as kube-state-metrics builds
/// them; cluster-scoped kinds ignore the namespace lists, as in kube-state-metrics.
fn targets(
    mode: ScopeMode,
    scope: Scope,
    node: &str,
    namespaces: &NamespaceFilter,
) -> Vec<WatchTarget> {
    if mode == ScopeMode::Cluster {
        return scoped(scope, None, namespaces);
    }
    match scope {
        Scope::NodeBound => scoped(scope, Some(format!("spec.nodeName={node}")), namespaces),
        Scope::NodeSelf => scoped(scope, Some(format!("metadata.name={node}")), namespaces),
        // Watched by the elected leader only.
        Scope::Namespaced | Scope::Cluster => Vec::new(),
    }
}

/// The watches the elected leader adds for a kind of `scope`: the unscheduled pods and every
/// kind that is not bound to a node.
fn leader_targets(scope: Scope, namespaces: &NamespaceFilter) -> Vec<WatchTarget> {
    match scope {
        Scope::NodeBound => scoped(scope, Some("spec.nodeName=".to_string()), namespaces),
        Scope::NodeSelf => Vec::new(),
        Scope::Namespaced | Scope::Cluster => scoped(scope, None, namespaces),
    }
}

/// The watches of one kind with `selector`, split by namespace when the kind is namespaced.
fn scoped(
    scope: Scope,
    selector: Option<String>,
    namespaces: &NamespaceFilter,
) -> Vec<WatchTarget> {
    match scope {
        Scope::NodeSelf | Scope::Cluster => vec![WatchTarget {
            namespace: None,
            field_selector: selector,
        }],
        Scope::NodeBound | Scope::Namespaced => namespaces
            .watched()
            .into_iter()
            .map(|namespace| {
                let deny = match namespace {
                    None => namespaces.deny_selector(),
                    Some(_) => None,
                };
                WatchTarget {
                    namespace,
                    field_selector: and(selector.clone(), deny.as_deref()),
                }
            })
            .collect(),
    }
}

/// `a,b`: both field selectors must hold.
fn and(a: Option<String>, b: Option<&str>) -> Option<String> {
    match (a, b.filter(|b| !b.is_empty())) {
        (Some(a), Some(b)) => Some(format!("{a},{b}")),
        (Some(a), None) => Some(a),
        (None, b) => b.map(str::to_string),
    }
}

/// `target` split into the kind's watch shapes (lean watches), each with its selector merged
/// in; one full watch of `target` when `lean` is off.
fn shaped(
    target: &WatchTarget,
    shape_selectors: &[&'static str],
    lean: bool,
) -> Vec<(WatchTarget, Option<usize>)> {
    if !lean {
        return vec![(target.clone(), None)];
    }
    shape_selectors
        .iter()
        .enumerate()
        .map(|(i, selector)| {
            let target = WatchTarget {
                namespace: target.namespace.clone(),
                field_selector: and(target.field_selector.clone(), Some(selector)),
            };
            (target, Some(i))
        })
        .collect()
}

/// A watch that runs only while this agent leads; its writer rests here in between.
struct LeaderWatch {
    kind: &'static dyn KindInfo,
    spec: WatchSpec,
    writer: Option<Writer>,
}

/// Starts the leader-only watches whenever `leader` turns true and stops them (clearing their
/// rows) whenever it turns false, until the election ends or `stop` turns true.
///
/// While leading, the shard ordinal is reported (`(index, total)` of the shard led), so that
/// kube-state-metrics' mixin counts one ordinal per shard that has a leader.
async fn follow_leadership(
    mut leader: watch::Receiver<bool>,
    mut entries: Vec<LeaderWatch>,
    ctx: WatchContext,
    shard: (u32, u32),
    mut stop: watch::Receiver<bool>,
) {
    // Writers pre-activated for a leader that has lost the lease since: idle again.
    if !*leader.borrow() {
        for writer in entries.iter_mut().filter_map(|e| e.writer.as_mut()) {
            writer.clear();
        }
    }
    loop {
        let leading = tokio::select! {
            r = leader.wait_for(|l| *l) => r.is_ok(),
            _ = stop.wait_for(|s| *s) => false,
        };
        if !leading {
            return;
        }
        ctx.telemetry.shard(shard.1, Some(shard.0));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut running = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter_mut().enumerate() {
            let Some(writer) = entry.writer.take() else {
                continue;
            };
            let fut = entry
                .kind
                .watch(entry.spec.clone(), ctx.clone(), writer, stop_rx.clone());
            running.push((i, tokio::spawn(fut)));
        }
        let lost = tokio::select! {
            r = leader.wait_for(|l| !*l) => r.is_ok(),
            _ = stop.wait_for(|s| *s) => false,
        };
        ctx.telemetry.shard(shard.1, None);
        let _ = stop_tx.send(true);
        for (i, handle) in running {
            match handle.await {
                Ok(writer) => entries[i].writer = Some(writer),
                Err(e) => tracing::error!(resource = entries[i].kind.resource(), error = %e,
                    "a leader watch panicked; that kind stays off until restart"),
            }
        }
        if !lost {
            return;
        }
    }
}

/// How long a reload waits for the new watches' first lists before switching anyway.
const SWITCH_TIMEOUT: Duration = Duration::from_secs(30);

/// The watches and snapshot builder of one configuration. A config reload starts a new one
/// next to the running one and switches once the new watches have listed, so scrapes never
/// see a half-listed state; the HTTP servers, the published snapshot and the election stay.
struct Pipeline {
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
    /// Starts the watches `config` asks for; the leader-only ones follow `leader`.
    fn start(config: &Config, ctx: &WatchContext, leader: Option<&watch::Receiver<bool>>) -> Self {
        let signal = ChangeSignal::default();
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut watches = JoinSet::new();
        let mut sources = Vec::new();
        let mut readers = Vec::new();
        let mut leader_watches = Vec::new();
        let leading_now = leader.is_some_and(|l| *l.borrow());
        for kind in registry::KINDS
            .iter()
            .copied()
            .filter(|k| config.resources.contains(&k.resource()))
        {
            let resource = kind.resource();
            let selection = FamilySelection::from_fn(&kind.family_headers(), |h| {
                config.metrics.enables(h.name, h.opt_in)
            });
            let render = RenderContext {
                labels: config.labels_for(resource),
                annotations: config.annotations_for(resource),
            };
            let list = ListOptions {
                use_apiserver_cache: config.watch.use_apiserver_cache,
                object_limit: config.watch.object_limit,
                encoding: config.watch.encoding,
            };
            let selectors = kind.shape_selectors();
            let specs = |targets: Vec<WatchTarget>, shard| {
                targets
                    .iter()
                    .flat_map(|t| shaped(t, &selectors, config.watch.lean))
                    .map(|(target, shape)| WatchSpec {
                        target,
                        render: render.clone(),
                        selection: selection.clone(),
                        shape,
                        list,
                        shard,
                    })
                    .collect::<Vec<_>>()
            };
            // `--scope=cluster` shards everything, like kube-state-metrics; node agents shard
            // only the leader's kinds: a node's own pods are that node agent's alone.
            let local_shard = match config.scope {
                ScopeMode::Cluster => config.watch.shard,
                ScopeMode::Node => None,
            };
            let namespaces = &config.watch.namespaces;
            let mut shards = Vec::new();
            let local = targets(config.scope, kind.scope(), &config.node, namespaces);
            for spec in specs(local, local_shard) {
                let (mut writer, reader) = store::shard(resource, signal.clone());
                // Active before the task runs, so readiness waits for its first list.
                writer.activate();
                shards.push(reader);
                watches.spawn(kind.watch(spec, ctx.clone(), writer, stop_rx.clone()));
            }
            if leader.is_some() {
                let led = leader_targets(kind.scope(), namespaces);
                for spec in specs(led, config.watch.shard) {
                    let (mut writer, reader) = store::shard(resource, signal.clone());
                    if leading_now {
                        writer.activate();
                    }
                    shards.push(reader);
                    leader_watches.push(LeaderWatch {
                        kind,
                        spec,
                        writer: Some(writer),
                    });
                }
            }
            readers.extend(shards.iter().cloned());
            if !shards.is_empty() {
                sources.push(KindSource {
                    info: kind,
                    selection,
                    shards,
                });
            }
        }
        let shard = config.watch.shard.map_or((0, 1), |s| (s.index, s.total));
        let follower = leader.map(|l| {
            tokio::spawn(follow_leadership(
                l.clone(),
                leader_watches,
                ctx.clone(),
                shard,
                stop_rx.clone(),
            ))
        });
        Pipeline {
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

    /// Starts publishing this pipeline's snapshots, the first one at once.
    fn publish(&mut self, config: &Config, published: Published, telemetry: Telemetry) {
        self.builder = Some(tokio::spawn(run_builder(
            self.sources.clone(),
            published,
            self.signal.clone(),
            config.snapshot_interval,
            Compression {
                gzip: config.gzip,
                namespace_views: config.auth.is_some(),
            },
            SnapshotTelemetry::new(telemetry),
        )));
        self.signal.notify();
    }

    /// Completes once every active watch has finished its first list, or at the switch
    /// deadline. Owns what it reads, so it can be polled while the pipeline is moved.
    fn listed(&self) -> impl Future<Output = ()> + Send + 'static {
        let readers = self.readers.clone();
        let signal = self.signal.clone();
        let deadline = tokio::time::Instant::from_std(self.started + SWITCH_TIMEOUT);
        async move {
            loop {
                if readers.iter().all(|r| !r.is_active() || r.is_ready()) {
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
    async fn stop(mut self) {
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

/// Reads the `--config` file again and builds the config it asks for. `None` when the file is
/// unchanged since the last attempt, or when it is bad (logged and counted: the running config
/// stays).
fn reload_config(
    running: &Config,
    last_read: &mut Vec<u8>,
    telemetry: &Telemetry,
) -> Option<Config> {
    let file = running.file.as_ref()?;
    let contents = match std::fs::read(&file.path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(file = %file.path.display(), error = %e,
                "cannot read the config file; keeping the running config");
            telemetry.config_reload_failed(&file.path);
            return None;
        }
    };
    if contents == *last_read {
        return None;
    }
    *last_read = contents.clone();
    match config::file::load_contents(
        file.command_line.clone(),
        &file.path,
        contents.clone(),
        &registry::catalog(),
    ) {
        Ok(mut new) => {
            for warning in &new.warnings {
                tracing::warn!("{warning}");
            }
            let restart = config::keep_restart_only_settings(running, &mut new);
            if !restart.is_empty() {
                tracing::warn!(settings = %restart.join(","),
                    "the config file changes settings that take effect only after a restart; \
                     they are ignored until then");
            }
            telemetry.config_restart_required(!restart.is_empty());
            telemetry.config_loaded(&file.path, &contents, true);
            tracing::info!(file = %file.path.display(), "config file changed; applying it");
            Some(new)
        }
        Err(e) => {
            tracing::error!(error = %e, "config reload failed; keeping the running config");
            telemetry.config_reload_failed(&file.path);
            None
        }
    }
}

/// Completes when the watched config file changed; never without one.
async fn file_changed(watch: &mut Option<FileWatch>) {
    match watch {
        Some(w) => w.changed().await,
        None => std::future::pending().await,
    }
}

/// Runs the agent until SIGTERM or Ctrl-C.
///
/// # Errors
/// When `--tls-config` cannot be served, the client cannot be built or a port cannot be bound;
/// watch errors are retried, never returned.
pub async fn run(config: Config, telemetry: Telemetry) -> Result<(), Error> {
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // First, before any network call: a bad --tls-config is a configuration error.
    let (tls, tls_reloads) = match &config.tls {
        Some(t) => {
            let loaded = ServerTls::load(&t.file)?;
            for warning in loaded.warnings() {
                tracing::warn!("{warning}");
            }
            let server_config = loaded.config();
            let reloads = tokio::spawn(loaded.follow_files(telemetry.clone(), shutdown_rx.clone()));
            (Some(server_config), Some(reloads))
        }
        None => (None, None),
    };
    let client = client::build(config.kubeconfig.as_deref(), telemetry.clone()).await?;
    let ctx = WatchContext {
        client: client.clone(),
        telemetry: telemetry.clone(),
    };
    let published = Published::default();

    let shard = config.watch.shard.map_or((0, 1), |s| (s.index, s.total));
    // A `--scope=cluster` instance serves its shard from the start; a node agent while it
    // leads (set by `follow_leadership`).
    let serving = (config.scope == ScopeMode::Cluster).then_some(shard.0);
    telemetry.shard(shard.1, serving);
    let election = config.election.as_ref().map(|e| {
        let (leader_tx, leader_rx) = watch::channel(false);
        let api = Api::namespaced(client.clone(), &e.namespace);
        let task = tokio::spawn(leader::run(
            api,
            e.clone(),
            leader_tx,
            shutdown_rx.clone(),
            telemetry.clone(),
        ));
        (task, leader_rx)
    });
    let leader_rx = election.as_ref().map(|(_, rx)| rx.clone());

    let mut current = Pipeline::start(&config, &ctx, leader_rx.as_ref());
    current.publish(&config, published.clone(), telemetry.clone());

    let mut file_watch = None;
    let mut last_read = Vec::new();
    if let Some(file) = &config.file {
        telemetry.config_loaded(&file.path, &file.contents, false);
        last_read = file.contents.clone();
        match FileWatch::start(&file.path) {
            Ok(w) => file_watch = Some(w),
            Err(e) => tracing::error!(file = %file.path.display(), error = %e,
                "cannot watch the config file; changes need a restart"),
        }
    }

    let (auth, namespace_names) = match &config.auth {
        Some(options) => {
            let names = NamespaceNames::default();
            let task = options.tenant_access.is_some().then(|| {
                let feed = names.clone();
                tokio::spawn(crate::watch::follow_namespace_names(
                    client.clone(),
                    move |n| feed.set(n),
                ))
            });
            let reviewer = Arc::new(ApiReviewer::new(client.clone()));
            let authorizer = Authorizer::new(reviewer, options.clone(), names, telemetry.clone());
            (Some(Arc::new(authorizer)), task)
        }
        None => (None, None),
    };
    let state = AppState {
        published: published.clone(),
        telemetry: telemetry.clone(),
        auth,
    };
    let metrics = bind(config.listen, "--host/--port").await?;
    let self_metrics = bind(config.telemetry_listen, "--telemetry-host/--telemetry-port").await?;
    let telemetry_tls = tls
        .clone()
        .filter(|_| config.tls.as_ref().is_some_and(|t| t.telemetry));
    tracing::info!(resources = %config.resources.join(","), count = config.resources.len(),
        from = %config.resources_from, "resources enabled");
    tracing::info!(scope = %config.scope, node = %config.node, metrics = %config.listen,
        telemetry = %config.telemetry_listen, tls = tls.is_some(),
        telemetry_tls = telemetry_tls.is_some(), election = config.election.is_some(),
        config = %config.file.as_ref().map_or("none".into(), |f| f.path.display().to_string()),
        "serving");

    let wait = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let main_server = serve(
        Listener {
            tcp: metrics,
            tls,
            name: "metrics",
        },
        router(state.clone()),
        telemetry.clone(),
        wait(shutdown_rx.clone()),
    );
    let telemetry_server = serve(
        Listener {
            tcp: self_metrics,
            tls: telemetry_tls,
            name: "telemetry",
        },
        telemetry_router(state),
        telemetry.clone(),
        wait(shutdown_rx.clone()),
    );
    let servers = async { tokio::join!(main_server, telemetry_server) };
    tokio::pin!(servers);
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);

    let mut running = config;
    // A reloaded configuration whose watches are still listing.
    let mut pending: Option<(Pipeline, Config)> = None;
    loop {
        let listed = pending.as_ref().map(|(p, _)| p.listed());
        let switch = async move {
            match listed {
                Some(f) => f.await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut servers => break,
            () = &mut shutdown => {
                tracing::info!("shutting down");
                let _ = shutdown_tx.send(true);
                servers.await;
                break;
            }
            () = file_changed(&mut file_watch) => {
                if let Some(new) = reload_config(&running, &mut last_read, &telemetry) {
                    if let Some((superseded, _)) = pending.take() {
                        superseded.stop().await;
                    }
                    let next = Pipeline::start(&new, &ctx, leader_rx.as_ref());
                    pending = Some((next, new));
                }
            }
            () = switch => {
                let (mut next, new) = pending.take().expect("a pending pipeline");
                if let Some(builder) = current.builder.take() {
                    builder.abort();
                }
                next.publish(&new, published.clone(), telemetry.clone());
                std::mem::replace(&mut current, next).stop().await;
                tracing::info!(resources = %new.resources.join(","),
                    from = %new.resources_from, "new configuration in effect");
                running = new;
            }
        }
    }
    let _ = shutdown_tx.send(true);
    if let Some(task) = namespace_names {
        task.abort();
    }
    if let Some(task) = tls_reloads {
        let _ = task.await;
    }
    // Release the Lease first: the next agent takes over at its next attempt.
    if let Some((task, _)) = election {
        let _ = task.await;
    }
    if let Some((p, _)) = pending {
        p.stop().await;
    }
    current.stop().await;
    Ok(())
}

async fn bind(addr: SocketAddr, flag: &'static str) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, flag, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> NamespaceFilter {
        NamespaceFilter::default()
    }

    fn filter(allow: &[&str], deny: &[&str]) -> NamespaceFilter {
        let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        NamespaceFilter {
            allow: own(allow),
            deny: own(deny),
        }
    }

    fn target(namespace: Option<&str>, selector: Option<&str>) -> WatchTarget {
        WatchTarget {
            namespace: namespace.map(str::to_string),
            field_selector: selector.map(str::to_string),
        }
    }

    #[test]
    fn allowed_namespaces_get_a_watch_each_for_node_local_and_leader_watches() {
        let ns = filter(&["a", "b"], &[]);
        assert_eq!(
            targets(ScopeMode::Node, Scope::NodeBound, "n1", &ns),
            vec![
                target(Some("a"), Some("spec.nodeName=n1")),
                target(Some("b"), Some("spec.nodeName=n1")),
            ]
        );
        assert_eq!(
            leader_targets(Scope::NodeBound, &ns),
            vec![
                target(Some("a"), Some("spec.nodeName=")),
                target(Some("b"), Some("spec.nodeName=")),
            ]
        );
        assert_eq!(
            leader_targets(Scope::Namespaced, &ns),
            vec![target(Some("a"), None), target(Some("b"), None)]
        );
        assert_eq!(
            targets(ScopeMode::Cluster, Scope::Namespaced, "", &ns),
            vec![target(Some("a"), None), target(Some("b"), None)]
        );
    }

    #[test]
    fn denied_namespaces_are_excluded_by_field_selector_next_to_the_node_selector() {
        let ns = filter(&[], &["x", "y"]);
        let deny = "metadata.namespace!=x,metadata.namespace!=y";
        assert_eq!(
            targets(ScopeMode::Node, Scope::NodeBound, "n1", &ns),
            vec![target(None, Some(&format!("spec.nodeName=n1,{deny}")))]
        );
        assert_eq!(
            leader_targets(Scope::NodeBound, &ns),
            vec![target(None, Some(&format!("spec.nodeName=,{deny}")))]
        );
        assert_eq!(
            leader_targets(Scope::Namespaced, &ns),
            vec![target(None, Some(deny))]
        );
    }

    #[test]
    fn cluster_scoped_kinds_ignore_the_namespace_lists() {
        for ns in [filter(&["a"], &[]), filter(&[], &["x"])] {
            assert_eq!(
                leader_targets(Scope::Cluster, &ns),
                vec![target(None, None)]
            );
            assert_eq!(
                targets(ScopeMode::Node, Scope::NodeSelf, "n1", &ns),
                vec![target(None, Some("metadata.name=n1"))]
            );
            assert_eq!(
                targets(ScopeMode::Cluster, Scope::Cluster, "", &ns),
                vec![target(None, None)]
            );
        }
    }

    #[test]
    fn lean_watches_split_a_target_by_shape_and_merge_the_selectors() {
        let t = target(Some("a"), Some("metadata.namespace!=x"));
        assert_eq!(
            shaped(&t, &["type=Opaque", "type!=Opaque"], false),
            vec![(t.clone(), None)]
        );
        assert_eq!(
            shaped(&t, &["type=Opaque", "type!=Opaque"], true),
            vec![
                (
                    target(Some("a"), Some("metadata.namespace!=x,type=Opaque")),
                    Some(0)
                ),
                (
                    target(Some("a"), Some("metadata.namespace!=x,type!=Opaque")),
                    Some(1)
                ),
            ]
        );
        let all = target(None, None);
        assert_eq!(shaped(&all, &[""], true), vec![(all.clone(), Some(0))]);
    }

    #[test]
    fn node_agents_select_their_pods_and_their_node_only() {
        let node = |scope| targets(ScopeMode::Node, scope, "n1", &all());
        assert_eq!(
            node(Scope::NodeBound)[0].field_selector.as_deref(),
            Some("spec.nodeName=n1")
        );
        assert_eq!(
            node(Scope::NodeSelf)[0].field_selector.as_deref(),
            Some("metadata.name=n1")
        );
        assert!(node(Scope::Cluster).is_empty());
        assert!(node(Scope::Namespaced).is_empty());
    }

    #[test]
    fn the_leader_adds_unscheduled_pods_and_every_kind_not_bound_to_a_node() {
        assert_eq!(
            leader_targets(Scope::NodeBound, &all())[0]
                .field_selector
                .as_deref(),
            Some("spec.nodeName=")
        );
        assert!(leader_targets(Scope::NodeSelf, &all()).is_empty());
        assert_eq!(
            leader_targets(Scope::Cluster, &all())[0].field_selector,
            None
        );
        assert_eq!(
            leader_targets(Scope::Namespaced, &all())[0].field_selector,
            None
        );
    }

    #[test]
    fn cluster_scope_watches_every_kind_unfiltered() {
        for scope in [
            Scope::NodeBound,
            Scope::NodeSelf,
            Scope::Namespaced,
            Scope::Cluster,
        ] {
            let t = targets(ScopeMode::Cluster, scope, "", &all());
            assert_eq!(
                t,
                vec![WatchTarget {
                    namespace: None,
                    field_selector: None
                }]
            );
        }
    }
}
