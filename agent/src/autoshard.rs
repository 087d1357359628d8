//! StatefulSet autosharding, as kube-state-metrics does it (`--pod`, `--pod-namespace`): the
//! shard is the ordinal of this instance's pod, the total the replicas of the StatefulSet that
//! owns it, and both are followed while the agent runs. See [`detect`], [`follow`] and
//! [`apply`].
//!
//! Finding and following the StatefulSet is this module's; re-planning the watches is the
//! pipeline's: a new shard reaches it as a new configuration, like a reloaded config file, so
//! scrapes are served from the running watches until the new shard's have listed, and the rows
//! of objects that are no longer this instance's leave with the old watches. Reference:
//! kube-state-metrics' `pkg/metricshandler/metrics_handler.go` (`detectStatefulSet`,
//! `shardingSettingsFromStatefulSet`, `detectNominalFromPod`).

use futures::{Stream, StreamExt as _};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};

use crate::config::{AutoShard, Config};
use crate::sharding::Shard;

/// Why this instance's StatefulSet or shard cannot be found. Fatal at start, as in
/// kube-state-metrics (the pod restarts and tries again).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pod named by `--pod` cannot be read.
    #[error("--pod {namespace}/{pod}: cannot read the pod: {source}")]
    Pod {
        /// `--pod-namespace`.
        namespace: String,
        /// `--pod`.
        pod: String,
        /// The API error (boxed: it is large, and this error is rare).
        #[source]
        source: Box<kube::Error>,
    },
    /// The pod has no controller owner reference to an `apps/v1` StatefulSet.
    #[error(
        "--pod {namespace}/{pod}: no StatefulSet controls this pod (no ownerReference of kind \
         StatefulSet, apps/v1, with controller: true); autosharding needs one"
    )]
    NoStatefulSet {
        /// `--pod-namespace`.
        namespace: String,
        /// `--pod`.
        pod: String,
    },
    /// The owning StatefulSet cannot be read.
    #[error("--pod {namespace}/{pod}: cannot read its StatefulSet {statefulset}: {source}")]
    StatefulSet {
        /// `--pod-namespace`.
        namespace: String,
        /// `--pod`.
        pod: String,
        /// The StatefulSet's name.
        statefulset: String,
        /// The API error (boxed: it is large, and this error is rare).
        #[source]
        source: Box<kube::Error>,
    },
    /// The pod's name is not `<statefulset>-<ordinal>`.
    #[error("--pod {pod}: the name is not {statefulset}-<ordinal>, so it gives no shard")]
    Ordinal {
        /// `--pod`.
        pod: String,
        /// The StatefulSet's name.
        statefulset: String,
    },
}

/// The ordinal of `pod` in `statefulset`: the number after `<statefulset>-` (the StatefulSet
/// controller's pod names), as kube-state-metrics' `detectNominalFromPod` reads it.
///
/// # Errors
/// When the name is not `<statefulset>-<decimal number>`.
pub fn ordinal(statefulset: &str, pod: &str) -> Result<u32, Error> {
    pod.strip_prefix(statefulset)
        .and_then(|rest| rest.strip_prefix('-'))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| Error::Ordinal {
            pod: pod.to_string(),
            statefulset: statefulset.to_string(),
        })
}

/// The shard `pod` serves in `statefulset`: its ordinal of `spec.replicas` (1 when unset, as
/// kube-state-metrics reads it), `None` when that is the one and only shard.
///
/// NOTE: a pod whose ordinal is not below the replicas (the StatefulSet was scaled down and
/// the pod not yet deleted) gets a [`Shard`] with `index >= total`, which owns no object: it
/// exports nothing sharded until it goes, so no object is exported twice meanwhile.
///
/// # Errors
/// As [`ordinal`].
pub fn shard_of(statefulset: &StatefulSet, pod: &str) -> Result<Option<Shard>, Error> {
    let name = statefulset.metadata.name.as_deref().unwrap_or_default();
    let index = ordinal(name, pod)?;
    let replicas = statefulset
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    // A StatefulSet scaled to 0 has no pod that should export: a total of 1 that this pod's
    // index is not part of says so.
    let total = u32::try_from(replicas).unwrap_or(0).max(1);
    Ok((index != 0 || total != 1).then_some(Shard { index, total }))
}

