//! Wiring: build the client, start one watch per (kind, selector), the snapshot builder and the
//! two HTTP servers, swap the watches and builder for new ones when the `--config` file changes,
//! and stop them all on SIGTERM. See [`run`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::Api;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::client;
use crate::config::{self, Config, ScopeMode};
use crate::exposition::RenderContext;
use crate::http::{AppState, router, shutdown_signal, telemetry_router};
use crate::leader;
use crate::registry;
use crate::reload::FileWatch;
use crate::resources::{FamilySelection, Scope};
use crate::snapshot::{KindSource, Published, run_builder};
use crate::store::{self, ChangeSignal, Reader, Writer};
use crate::telemetry::{SnapshotTelemetry, Telemetry};
use crate::watch::{WatchContext, WatchSpec, WatchTarget, Watchable};

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
    /// Serving HTTP failed.
    #[error("serving HTTP: {0}")]
    Serve(#[source] std::io::Error),
}

/// The watches this agent runs for a kind of `scope`.
fn targets(mode: ScopeMode, scope: Scope, node: &str) -> Vec<WatchTarget> {
    if mode == ScopeMode::Cluster {
        return vec![WatchTarget {
            namespace: None,
            field_selector: None,
        }];
    }
    match scope {
        Scope::NodeBound => vec![WatchTarget {
            namespace: None,
            field_selector: Some(format!("spec.nodeName={node}")),
        }],
        Scope::NodeSelf => vec![WatchTarget {
            namespace: None,
            field_selector: Some(format!("metadata.name={node}")),
        }],
        // Watched by the elected leader only.
        Scope::Namespaced | Scope::Cluster => Vec::new(),
    }
}

/// The watches the elected leader adds for a kind of `scope`: the unscheduled pods and every
/// kind that is not bound to a node.
fn leader_targets(scope: Scope) -> Vec<WatchTarget> {
    match scope {
        Scope::NodeBound => vec![WatchTarget {
            namespace: None,
            field_selector: Some("spec.nodeName=".to_string()),
        }],
        Scope::NodeSelf => Vec::new(),
        Scope::Namespaced | Scope::Cluster => vec![WatchTarget {
            namespace: None,
            field_selector: None,
        }],
    }
}

/// A watch that runs only while this agent leads; its writer rests here in between.
struct LeaderWatch {
    kind: &'static dyn Watchable,
    spec: WatchSpec,
    writer: Option<Writer>,
}

