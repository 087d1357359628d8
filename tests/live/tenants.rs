//! `--auth-filter` against the real apiserver: TokenReview and SubjectAccessReview decide
//! between the full view, a tenant's namespaces, 401 and 403; a tenant's view holds exactly
//! the series of the namespaces where it may list pods, in every format and encoding; a
//! revoked right takes effect within the cache TTL; and one token costs one round of reviews
//! however many scrapes it makes.
//!
//! Tenants are ServiceAccounts with tokens from the TokenRequest API (what a team's Prometheus
//! uses); the admin (`system:masters`) and the user without bindings are the cluster's static
//! tokens.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::{Api, Client};
use testkit::agent::{AgentProcess, HttpAnswer, http_request};
use testkit::exposition::{Exposition, Sample};
use testkit::objects::{
    TestNamespace, cleanup, create_node, create_pod, delete_node, node, node_status, pod, unique,
};
use testkit::prometheus::Prometheus;
use testkit::tls::{Ca, TlsClient};
use testkit::{Cluster, poll_until};

const READY: Duration = Duration::from_secs(30);
const CONVERGE: Duration = Duration::from_secs(30);
const TEXT: &str = "text/plain;version=0.0.4";
const OPENMETRICS: &str = "application/openmetrics-text;version=1.0.0";

/// Three namespaces with pods on one node (and an unscheduled one in the first), and two
/// tenants: `tenant-a` may list pods in `a`, `tenant-b` in `b`; nobody is a tenant of `c`.
struct Tenancy {
    a: TestNamespace,
    b: TestNamespace,
    c: TestNamespace,
    node: String,
    token_a: String,
    token_b: String,
}

impl Drop for Tenancy {
    fn drop(&mut self) {
        let node = std::mem::take(&mut self.node);
        let _ = cleanup(async move {
            delete_node(&Cluster::get().client().await, &node).await;
            Ok(())
        });
    }
}

/// A ServiceAccount `name` in `ns` allowed to list pods there, and a token for it.
async fn tenant(client: &Client, ns: &str, name: &str) -> String {
    let meta = |n: &str| ObjectMeta {
        name: Some(n.to_string()),
        namespace: Some(ns.to_string()),
        ..ObjectMeta::default()
    };
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    accounts
        .create(
            &PostParams::default(),
            &ServiceAccount {
                metadata: meta(name),
                ..ServiceAccount::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("create ServiceAccount {name}: {e}"));
    let roles: Api<Role> = Api::namespaced(client.clone(), ns);
    roles
        .create(
            &PostParams::default(),
            &Role {
                metadata: meta("pod-reader"),
                rules: Some(vec![PolicyRule {
                    api_groups: Some(vec![String::new()]),
                    resources: Some(vec!["pods".into()]),
                    verbs: vec!["list".into()],
                    ..PolicyRule::default()
                }]),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("create Role in {ns}: {e}"));
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), ns);
    bindings
        .create(
            &PostParams::default(),
            &RoleBinding {
                metadata: meta(name),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "Role".into(),
                    name: "pod-reader".into(),
                },
                subjects: Some(vec![Subject {
                    kind: "ServiceAccount".into(),
                    name: name.into(),
                    namespace: Some(ns.into()),
                    ..Subject::default()
                }]),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("create RoleBinding in {ns}: {e}"));
    testkit::objects::service_account_token(client, ns, name).await
}

async fn tenancy(client: &Client) -> Tenancy {
    let (a, b, c) = (
        TestNamespace::create(client, "tnt-a").await,
        TestNamespace::create(client, "tnt-b").await,
        TestNamespace::create(client, "tnt-c").await,
    );
    let node_name = unique("tnt-node");
    create_node(client, node(&node_name), node_status("True")).await;
    for ns in [&a, &b, &c] {
        for i in 0..3 {
            let p = pod(&format!("web-{i}"))
                .in_namespace(ns.name())
                .on_node(&node_name)
                .running(0);
            create_pod(client, ns.name(), p.build()).await;
        }
    }
    let pending = pod("pending").in_namespace(a.name()).unschedulable();
    create_pod(client, a.name(), pending.build()).await;
    let token_a = tenant(client, a.name(), "tenant-a").await;
    let token_b = tenant(client, b.name(), "tenant-b").await;
    Tenancy {
        a,
        b,
        c,
        node: node_name,
        token_a,
        token_b,
    }
}