/// This instance's StatefulSet and shard, when found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The name of the StatefulSet that controls `--pod`.
    pub statefulset: String,
    /// The shard, `None` for one shard.
    pub shard: Option<Shard>,
}

/// Reads the pod `target` names, the StatefulSet that controls it, and the shard that gives
/// (a `get` of each, as kube-state-metrics' `detectStatefulSet`).
///
/// # Errors
/// When either cannot be read, the pod has no controlling StatefulSet, or its name has no
/// ordinal.
pub async fn detect(client: &Client, target: &AutoShard) -> Result<Found, Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &target.namespace);
    let pod = pods.get(&target.pod).await.map_err(|source| Error::Pod {
        namespace: target.namespace.clone(),
        pod: target.pod.clone(),
        source: Box::new(source),
    })?;
    let owner = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| {
            o.api_version == "apps/v1" && o.kind == "StatefulSet" && o.controller == Some(true)
        })
        .ok_or_else(|| Error::NoStatefulSet {
            namespace: target.namespace.clone(),
            pod: target.pod.clone(),
        })?;
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), &target.namespace);
    let statefulset = statefulsets
        .get(&owner.name)
        .await
        .map_err(|source| Error::StatefulSet {
            namespace: target.namespace.clone(),
            pod: target.pod.clone(),
            statefulset: owner.name.clone(),
            source: Box::new(source),
        })?;
    Ok(Found {
        statefulset: owner.name.clone(),
        shard: shard_of(&statefulset, &target.pod)?,
    })
}