/// Starts the leader-only watches whenever `leader` turns true and stops them (clearing their
/// rows) whenever it turns false, until the election ends or `stop` turns true.
async fn follow_leadership(
    mut leader: watch::Receiver<bool>,
    mut entries: Vec<LeaderWatch>,
    ctx: WatchContext,
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
            let spec = |target| WatchSpec {
                target,
                render: render.clone(),
                selection: selection.clone(),
            };
            let mut shards = Vec::new();
            for target in targets(config.scope, kind.scope(), &config.node) {
                let (mut writer, reader) = store::shard(resource, signal.clone());
                // Active before the task runs, so readiness waits for its first list.
                writer.activate();
                shards.push(reader);
                watches.spawn(kind.watch(spec(target), ctx.clone(), writer, stop_rx.clone()));
            }
            if leader.is_some() {
                for target in leader_targets(kind.scope()) {
                    let (mut writer, reader) = store::shard(resource, signal.clone());
                    if leading_now {
                        writer.activate();
                    }
                    shards.push(reader);
                    leader_watches.push(LeaderWatch {
                        kind,
                        spec: spec(target),
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
        let follower = leader.map(|l| {
            tokio::spawn(follow_leadership(
                l.clone(),
                leader_watches,
                ctx.clone(),
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
            config.gzip,
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

/// Settings a reload cannot change while the process runs: each one that the new config
/// changes is named (by its flag) and set back to the running value.
fn keep_restart_only_settings(running: &Config, new: &mut Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    macro_rules! keep {
        ($field:ident, $flag:literal) => {
            if new.$field != running.$field {
                changed.push($flag);
                new.$field = running.$field.clone();
            }
        };
    }
    keep!(scope, "--scope");
    keep!(node, "--node");
    keep!(kubeconfig, "--kubeconfig");
    keep!(listen, "--host/--port");
    keep!(telemetry_listen, "--telemetry-host/--telemetry-port");
    keep!(log_format, "--log-format");
    keep!(election, "--leader-election/--lease-*");
    changed
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
        &registry::Catalog,
    ) {
        Ok(mut new) => {
            for warning in &new.warnings {
                tracing::warn!("{warning}");
            }
            let restart = keep_restart_only_settings(running, &mut new);
            if !restart.is_empty() {
                tracing::warn!(settings = ?restart,
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
/// When the client cannot be built or a port cannot be bound; watch errors are retried, never
/// returned.
pub async fn run(config: Config, telemetry: Telemetry) -> Result<(), Error> {
    let client = client::build(config.kubeconfig.as_deref(), telemetry.clone()).await?;
    let ctx = WatchContext {
        client: client.clone(),
        telemetry: telemetry.clone(),
    };
    let published = Published::default();

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
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

    let state = AppState {
        published: published.clone(),
        telemetry: telemetry.clone(),
    };
    let metrics = bind(config.listen, "--host/--port").await?;
    let self_metrics = bind(config.telemetry_listen, "--telemetry-host/--telemetry-port").await?;
    tracing::info!(scope = ?config.scope, node = %config.node, metrics = %config.listen,
        telemetry = %config.telemetry_listen, election = config.election.is_some(),
        resources = ?config.resources, config = ?config.file.as_ref().map(|f| &f.path),
        "serving");

    let wait = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let main_server = axum::serve(metrics, router(state.clone()))
        .with_graceful_shutdown(wait(shutdown_rx.clone()));
    let telemetry_server = axum::serve(self_metrics, telemetry_router(state))
        .with_graceful_shutdown(wait(shutdown_rx.clone()));
    let servers =
        async { tokio::try_join!(main_server.into_future(), telemetry_server.into_future()) };
    tokio::pin!(servers);
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);

    let mut running = config;
    // A reloaded configuration whose watches are still listing.
    let mut pending: Option<(Pipeline, Config)> = None;
    let result = loop {
        let listed = pending.as_ref().map(|(p, _)| p.listed());
        let switch = async move {
            match listed {
                Some(f) => f.await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = &mut servers => break r.map(|_| ()),
            () = &mut shutdown => {
                tracing::info!("shutting down");
                let _ = shutdown_tx.send(true);
                break servers.await.map(|_| ());
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
                tracing::info!(resources = ?new.resources, "new configuration in effect");
                running = new;
            }
        }
    };
    let _ = shutdown_tx.send(true);
    // Release the Lease first: the next agent takes over at its next attempt.
    if let Some((task, _)) = election {
        let _ = task.await;
    }
    if let Some((p, _)) = pending {
        p.stop().await;
    }
    current.stop().await;
    result.map_err(Error::Serve)
}

async fn bind(addr: SocketAddr, flag: &'static str) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, flag, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_agents_select_their_pods_and_their_node_only() {
        let node = |scope| targets(ScopeMode::Node, scope, "n1");
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
            leader_targets(Scope::NodeBound)[0]
                .field_selector
                .as_deref(),
            Some("spec.nodeName=")
        );
        assert!(leader_targets(Scope::NodeSelf).is_empty());
        assert_eq!(leader_targets(Scope::Cluster)[0].field_selector, None);
        assert_eq!(leader_targets(Scope::Namespaced)[0].field_selector, None);
    }

    #[test]
    fn cluster_scope_watches_every_kind_unfiltered() {
        for scope in [
            Scope::NodeBound,
            Scope::NodeSelf,
            Scope::Namespaced,
            Scope::Cluster,
        ] {
            let t = targets(ScopeMode::Cluster, scope, "");
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
