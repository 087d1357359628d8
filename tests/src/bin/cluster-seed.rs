//! Seeds the loopback cluster with realistic objects: N Nodes with M pods each (statuses
//! written through `/status`: running, waiting, failed, restarts), some unscheduled pods, and
//! the namespaced and cluster-scoped objects a real cluster has around them.
//!
//! For scale runs, `--configmaps`, `--secrets`, `--services`, `--deployments` and
//! `--replicasets` add that many more objects of each kind (`bulk-<i>`), spread over the
//! namespaces.
//!
//! Idempotent: objects that already exist are left as they are. Run through
//! `scripts/cluster seed N M [flags]`.

use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Secret, Service};
use kube::api::{Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use testkit::objects::{node, node_status, pod};

#[derive(Parser, Debug)]
#[command(about = "Seed the loopback cluster with nodes, pods and other objects")]
struct Args {
    /// Kubeconfig of an admin user.
    #[arg(long)]
    kubeconfig: std::path::PathBuf,
    /// Number of Node objects (`node-1` … `node-N`).
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Pods bound to each node.
    #[arg(long, default_value_t = 10)]
    pods_per_node: usize,
    /// Pods with no node (unscheduled).
    #[arg(long, default_value_t = 5)]
    unscheduled: usize,
    /// Namespaces the pods are spread over (`seed-0` …).
    #[arg(long, default_value_t = 5)]
    namespaces: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Extra ConfigMaps (`bulk-<i>`), spread over the namespaces.
    #[arg(long, default_value_t = 0)]
    configmaps: usize,
    /// Extra Secrets, spread over the namespaces.
    #[arg(long, default_value_t = 0)]
    secrets: usize,
    /// Extra Services, spread over the namespaces; headless, as the loopback cluster's service
    /// IP range (10.0.0.0/24) holds only 254 addresses.
    #[arg(long, default_value_t = 0)]
    services: usize,
    /// Extra Deployments, spread over the namespaces.
    #[arg(long, default_value_t = 0)]
    deployments: usize,
    /// Extra ReplicaSets, spread over the namespaces.
    #[arg(long, default_value_t = 0)]
    replicasets: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let kc = Kubeconfig::read_from(&args.kubeconfig).context("reading --kubeconfig")?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    let client = Client::try_from(config)?;
    let t0 = Instant::now();

    let namespaces: Vec<String> = (0..args.namespaces.max(1))
        .map(|i| format!("seed-{i}"))
        .collect();
    for ns in &namespaces {
        create(
            None,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            Api::<Namespace>::all(client.clone()),
        )
        .await?;
    }

    // Nodes.
    stream::iter(1..=args.nodes)
        .map(|i| {
            let client = client.clone();
            async move {
                let name = format!("node-{i}");
                let mut n = node(&name);
                n.metadata
                    .labels
                    .get_or_insert_with(Default::default)
                    .insert(
                        "topology.kubernetes.io/zone".into(),
                        format!("zone-{}", i % 3),
                    );
                let api: Api<Node> = Api::all(client.clone());
                create(None, serde_json::to_value(&n)?, api.clone()).await?;
                let status = node_status(if i % 10 == 0 { "False" } else { "True" });
                api.patch_status(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": status})),
                )
                .await
                .with_context(|| format!("status of node {name}"))?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(args.concurrency)
        .try_collect::<Vec<_>>()
        .await?;

    // Workload objects per namespace: a deployment, its replicaset, a service, config.
    for ns in &namespaces {
        let deploy = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns, "labels": {"app": "web"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "registry.local/app:1"}]}}}
        });
        create(
            Some(ns),
            deploy,
            Api::<Deployment>::namespaced(client.clone(), ns),
        )
        .await?;
        let rs = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web-5d4f8", "namespace": ns, "labels": {"app": "web"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "registry.local/app:1"}]}}}
        });
        create(
            Some(ns),
            rs,
            Api::<ReplicaSet>::namespaced(client.clone(), ns),
        )
        .await?;
        let svc = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}
        });
        create(
            Some(ns),
            svc,
            Api::<Service>::namespaced(client.clone(), ns),
        )
        .await?;
        let cm = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "web-config", "namespace": ns},
            "data": {"config.yaml": "listen: 8080\n"}
        });
        create(
            Some(ns),
            cm,
            Api::<ConfigMap>::namespaced(client.clone(), ns),
        )
        .await?;
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "web-secret", "namespace": ns},
            "stringData": {"password": "not-a-real-secret"}
        });
        create(
            Some(ns),
            secret,
            Api::<Secret>::namespaced(client.clone(), ns),
        )
        .await?;
        let lease = json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "web-leader", "namespace": ns},
            "spec": {"holderIdentity": "web-0", "leaseDurationSeconds": 15}
        });
        create(
            Some(ns),
            lease,
            Api::<Lease>::namespaced(client.clone(), ns),
        )
        .await?;
    }

    // Pods: bound ones first, then the unscheduled.
    let bound = (1..=args.nodes).flat_map(|n| (0..args.pods_per_node).map(move |i| (Some(n), i)));
    let unbound = (0..args.unscheduled).map(|i| (None, i));
    let total = args.nodes * args.pods_per_node + args.unscheduled;
    let namespaces = &namespaces;
    stream::iter(bound.chain(unbound))
        .map(|(node_index, i)| {
            let client = client.clone();
            async move {
                let ns = &namespaces[i % namespaces.len()];
                let (name, builder) = match node_index {
                    Some(n) => {
                        let name = format!("web-{n}-{i}");
                        let b = pod(&name)
                            .in_namespace(ns)
                            .on_node(&format!("node-{n}"))
                            .owned_by("ReplicaSet", "web-5d4f8");
                        let b = match i % 20 {
                            0 => b.waiting("CrashLoopBackOff"),
                            1 => b.failed("Error", 1),
                            2 => b.waiting("ContainerCreating"),
                            _ => b.running((i % 4) as i32),
                        };
                        (name, b)
                    }
                    None => {
                        let name = format!("pending-{i}");
                        (name.clone(), pod(&name).in_namespace(ns).unschedulable())
                    }
                };
                let p = builder.build();
                let status = p.status.clone();
                let api: Api<Pod> = Api::namespaced(client.clone(), ns);
                create(Some(ns), serde_json::to_value(&p)?, api.clone()).await?;
                if let Some(status) = status {
                    api.patch_status(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"status": status})),
                    )
                    .await
                    .with_context(|| format!("status of pod {ns}/{name}"))?;
                }
                anyhow::Ok(())
            }
        })
        .buffer_unordered(args.concurrency)
        .try_collect::<Vec<_>>()
        .await?;

    let bulk_total = seed_bulk(&client, namespaces, &args).await?;

    println!(
        "seeded {} nodes, {} pods ({} unscheduled), {} bulk objects in {} namespaces in {:.1} s",
        args.nodes,
        total,
        args.unscheduled,
        bulk_total,
        namespaces.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Creates the `bulk-<i>` objects the count flags ask for; returns how many were asked.
async fn seed_bulk(client: &Client, namespaces: &[String], args: &Args) -> anyhow::Result<usize> {
    let c = args.concurrency;
    bulk::<ConfigMap>(client, namespaces, args.configmaps, c, |ns, name, i| {
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": format!("app-{}", i % 50)}},
            "data": {"config.yaml": format!("listen: {}\nreplica: {i}\n", 8000 + i % 1000)}
        })
    })
    .await?;
    bulk::<Secret>(client, namespaces, args.secrets, c, |ns, name, i| {
        json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": format!("app-{}", i % 50)}},
            "stringData": {"token": format!("not-a-real-secret-{i}")}
        })
    })
    .await?;
    bulk::<Service>(client, namespaces, args.services, c, |ns, name, i| {
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": format!("app-{}", i % 50)}},
            "spec": {"clusterIP": "None", "selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}
        })
    })
    .await?;
    bulk::<Deployment>(client, namespaces, args.deployments, c, |ns, name, _| {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": "registry.local/app:1"}]}}}
        })
    })
    .await?;
    bulk::<ReplicaSet>(client, namespaces, args.replicasets, c, |ns, name, _| {
        json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": "registry.local/app:1"}]}}}
        })
    })
    .await?;
    Ok(args.configmaps + args.secrets + args.services + args.deployments + args.replicasets)
}

/// Creates `count` objects named `bulk-<i>` in namespace `i mod len`, `concurrency` at a time.
async fn bulk<K>(
    client: &Client,
    namespaces: &[String],
    count: usize,
    concurrency: usize,
    make: impl Fn(&str, &str, usize) -> Value,
) -> anyhow::Result<()>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let make = &make;
    stream::iter(0..count)
        .map(|i| {
            let ns = &namespaces[i % namespaces.len()];
            let api = Api::<K>::namespaced(client.clone(), ns);
            async move { create(Some(ns), make(ns, &format!("bulk-{i}"), i), api).await }
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

/// Creates `obj` unless an object of that name exists already.
async fn create<K>(ns: Option<&String>, obj: Value, api: Api<K>) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let typed: K = serde_json::from_value(obj)?;
    match api.create(&PostParams::default(), &typed).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating {:?} in {ns:?}", typed.meta().name)),
    }
}