/// The shards `target` serves from now on: a watch of the one StatefulSet `found` names
/// (field selector `metadata.name=`), yielding the shard each time it differs from the last
/// one (starting from `found.shard`). Watch errors are logged and retried with backoff; a
/// deleted StatefulSet changes nothing (its pods go with it). Never ends.
pub fn follow(
    client: Client,
    target: AutoShard,
    found: Found,
) -> impl Stream<Item = Option<Shard>> {
    let api: Api<StatefulSet> = Api::namespaced(client, &target.namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={}", found.statefulset));
    let events = watcher::watcher(api, config).default_backoff();
    let mut last = found.shard;
    events.filter_map(move |event| {
        let next = match event {
            Ok(Event::Apply(s) | Event::InitApply(s)) => match shard_of(&s, &target.pod) {
                Ok(shard) => Some(shard),
                Err(e) => {
                    tracing::error!(error = %e, "autosharding: keeping the current shard");
                    None
                }
            },
            Ok(Event::Delete(_)) => {
                tracing::warn!(statefulset = %found.statefulset,
                    "autosharding: the StatefulSet was deleted; keeping the current shard");
                None
            }
            Ok(Event::Init | Event::InitDone) => None,
            Err(e) => {
                tracing::warn!(statefulset = %found.statefulset, error = %e,
                    "autosharding: watching the StatefulSet failed; retrying");
                None
            }
        };
        let changed = next.filter(|n| *n != last);
        if let Some(shard) = changed {
            last = shard;
        }
        std::future::ready(changed)
    })
}

/// What changed: a reloaded configuration, or the shard.
enum Change {
    Config(Box<Config>),
    Shard(Option<Shard>),
}

/// The configurations to apply when either the config files change (`reloads`) or the shard
/// does (`shards`): each is the last configuration read with the last shard found, so a
/// reloaded file never undoes a re-shard and a re-shard never undoes a reload. `start` is the
/// configuration running (already with its shard).
pub fn apply(
    start: Config,
    reloads: impl Stream<Item = Config>,
    shards: impl Stream<Item = Option<Shard>>,
) -> impl Stream<Item = Config> {
    let mut shard = start.watch.shard;
    let mut last = start;
    let changes = futures::stream::select(
        reloads.map(|c| Change::Config(Box::new(c))),
        shards.map(Change::Shard),
    );
    changes.map(move |change| {
        match change {
            Change::Config(c) => last = *c,
            Change::Shard(s) => {
                tracing::info!(
                    shard = s.map_or(0, |s| s.index),
                    total_shards = s.map_or(1, |s| s.total),
                    "autosharding: the StatefulSet's replicas changed; re-sharding"
                );
                shard = s;
            }
        }
        let mut config = last.clone();
        config.watch.shard = shard;
        config
    })
}

#[cfg(test)]
mod tests {
    use futures::channel::mpsc;
    use k8s_openapi::api::apps::v1::StatefulSetSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn statefulset(name: &str, replicas: Option<i32>) -> StatefulSet {
        StatefulSet {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: Some(StatefulSetSpec {
                replicas,
                ..StatefulSetSpec::default()
            }),
            ..StatefulSet::default()
        }
    }

    #[test]
    fn the_ordinal_is_the_number_after_the_statefulsets_name() {
        assert_eq!(ordinal("ksa", "ksa-0").unwrap(), 0);
        assert_eq!(ordinal("ksa", "ksa-12").unwrap(), 12);
        assert_eq!(ordinal("k-s-a", "k-s-a-3").unwrap(), 3);
        for bad in [
            "ksa", "ksa-", "ksa-x", "ksa--1", "other-1", "ksa1", "ksa-1-2",
        ] {
            let err = ordinal("ksa", bad).unwrap_err().to_string();
            assert!(err.contains("--pod") && err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn the_shard_is_the_ordinal_of_the_replicas() {
        let s = statefulset("ksa", Some(3));
        assert_eq!(
            shard_of(&s, "ksa-2").unwrap(),
            Some(Shard { index: 2, total: 3 })
        );
        assert_eq!(
            shard_of(&statefulset("ksa", Some(1)), "ksa-0").unwrap(),
            None
        );
        assert_eq!(shard_of(&statefulset("ksa", None), "ksa-0").unwrap(), None);
        // Scaled down, the pod not yet gone: a shard that owns nothing.
        let beyond = shard_of(&statefulset("ksa", Some(2)), "ksa-2")
            .unwrap()
            .unwrap();
        assert!((0..100).all(|i| !beyond.owns(&format!("uid-{i}"))));
        let zero = shard_of(&statefulset("ksa", Some(0)), "ksa-0").unwrap();
        assert_eq!(zero, None, "a StatefulSet at 0 replicas: one shard");
    }

    #[tokio::test]
    async fn a_reload_keeps_the_shard_and_a_reshard_keeps_the_reload() {
        use clap::Parser as _;
        let config = |resources: &str| {
            let args = crate::config::Args::try_parse_from([
                "kube-state-agent",
                "--scope=cluster",
                "--pod=ksa-0",
                "--pod-namespace=mon",
                "--resources",
                resources,
            ])
            .unwrap();
            Config::from_args(args, &crate::registry::catalog()).unwrap()
        };
        let mut start = config("pods");
        start.watch.shard = Some(Shard { index: 0, total: 2 });
        let (reload_tx, reloads) = mpsc::unbounded();
        let (shard_tx, shards) = mpsc::unbounded();
        let mut applied = Box::pin(apply(start, reloads, shards));

        reload_tx.unbounded_send(config("pods,services")).unwrap();
        let c = applied.next().await.unwrap();
        assert_eq!(c.resources, ["pods", "services"]);
        assert_eq!(c.watch.shard, Some(Shard { index: 0, total: 2 }));

        shard_tx
            .unbounded_send(Some(Shard { index: 0, total: 3 }))
            .unwrap();
        let c = applied.next().await.unwrap();
        assert_eq!(c.resources, ["pods", "services"]);
        assert_eq!(c.watch.shard, Some(Shard { index: 0, total: 3 }));

        reload_tx.unbounded_send(config("pods")).unwrap();
        let c = applied.next().await.unwrap();
        assert_eq!(c.resources, ["pods"]);
        assert_eq!(c.watch.shard, Some(Shard { index: 0, total: 3 }));
    }
}
