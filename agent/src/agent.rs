//! Supervision: load TLS, build the client, start the election, the watches and snapshot
//! builder of the configuration ([`Pipelines`]) and the two HTTP servers; hand each reloaded
//! configuration to the pipelines; stop them all on SIGTERM. Which watches run is
//! [`crate::plan`]'s, following leadership [`crate::leader`]'s, the reload policy
//! [`crate::config::reload`]'s and the switch [`crate::pipeline`]'s. See [`run`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kube::Api;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::autoshard;
use crate::client;
use crate::config::{Config, Election, ScopeMode};
use crate::http::auth::{Authorizer, NamespaceNames};
use crate::http::review::ApiReviewer;
use crate::http::serve::{Listener, serve};
use crate::http::tls::{self, ServerTls};
use crate::http::{AppState, router, shutdown_signal, telemetry_router};
use crate::leader;
use crate::pipeline::{ElectionHandle, Pipelines, StartElection};
use crate::registry;
use crate::reload::ConfigReloads;
use crate::snapshot::Published;
use crate::telemetry::Telemetry;
use crate::watch::WatchContext;

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
    /// `--pod`'s StatefulSet or shard cannot be found.
    #[error(transparent)]
    AutoShard(#[from] autoshard::Error),
}

/// Runs the agent until SIGTERM or Ctrl-C.
///
/// # Errors
/// When `--tls-config` cannot be served, the client cannot be built, `--pod`'s StatefulSet or
/// shard cannot be found, or a port cannot be bound; watch errors are retried, never returned.
pub async fn run(mut config: Config, telemetry: Telemetry) -> Result<(), Error> {
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
    let watch_timeout = Duration::from_secs(u64::from(
        config
            .watch
            .timeout_secs
            .unwrap_or(crate::watch::DEFAULT_WATCH_TIMEOUT_SECS),
    ));
    let client = client::build(
        config.kubeconfig.as_deref(),
        watch_timeout,
        telemetry.clone(),
    )
    .await?;
    let node_labels = leader::candidacy::NodeLabels::default();
    let ctx = WatchContext {
        client: client.clone(),
        telemetry: telemetry.clone(),
        node_labels: node_labels.clone(),
    };
    let published = Published::default();
    // Autosharding: the shard comes from the StatefulSet before any watch starts, and follows
    // its replicas from then on.
    let shard_changes = match config.autoshard.clone() {
        Some(target) => {
            let found = autoshard::detect(&client, &target).await?;
            tracing::info!(pod = %target.pod, namespace = %target.namespace,
                statefulset = %found.statefulset, shard = found.shard.map_or(0, |s| s.index),
                total_shards = found.shard.map_or(1, |s| s.total), "autosharding enabled");
            config.watch.shard = found.shard;
            Some(autoshard::follow(client.clone(), target, found))
        }
        None => None,
    };

    let shard = config.watch.shard.map_or((0, 1), |s| (s.index, s.total));
    // A `--scope=cluster` instance serves its shard from the start; a node agent while it
    // leads (set by `leader::follow`).
    let serving = (config.scope == ScopeMode::Cluster).then_some(shard.0);
    telemetry.shard(shard.1, serving);
    let election_running = leader::ElectionRunning::default();
    // One election per Lease the configuration names; a re-sharded node agent moves to
    // another Lease, so the pipelines start and end elections (`crate::pipeline`).
    let start_election = config.election.is_some().then(|| {
        let (client, running, telemetry, shutdown, node_labels) = (
            client.clone(),
            election_running.clone(),
            telemetry.clone(),
            shutdown_rx.clone(),
            node_labels.clone(),
        );
        Box::new(move |e: Election| {
            let (leader_tx, leader_rx) = watch::channel(false);
            let (stop_tx, mut stop_rx) = watch::channel(false);
            // It ends at shutdown at once, while the servers drain, or when the pipelines
            // end it.
            let (end_tx, end_rx) = watch::channel(false);
            let mut shutdown = shutdown.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = shutdown.wait_for(|s| *s) => {}
                    _ = stop_rx.wait_for(|s| *s) => {}
                }
                let _ = end_tx.send(true);
            });
            let api = Api::namespaced(client.clone(), &e.namespace);
            let candidacy = leader::Candidacy::new(e.candidates.clone(), &node_labels);
            let task = tokio::spawn(leader::run(
                api,
                e.clone(),
                candidacy,
                leader_tx,
                running.clone(),
                end_rx,
                telemetry.clone(),
            ));
            ElectionHandle::new(e, leader_rx, stop_tx, task)
        }) as StartElection
    });
    let mut pipelines = Pipelines::start(
        config.clone(),
        registry::KINDS,
        ctx,
        start_election,
        published.clone(),
    );

    let reloads = ConfigReloads::start(&config, registry::catalog(), telemetry.clone());
    let reloads =
        futures::stream::unfold(reloads, |mut r| async move { Some((r.next().await, r)) });
    let mut reloads: std::pin::Pin<Box<dyn futures::Stream<Item = Config> + Send>> =
        match shard_changes {
            Some(shards) => Box::pin(autoshard::apply(config.clone(), reloads, shards)),
            None => Box::pin(reloads),
        };

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
        election: election_running,
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
            limits: config.server,
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
            limits: config.server,
        },
        telemetry_router(state),
        telemetry.clone(),
        wait(shutdown_rx.clone()),
    );
    let servers = async { tokio::join!(main_server, telemetry_server) };
    tokio::pin!(servers);
    tokio::select! {
        _ = &mut servers => {}
        () = shutdown_signal() => {
            tracing::info!("shutting down");
            let _ = shutdown_tx.send(true);
            servers.await;
        }
        () = pipelines.follow_reloads(&mut reloads) => {}
    }
    let _ = shutdown_tx.send(true);
    if let Some(task) = namespace_names {
        task.abort();
    }
    if let Some(task) = tls_reloads {
        let _ = task.await;
    }
    // Release the Lease first: the next agent takes over at its next attempt.
    pipelines.stop_elections().await;
    pipelines.stop().await;
    Ok(())
}

async fn bind(addr: SocketAddr, flag: &'static str) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, flag, source })
}