async fn scrape(
    agent: &AgentProcess,
    path: &str,
    token: Option<&str>,
    accept: &str,
    gzip: bool,
) -> HttpAnswer {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Accept", accept)];
    if let Some(b) = &bearer {
        headers.push(("Authorization", b.as_str()));
    }
    if gzip {
        headers.push(("Accept-Encoding", "gzip"));
    }
    http_request(agent.port, path, &headers)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// The parsed samples of a 200 answer.
fn samples(answer: &HttpAnswer) -> Result<Exposition, String> {
    if answer.status != 200 {
        return Err(format!("status {}", answer.status));
    }
    Exposition::parse(&answer.text()?)
}

fn key(s: &Sample) -> String {
    format!("{}{:?} {}", s.name, s.labels, s.value)
}

fn in_namespaces<'a>(e: &'a Exposition, namespaces: &'a [&str]) -> BTreeSet<String> {
    e.samples
        .iter()
        .filter(|s| {
            s.label("namespace")
                .is_some_and(|n| namespaces.contains(&n))
        })
        .map(key)
        .collect()
}

/// Reads one self-metric, summed over the samples whose labels include `labels`.
async fn telemetry_sum(agent: &AgentProcess, name: &str, labels: &[(&str, &str)]) -> f64 {
    let (_, body) = agent.get_telemetry("/metrics").await.expect("telemetry");
    let e = Exposition::parse(&body).expect("telemetry parses");
    e.samples_of(name)
        .filter(|s| labels.iter().all(|(k, v)| s.label(k) == Some(v)))
        .map(|s| s.value)
        .sum()
}

#[tokio::test]
async fn tenants_see_exactly_their_namespaces_and_everyone_else_is_refused() {
    let client = Cluster::get().client().await;
    let t = tenancy(&client).await;
    let (a, b, c) = (t.a.name(), t.b.name(), t.c.name());
    let lease = unique("tnt-lease");
    let ttl = Duration::from_secs(2);
    let mut agent = AgentProcess::start(
        &t.node,
        &[
            "--auth-filter",
            "--auth-cache-ttl",
            "2s",
            "--auth-cache-negative-ttl",
            "1s",
            "--enable-gzip-encoding",
            "--lease-name",
            &lease,
            "--lease-namespace",
            c,
        ],
    );
    agent.wait_ready(READY).await;
    let cluster = Cluster::get();
    let admin = cluster.static_token("admin");
    let unprivileged = cluster.static_token("unprivileged");

    // The probes stay open. `/readyz` may answer 503 for a moment after the first ready: the
    // agent wins its Lease about when its node's lists finish, and the leader's lists then hold
    // readiness back; what matters here is that no token is asked for.
    for probe in ["/healthz", "/livez", "/readyz"] {
        poll_until(
            &format!("{probe} answers 200 without a token"),
            READY,
            || async {
                match scrape(&agent, probe, None, TEXT, false).await.status {
                    200 => Ok(()),
                    503 if probe == "/readyz" => Err("503: leader lists in progress".to_string()),
                    other => panic!("{probe} answered {other} without a token"),
                }
            },
        )
        .await;
    }
    // No token, a made-up token: 401 with a Bearer challenge. No rights: 403.
    for token in [None, Some("made-up-token")] {
        let answer = scrape(&agent, "/metrics", token, TEXT, false).await;
        assert_eq!(answer.status, 401, "{token:?}");
        assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
        assert!(
            !answer.text().unwrap().contains("kube_"),
            "a refusal carries no series"
        );
    }
    assert_eq!(
        scrape(&agent, "/metrics", Some(&unprivileged), TEXT, false)
            .await
            .status,
        403
    );

    // The admin sees everything: node-agent rows of every namespace, the leader's unscheduled
    // pod and the Namespace objects, and cluster-scoped rows.
    let full = poll_until("the admin's full view", CONVERGE, || async {
        let e = samples(&scrape(&agent, "/metrics", Some(&admin), TEXT, false).await)?;
        let pods = e.label_values("kube_pod_info", "namespace");
        let has = |ns: &str| pods.iter().any(|p| p == ns);
        let pending = e
            .samples_of("kube_pod_info")
            .any(|s| s.label("pod") == Some("pending"));
        let namespace_rows = e
            .samples_of("kube_namespace_status_phase")
            .any(|s| s.label("namespace") == Some(a));
        let nodes = e.samples_of("kube_node_info").count();
        (has(a) && has(b) && has(c) && pending && namespace_rows && nodes > 0)
            .then_some(e)
            .ok_or_else(|| format!("pods in {pods:?}, pending {pending}, nodes {nodes}"))
    })
    .await;
    let expected_a = in_namespaces(&full, &[a]);
    assert!(expected_a.len() > 20, "{expected_a:?}");

    // tenant-a: exactly namespace a's series, in every format and encoding.
    for (accept, gzip) in [
        (TEXT, false),
        (TEXT, true),
        (OPENMETRICS, false),
        (OPENMETRICS, true),
    ] {
        let answer = scrape(&agent, "/metrics", Some(&t.token_a), accept, gzip).await;
        assert_eq!(answer.status, 200, "{accept} gzip={gzip}");
        assert_eq!(
            answer.header("content-encoding") == Some("gzip"),
            gzip,
            "{accept}"
        );
        let e = samples(&answer).unwrap();
        let strays: Vec<&Sample> = e
            .samples
            .iter()
            .filter(|s| s.label("namespace") != Some(a))
            .collect();
        assert!(
            strays.is_empty(),
            "{accept} gzip={gzip}: not a's: {strays:?}"
        );
        assert_eq!(in_namespaces(&e, &[a]), expected_a, "{accept} gzip={gzip}");
        assert!(
            !e.types.keys().any(|f| f.starts_with("kube_node_")),
            "no header of a kind the view holds none of"
        );
    }
    // tenant-b sees b only; ?namespace= narrows and never widens.
    let e = samples(&scrape(&agent, "/metrics", Some(&t.token_b), TEXT, false).await).unwrap();
    assert_eq!(
        e.label_values("kube_pod_info", "namespace"),
        [b.to_string()]
    );
    let path = format!("/metrics?namespace={a}");
    let e = samples(&scrape(&agent, &path, Some(&t.token_b), TEXT, false).await).unwrap();
    assert!(
        e.samples.is_empty(),
        "namespace a is not b's: {:?}",
        e.samples
    );
    let path = format!("/metrics?namespace={b},{c}&resources=pods");
    let e = samples(&scrape(&agent, &path, Some(&admin), TEXT, false).await).unwrap();
    assert_eq!(
        e.label_values("kube_pod_info", "namespace"),
        [b.to_string(), c.to_string()]
    );
    assert!(e.samples.iter().all(|s| s.name.starts_with("kube_pod_")));

    // Revoking tenant-a's RoleBinding takes effect within the TTL.
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), a);
    bindings
        .delete("tenant-a", &DeleteParams::default())
        .await
        .expect("delete tenant-a's RoleBinding");
    let revoked = Instant::now();
    poll_until(
        "tenant-a refused after its RoleBinding went",
        CONVERGE,
        || async {
            match scrape(&agent, "/metrics", Some(&t.token_a), TEXT, false)
                .await
                .status
            {
                403 => Ok(()),
                s => Err(format!("status {s}")),
            }
        },
    )
    .await;
    // The RBAC authorizer's informer and one poll interval come on top of the TTL.
    assert!(
        revoked.elapsed() < ttl + Duration::from_secs(3),
        "took {:?} with a TTL of {ttl:?}",
        revoked.elapsed()
    );
}

#[tokio::test]
async fn one_token_costs_one_round_of_reviews_however_many_scrapes() {
    let client = Cluster::get().client().await;
    let t = tenancy(&client).await;
    let mut agent = AgentProcess::start(&t.node, &["--auth-filter", "--leader-election", "false"]);
    agent.wait_ready(READY).await;
    // The agent knows the namespaces once its namespace watch listed: until then a tenant
    // decision is a 503 that is not cached for long.
    poll_until("tenant-b granted", CONVERGE, || async {
        match scrape(&agent, "/metrics", Some(&t.token_b), TEXT, false)
            .await
            .status
        {
            200 => Ok(()),
            s => Err(format!("status {s}")),
        }
    })
    .await;
    let token_reviews = || {
        telemetry_sum(
            &agent,
            "ksa_auth_reviews_total",
            &[("review", "tokenreview")],
        )
    };
    let access_reviews = || {
        telemetry_sum(
            &agent,
            "ksa_auth_reviews_total",
            &[("review", "subjectaccessreview")],
        )
    };
    let api_token_reviews = || {
        telemetry_sum(
            &agent,
            "ksa_api_requests_total",
            &[("resource", "tokenreviews"), ("verb", "create")],
        )
    };
    let (tr0, sar0, api0) = (
        token_reviews().await,
        access_reviews().await,
        api_token_reviews().await,
    );

    // tenant-a's first 100 scrapes arrive at once; then 100 more, one after another.
    let port = agent.port;
    let bearer = format!("Bearer {}", t.token_a);
    let concurrent: Vec<_> = (0..100)
        .map(|_| {
            let bearer = bearer.clone();
            tokio::spawn(async move {
                http_request(port, "/metrics", &[("Authorization", bearer.as_str())]).await
            })
        })
        .collect();
    for scrape in concurrent {
        assert_eq!(scrape.await.unwrap().unwrap().status, 200);
    }
    let (tr1, sar1) = (token_reviews().await, access_reviews().await);
    assert_eq!(tr1 - tr0, 1.0, "one TokenReview for 100 concurrent scrapes");
    assert!(
        sar1 - sar0 >= 3.0,
        "full view, cluster-wide, then each namespace"
    );
    for _ in 0..100 {
        let answer = scrape(&agent, "/metrics", Some(&t.token_a), TEXT, false).await;
        assert_eq!(answer.status, 200);
    }
    assert_eq!(token_reviews().await, tr1, "no TokenReview within the TTL");
    assert_eq!(
        access_reviews().await,
        sar1,
        "no SubjectAccessReview within the TTL"
    );
    // The client's own request counter agrees: one TokenReview request for 200 scrapes.
    assert_eq!(api_token_reviews().await - api0, 1.0);
    assert!(
        telemetry_sum(&agent, "ksa_auth_cache_hits_total", &[]).await >= 199.0,
        "every scrape but the first answered from the cache"
    );
    let e = samples(&scrape(&agent, "/metrics", Some(&t.token_a), TEXT, false).await).unwrap();
    assert_eq!(
        e.label_values("kube_pod_info", "namespace"),
        [t.a.name().to_string()]
    );
}

#[tokio::test]
async fn prometheus_scrapes_a_tenant_view_over_tls_with_a_bearer_token_file() {
    let client = Cluster::get().client().await;
    let t = tenancy(&client).await;
    let (a, b) = (t.a.name(), t.b.name());
    let dir = std::env::temp_dir().join(unique("ksa-tenant-tls"));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = Ca::new("tenant-test-ca");
    let server = ca.issue("kube-state-agent", &["127.0.0.1"]);
    let file = |name: &str, contents: &str| {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    };
    file("tls.crt", &server.cert);
    file("tls.key", &server.key);
    let ca_file = file("ca.crt", &ca.pem);
    let token_file = file("token-a", &t.token_a);
    let web_config = file(
        "web.yaml",
        "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n",
    );
    let mut agent = AgentProcess::start(
        &t.node,
        &[
            "--auth-filter",
            "--tls-config",
            &web_config,
            "--leader-election",
            "false",
        ],
    )
    .with_tls(TlsClient::new(&ca.pem, None), true);
    agent.wait_ready(READY).await;

    let prometheus = Prometheus::start(&format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n- job_name: kube-state-metrics\n  scheme: https\n  tls_config:\n    ca_file: {ca_file}\n  authorization:\n    credentials_file: {token_file}\n  static_configs:\n  - targets: ['127.0.0.1:{}']\n",
        agent.port
    ));
    let pods_of_a = format!("count(kube_pod_info{{namespace=\"{a}\"}})");
    let answer = poll_until(
        "Prometheus to have scraped tenant-a's view over TLS",
        Duration::from_secs(60),
        || async {
            let (status, body) = prometheus.query(&pods_of_a).await?;
            if status == 200 && body.contains("\"3\"") {
                Ok(body)
            } else {
                Err(format!(
                    "{status} {body}; targets: {}",
                    prometheus.targets().await?
                ))
            }
        },
    )
    .await;
    assert!(answer.contains("\"success\""), "{answer}");
    // Everything Prometheus stored from this target is namespace a's.
    let (_, others) = prometheus
        .query(&format!(
            "count({{job=\"kube-state-metrics\",__name__=~\"kube_.+\",namespace!=\"{a}\"}})"
        ))
        .await
        .unwrap();
    assert!(others.contains("\"result\":[]"), "{others}");
    let (_, b_pods) = prometheus
        .query(&format!("kube_pod_info{{namespace=\"{b}\"}}"))
        .await
        .unwrap();
    assert!(b_pods.contains("\"result\":[]"), "{b_pods}");
    let (_, up) = prometheus
        .query("up{job=\"kube-state-metrics\"}")
        .await
        .unwrap();
    assert!(up.contains("\"1\"]"), "the target is up: {up}");
    let _ = std::fs::remove_dir_all(&dir);
}
