//! Command-line flags → a validated [`Config`].
//!
//! Parsing happens in two stages, as in ripgrep's `lowargs`/`hiargs`: clap collects plain values
//! into [`Args`], then [`Config::from_args`] checks them together and builds what the rest of the
//! agent uses. Every error names the flag and the value at fault, before any network call. This
//! module knows nothing of kube, tokio or HTTP. See [`Config::from_args`], and [`load`] for
//! `--config FILE`.
//!
//! Submodules: [`allowlist`] (the `resource=[key,…]` syntax and what its keys match),
//! [`metrics`] (which families a run renders), [`file`] (the YAML config file) and [`reload`]
//! (what a changed file may change).

pub mod allowlist;
pub mod auth;
pub mod file;
pub mod label_selector;
pub mod metrics;
pub mod reload;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::http::ServerLimits;
use crate::sharding::Shard;
pub use allowlist::KeyAllowlist;
use allowlist::LabelsAllowList;
pub use file::{ConfigFile, load};
use metrics::MetricFilter;

/// A flag with a bad value. Fatal at start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--node` was not given and `NODE_NAME` is not set, in `--scope=node`.
    #[error(
        "--node is required with --scope=node (or set NODE_NAME): a node agent exports what is bound to its node; \
         to run one instance that watches every object, as kube-state-metrics' Deployment does, use --scope=cluster"
    )]
    MissingNode,
    /// `--resources` names a kind the agent does not know.
    #[error("--resources: unknown resource {name:?} (known: {known})")]
    UnknownResource {
        /// The bad name.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// `--metric-labels-allowlist` / `--metric-annotations-allowlist` name an unknown resource.
    #[error("{flag}: unknown resource {name:?} (known: {known})")]
    AllowlistResource {
        /// Which flag.
        flag: &'static str,
        /// The bad resource name.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A `--metric-allowlist`, `--metric-denylist` or `--metric-opt-in-list` problem.
    #[error(transparent)]
    Metrics(#[from] metrics::Error),
    /// A `--metric-opt-in-list` entry matches no opt-in family.
    #[error("--metric-opt-in-list: {pattern:?} matches no opt-in family")]
    NotOptIn {
        /// The entry as given.
        pattern: String,
    },
    /// The `--config` file cannot be read or is not valid.
    #[error("--config {path}: {reason}")]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A setting is invalid once the `--config` file is applied.
    #[error("{source} (with --config {path})")]
    InConfigFile {
        /// The file.
        path: PathBuf,
        /// The setting's error.
        #[source]
        source: Box<Error>,
    },
    /// The election timings are inconsistent.
    #[error(
        "--retry-period ({retry:?}) < --renew-deadline ({renew:?}) < --lease-duration ({lease:?}) must hold: fencing relies on it"
    )]
    LeaseTimings {
        /// `--lease-duration`.
        lease: Duration,
        /// `--renew-deadline`.
        renew: Duration,
        /// `--retry-period`.
        retry: Duration,
    },
    /// `--leader-candidate-selector` is not a label selector.
    #[error("--leader-candidate-selector {value:?}: {source}")]
    CandidateSelector {
        /// The selector as given.
        value: String,
        /// What is wrong with it.
        #[source]
        source: label_selector::ParseError,
    },
    /// `--leader-candidate-selector` is set but the Node, whose labels it reads, is not watched.
    #[error(
        "--leader-candidate-selector needs `nodes` in --resources: candidacy is read from this \
         agent's own Node, which only the nodes watch sees"
    )]
    CandidateSelectorWithoutNodes,
    /// A duration flag is zero where it must not be.
    #[error("{flag}: must be greater than zero")]
    ZeroDuration {
        /// Which flag.
        flag: &'static str,
    },
    /// `--watch-timeout` is sent as whole seconds (`timeoutSeconds`).
    #[error("--watch-timeout: must be a whole number of seconds, at least 1s (got {0:?})")]
    WatchTimeout(Duration),
    /// `--server-max-connections=0` would refuse every scrape.
    #[error("--server-max-connections: must be at least 1")]
    ZeroConnections,
    /// `--namespaces` / `--namespaces-denylist` name something that cannot be a namespace.
    #[error("{flag}: {name:?} is not a namespace name (lowercase RFC 1123 label)")]
    BadNamespace {
        /// Which flag.
        flag: &'static str,
        /// The bad name.
        name: String,
    },
    /// Every namespace of `--namespaces` is also in `--namespaces-denylist`.
    #[error("--namespaces and --namespaces-denylist together leave no namespace to watch")]
    NoNamespaceLeft,
    /// The custom resource state config cannot be read.
    #[error("{flag} {path}: {reason}")]
    CustomResourceStateFile {
        /// Which flag (or `--config` key) named it.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        reason: String,
    },
    /// The custom resource state config does not compile; the error names the resource and
    /// the metric.
    #[error("{flag}: {source}")]
    CustomResourceState {
        /// Which flag holds the config.
        flag: &'static str,
        /// What is wrong, naming resource and metric.
        #[source]
        source: crate::custom::config::Error,
    },
    /// Two configured custom resources (or a custom and a built-in kind) export one family
    /// name: each family must appear once per response.
    #[error("{flag}: metric {name:?} is exported by both {first} and {second}; rename one")]
    CustomFamilyClash {
        /// Which flag holds the config.
        flag: &'static str,
        /// The family name.
        name: String,
        /// The first owner.
        first: String,
        /// The second owner.
        second: String,
    },
    /// `--shard` is not below `--total-shards`, or `--total-shards` is 0.
    #[error(
        "--shard ({shard}) must be less than --total-shards ({total}), which must be at least 1"
    )]
    BadShard {
        /// `--shard`.
        shard: u32,
        /// `--total-shards`.
        total: u32,
    },
    /// One of `--pod` and `--pod-namespace` without the other.
    #[error("{given} needs {missing}: StatefulSet autosharding finds this instance's pod by both")]
    AutoShardingIncomplete {
        /// The flag given.
        given: &'static str,
        /// The flag missing.
        missing: &'static str,
    },
    /// `--pod`/`--pod-namespace` outside `--scope=cluster`.
    #[error(
        "--pod/--pod-namespace (StatefulSet autosharding) need --scope=cluster: a node agent's \
         pods are split by node, and its leader's kinds by --shard/--total-shards"
    )]
    AutoShardingScope,
    /// `--pod`/`--pod-namespace` with `--shard`/`--total-shards`.
    #[error(
        "--pod/--pod-namespace take the shard from the pod's ordinal and the total from the \
         StatefulSet's replicas: remove --shard ({shard}) and --total-shards ({total})"
    )]
    AutoShardingConflict {
        /// `--shard`.
        shard: u32,
        /// `--total-shards`.
        total: u32,
    },
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What one agent watches.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeMode {
    /// Its node's pods and Node object (run as a DaemonSet).
    Node,
    /// Every object of every enabled kind, like kube-state-metrics run as one Deployment.
    Cluster,
}

/// How the watches ask the API server to encode objects (`--api-encoding`).
///
/// Kinds without a lean protobuf message (see `Kind::protobuf`; custom resources never
/// have one) use JSON whatever this says.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ApiEncoding {
    /// `application/vnd.kubernetes.protobuf`: fewer bytes per list and per event, and a
    /// decode that skips undeclared fields.
    #[default]
    Protobuf,
    /// `application/json`, as kube's own watcher asks (to compare, or to work around a
    /// server that mishandles protobuf).
    Json,
}

/// How log lines are written to stderr (`--log-format`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Lines for people, coloured only on a terminal.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// As the flag spells it (`node`, `cluster`), for logs.
impl std::fmt::Display for ScopeMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ScopeMode::Node => "node",
            ScopeMode::Cluster => "cluster",
        })
    }
}

/// kube-state-agent: kube-state-metrics' series for the objects bound to one node, served from
/// memory-lean snapshots. Run one per node (a DaemonSet).
#[derive(Parser, Debug, Clone)]
// `args_override_self`: a repeated flag takes its last value, as kube-state-metrics' (pflag)
// flags do, so a chart can append overrides to its defaults. List flags (`Vec`, clap's Append)
// still accumulate their values, as KSM's `ResourceSet`, `MetricSet` and `NamespaceList` do.
#[command(name = "kube-state-agent", version, about, long_about = None, args_override_self = true)]
pub struct Args {
    /// The node this agent serves: it watches the pods bound to it and its Node object.
    #[arg(long, env = "NODE_NAME")]
    pub node: Option<String>,

    /// `node`: this node's pods and Node (a DaemonSet). `cluster`: every object of every
    /// enabled kind, as one instance (kube-state-metrics' Deployment mode).
    #[arg(long, value_enum, default_value = "node")]
    pub scope: ScopeMode,

    /// Path to a kubeconfig. Without it: in-cluster config, then $KUBECONFIG, then ~/.kube/config.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,

    /// Address to serve /metrics on.
    #[arg(long, default_value = "::")]
    pub host: IpAddr,

    /// Port to serve /metrics on.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,

    /// Address to serve the agent's own metrics on.
    #[arg(long, default_value = "::")]
    pub telemetry_host: IpAddr,

    /// Port to serve the agent's own metrics on.
    #[arg(long, default_value_t = 8081)]
    pub telemetry_port: u16,

    /// Longest time from a connection's start, or a later request's first byte, to the end of
    /// its request head; a client slower than that is disconnected.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub server_read_header_timeout: Duration,

    /// Longest time to read a whole request (no request here has a body, so it bounds the head
    /// as --server-read-header-timeout does; the shorter applies).
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    pub server_read_timeout: Duration,

    /// Longest time an answer may wait for the client to read it; a client that stops reading
    /// for that long is disconnected.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    pub server_write_timeout: Duration,

    /// Longest time a connection may sit with nothing read or written before it is closed.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub server_idle_timeout: Duration,

    /// Most connections open at once on each port; a connection over it is closed at once.
    #[arg(long, default_value_t = 1024)]
    pub server_max_connections: usize,

    /// A Prometheus exporter-toolkit web config file (`tls_server_config` with `cert_file`,
    /// `key_file`, `client_auth_type`, `client_ca_file`, …): serve HTTPS on --port and, unless
    /// --telemetry-tls=false, on --telemetry-port. The certificate, key and client CA are
    /// reloaded when their files change.
    #[arg(long, value_parser = path_or_empty)]
    pub tls_config: Option<PathBuf>,

    /// With --tls-config: serve the telemetry port over TLS too. `false` keeps it plain HTTP,
    /// e.g. for kubelet probes when clients must present a certificate.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub telemetry_tls: bool,

    /// Comma-separated resources to export (kube-state-metrics' names). Default:
    /// kube-state-metrics' `DefaultResources` (every kind but RBAC, service accounts,
    /// endpoints and ingress classes).
    #[arg(long, value_delimiter = ',')]
    pub resources: Option<Vec<String>>,

    /// A YAML file holding settings with kube-state-metrics' `--config` keys (or these flags'
    /// names). Its values override the command line; it is reloaded when it changes.
    #[arg(long)]
    pub config: Option<PathBuf>,

    /// Inline kube-state-metrics `CustomResourceStateMetrics` YAML: the custom resources to
    /// watch and the metrics each object gives. Wins over --custom-resource-state-config-file
    /// when both are given, as in kube-state-metrics.
    #[arg(long)]
    pub custom_resource_state_config: Option<String>,

    /// A file holding the `CustomResourceStateMetrics` YAML (see
    /// --custom-resource-state-config). Read at start, and again whenever it (or --config)
    /// changes.
    #[arg(long, value_parser = path_or_empty)]
    pub custom_resource_state_config_file: Option<PathBuf>,

    /// Export only the custom resources of the custom resource state config: no built-in kind
    /// is watched, whatever --resources says.
    #[arg(long, default_value_t = false)]
    pub custom_resource_state_only: bool,

    /// Start even when --custom-resource-state-config-file does not exist (yet), as
    /// kube-state-metrics' flag does: no custom resources until the file appears, which is
    /// then read like a change of it. A file that exists but cannot be read or compiled still
    /// fails the start.
    #[arg(long, default_value_t = false)]
    pub continue_without_custom_resource_state_config_file: bool,

    /// Comma-separated metric families to export, as exact names or regexes. As in
    /// kube-state-metrics a regex matches anywhere in the name (anchor it with ^…$).
    /// Excludes --metric-denylist.
    #[arg(long, value_delimiter = ',')]
    pub metric_allowlist: Vec<String>,

    /// Comma-separated metric families not to export, as exact names or regexes (matched
    /// anywhere in the name, like --metric-allowlist). Excludes --metric-allowlist.
    #[arg(long, value_delimiter = ',')]
    pub metric_denylist: Vec<String>,

    /// Kubernetes label keys to expose in kube_<resource>_labels, per resource:
    /// `pods=[app,app.kubernetes.io/*],nodes=[*]`; `*=[…]` applies to every resource and
    /// takes precedence over the others; a key may hold one `*` wildcard.
    #[arg(long, default_value = "", value_parser = allowlist::parse)]
    pub metric_labels_allowlist: LabelsAllowList,

    /// Annotation keys to expose in kube_<resource>_annotations, same syntax as
    /// --metric-labels-allowlist.
    #[arg(long, default_value = "", value_parser = allowlist::parse)]
    pub metric_annotations_allowlist: LabelsAllowList,

    /// Comma-separated opt-in families to enable, as names or regexes (e.g.
    /// kube_pod_nodeselectors). An opt-in family is rendered only if the allow/deny list lets
    /// it through too.
    #[arg(long, value_delimiter = ',')]
    pub metric_opt_in_list: Vec<String>,

    /// Serve a gzip body to scrapers that accept it (kube-state-metrics' flag; on by default
    /// here, `--enable-gzip-encoding=false` turns it off). The compressed body is built once
    /// per snapshot, never per scrape.
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true",
          action = clap::ArgAction::Set)]
    pub enable_gzip_encoding: bool,

    /// Shortest time between two snapshot rebuilds; events arriving meanwhile are coalesced
    /// into the next one.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub snapshot_interval: Duration,

    /// Take part in the election of the one agent that also exports cluster-scope kinds and
    /// unscheduled pods (`--scope=node` only).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,

    /// Namespace of the election Lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,

    /// Name of the election Lease.
    #[arg(long, default_value = "kube-state-agent")]
    pub lease_name: String,

    /// This agent's identity in the Lease. Default: the pod name, else the node name.
    #[arg(long, env = "POD_NAME")]
    pub lease_identity: Option<String>,

    /// How long a holder's claim stands without renewal (client-go's default).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,

    /// How long the holder keeps exporting cluster-scope rows without a successful renewal.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub renew_deadline: Duration,

    /// Time between election attempts.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub retry_period: Duration,

    /// Only agents whose own Node's labels match this label selector take part in the
    /// election (e.g. `kube-state-agent.io/leader-candidate=true`); the others make no Lease
    /// request at all. Empty: every agent is a candidate. Needs `nodes` in --resources.
    #[arg(long, default_value = "")]
    pub leader_candidate_selector: String,

    /// Log format: `text` or `json`. The level comes from RUST_LOG (default `info`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    // ----- What the watches ask the API server for (kube-state-metrics' flags) -----
    /// Comma-separated namespaces whose objects are exported, one watch each. Default: all.
    /// Cluster-scoped kinds (nodes, namespaces, persistent volumes, …) are not filtered.
    #[arg(long, value_delimiter = ',')]
    pub namespaces: Vec<String>,

    /// Comma-separated namespaces whose objects are not exported, filtered by the API server
    /// (`metadata.namespace!=…`). With --namespaces, the allowed namespaces that are not
    /// denied are watched.
    #[arg(long, value_delimiter = ',')]
    pub namespaces_denylist: Vec<String>,

    /// List from the API server's watch cache (resourceVersion=0) instead of a quorum read
    /// from etcd: cheaper for the API server, possibly a little stale.
    #[arg(long, default_value_t = false)]
    pub use_apiserver_cache: bool,

    /// The most objects one list keeps per watch; the rest are dropped and counted. 0: no limit.
    #[arg(long, default_value_t = 0)]
    pub object_limit: u64,

    /// This instance's shard (zero-based) of --total-shards, by kube-state-metrics' assignment.
    /// In `--scope=node` it shards the leader's kinds and picks the Lease this agent runs for.
    #[arg(long, default_value_t = 0)]
    pub shard: u32,

    /// The number of shards; 1 disables sharding.
    #[arg(long, default_value_t = 1)]
    pub total_shards: u32,

    /// StatefulSet autosharding, as kube-state-metrics' flag: the name of this instance's pod
    /// (typically `$(POD_NAME)` from the downward API). With --pod-namespace, the agent finds
    /// the StatefulSet owning the pod, takes the shard from the pod's ordinal and the total
    /// from the StatefulSet's replicas, and re-shards when they change (`--scope=cluster`).
    #[arg(long)]
    pub pod: Option<String>,

    /// The namespace of --pod (typically `$(POD_NAMESPACE)` from the downward API).
    #[arg(long)]
    pub pod_namespace: Option<String>,

    /// Watch ConfigMaps, and Secrets of well-known types, as metadata only, so their payload
    /// never crosses the wire. `false` watches full objects (to measure the difference).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub lean_watches: bool,

    /// How lists and watches are encoded on the wire: `protobuf` for the kinds that have a
    /// lean protobuf message (pods and nodes today), JSON for the rest; `json` for every kind.
    #[arg(long, value_enum, default_value_t = ApiEncoding::Protobuf)]
    pub api_encoding: ApiEncoding,

    /// How long the API server keeps one watch open before it ends it and the agent resumes it
    /// (`timeoutSeconds`, whole seconds). A watch that carries no byte for this long plus a
    /// few seconds is taken for dead and reopened, so this also bounds how long a silently
    /// broken connection (a stalled proxy, a dropped NAT entry) goes unnoticed. Lower it below
    /// the idle timeout of any proxy or load balancer between the agent and the API server.
    #[arg(long, default_value = "290s", value_parser = parse_duration)]
    pub watch_timeout: Duration,

    // ----- Who may scrape what -----
    /// Require a bearer token on /metrics, checked by the API server (kube-state-metrics'
    /// flag): the right to `get` the non-resource URL /metrics gives every series; without it,
    /// the --tenant-access right gives the series of the namespaces where the user has it;
    /// otherwise 401/403. The probes stay open.
    #[arg(long, default_value_t = false)]
    pub auth_filter: bool,

    /// With --auth-filter: the right (`VERB:RESOURCE[.GROUP]`) that makes a user a tenant of a
    /// namespace, who then sees that namespace's series; `none` grants the full view only.
    #[arg(long, default_value = "list:pods", value_parser = auth::parse_tenant_access)]
    // Spelled out so clap keeps the value optional rather than the flag.
    pub tenant_access: ::std::option::Option<auth::TenantAccess>,

    /// With --auth-filter: how long a token's granted decision is reused before the API server
    /// is asked again.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub auth_cache_ttl: Duration,

    /// With --auth-filter: how long a refusal (401, 403) or a failed review is reused.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub auth_cache_negative_ttl: Duration,

    /// With --auth-filter: the most tokens whose decisions are cached.
    #[arg(long, default_value_t = 4096)]
    pub auth_cache_size: u64,
}

/// A path, where an empty one is allowed (kube-state-metrics' `--tls-config=""` means none);
/// clap's own path parser refuses empty values.
fn path_or_empty(s: &str) -> std::result::Result<PathBuf, String> {
    Ok(PathBuf::from(s))
}

pub(crate) fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 100ms or 2s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("{s:?}: unit must be ms, s or m")),
    }
}

impl Error {
    /// Whether the error is the custom resource state config's (it cannot be read, does not
    /// compile, or clashes), directly or inside the `--config` file.
    pub fn is_custom_resource_state(&self) -> bool {
        match self {
            Error::CustomResourceStateFile { .. }
            | Error::CustomResourceState { .. }
            | Error::CustomFamilyClash { .. } => true,
            Error::InConfigFile { source, .. } => source.is_custom_resource_state(),
            _ => false,
        }
    }
}

impl Args {
    /// The custom resource state config file these flags read: `None` when there is none, or
    /// when the inline `--custom-resource-state-config` wins over it (as in kube-state-metrics).
    pub fn custom_resource_state_file(&self) -> Option<&std::path::Path> {
        if self
            .custom_resource_state_config
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty())
        {
            return None;
        }
        self.custom_resource_state_config_file
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty())
    }
}

/// Everything the agent needs to run, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// What this agent watches.
    pub scope: ScopeMode,
    /// The node served (empty in `--scope=cluster` without `--node`).
    pub node: String,
    /// Explicit kubeconfig, if any.
    pub kubeconfig: Option<PathBuf>,
    /// Where /metrics is served.
    pub listen: SocketAddr,
    /// Where self-metrics are served.
    pub telemetry_listen: SocketAddr,
    /// Timeouts and the connection limit of both ports.
    pub server: ServerLimits,
    /// TLS for the HTTP ports, when `--tls-config` is given.
    pub tls: Option<Tls>,
    /// Enabled resources, in registry order.
    pub resources: Vec<&'static str>,
    /// Where [`Config::resources`] came from, for the startup log line.
    pub resources_from: ResourcesFrom,
    /// Per-resource label allowlists (`*` for every resource).
    pub labels_allowlist: BTreeMap<String, KeyAllowlist>,
    /// Per-resource annotation allowlists (`*` for every resource).
    pub annotations_allowlist: BTreeMap<String, KeyAllowlist>,
    /// Which families are rendered.
    pub metrics: MetricFilter,
    /// The `--config` file this config was read with, if any.
    pub file: Option<ConfigFile>,
    /// Things worth a log line that do not stop the agent (logged once tracing is set up).
    pub warnings: Vec<String>,
    /// Whether gzip bodies are built and served.
    pub gzip: bool,
    /// Minimum time between snapshot rebuilds.
    pub snapshot_interval: Duration,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// The election, when this agent takes part in one.
    pub election: Option<Election>,
    /// StatefulSet autosharding (`--pod`, `--pod-namespace`); `None`: the shard is
    /// [`WatchOptions::shard`] as given.
    pub autoshard: Option<AutoShard>,
    /// What the watches ask the API server for.
    pub watch: WatchOptions,
    /// `--auth-filter` and its settings; `None`: /metrics is open.
    pub auth: Option<auth::AuthOptions>,
    /// The custom resource state config, compiled; `None` without one.
    pub custom: Option<CustomResources>,
    /// The flags this config was built from, the `--config` file's settings applied: a reload
    /// without `--config` (a changed custom resource state config file) builds from them again.
    pub args: Args,
}

/// The compiled custom resource state config (`--custom-resource-state-config[-file]`).
///
/// Compared by its YAML text: two loads of the same text are the same config, so a reload
/// that leaves it alone reuses the running custom kinds (see `crate::custom::kind`).
#[derive(Debug, Clone)]
pub struct CustomResources {
    /// The YAML as read.
    pub source: String,
    /// The resources, in config order (exposition order).
    pub resources: std::sync::Arc<Vec<crate::custom::ResourceMetrics>>,
}

impl PartialEq for CustomResources {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// Where the enabled resources were chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourcesFrom {
    /// No `--resources`: kube-state-metrics' `DefaultResources`.
    Default,
    /// The `--resources` flag.
    Flag,
    /// The `resources` key of the `--config` file.
    ConfigFile,
}

impl std::fmt::Display for ResourcesFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ResourcesFrom::Default => "default (kube-state-metrics' DefaultResources)",
            ResourcesFrom::Flag => "--resources",
            ResourcesFrom::ConfigFile => "the config file's resources key",
        })
    }
}

/// `--tls-config` and the ports it covers. The file itself is read by `http::tls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// The exporter-toolkit web config file.
    pub file: PathBuf,
    /// `--telemetry-tls`: whether the telemetry port serves TLS too (the metrics port always
    /// does).
    pub telemetry: bool,
}

/// The flags that shape every watch: namespaces, list semantics, limits, shard, payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchOptions {
    /// `--namespaces` / `--namespaces-denylist`.
    pub namespaces: NamespaceFilter,
    /// `--use-apiserver-cache`: lists with resourceVersion=0.
    pub use_apiserver_cache: bool,
    /// `--object-limit`, `None` for 0.
    pub object_limit: Option<u64>,
    /// `--shard` of `--total-shards`, `None` when there is one shard.
    pub shard: Option<Shard>,
    /// `--lean-watches`.
    pub lean: bool,
    /// `--api-encoding`.
    pub encoding: ApiEncoding,
    /// `--watch-timeout`, in whole seconds; `None` leaves kube's default (290 s).
    pub timeout_secs: Option<u32>,
}

/// Which namespaces' objects namespaced kinds are watched in, as kube-state-metrics does it:
/// one watch per allowed namespace, or one cluster-wide watch with the denied namespaces
/// excluded by field selector.
///
/// # Invariants
/// `allow` and `deny` are disjoint (a namespace in both is dropped from `allow` at parse) and,
/// when `allow` was given, it is not empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceFilter {
    /// Namespaces watched one by one; empty: all.
    pub allow: Vec<String>,
    /// Namespaces excluded from the cluster-wide watch.
    pub deny: Vec<String>,
}

impl NamespaceFilter {
    fn parse(allow: &[String], deny: &[String]) -> Result<NamespaceFilter> {
        let deny = namespace_list("--namespaces-denylist", deny)?;
        let given = namespace_list("--namespaces", allow)?;
        let allow: Vec<String> = given
            .iter()
            .filter(|n| !deny.contains(n))
            .cloned()
            .collect();
        if !given.is_empty() && allow.is_empty() {
            return Err(Error::NoNamespaceLeft);
        }
        Ok(NamespaceFilter { allow, deny })
    }
}

/// Trims, drops empty entries and duplicates, and checks each name is an RFC 1123 label: a
/// name with `,` or `=` would change the meaning of the field selector it goes into.
fn namespace_list(flag: &'static str, names: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        if !crate::names::is_dns_label(name) {
            return Err(Error::BadNamespace {
                flag,
                name: name.to_string(),
            });
        }
        if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

/// The pod whose StatefulSet decides this instance's shard (`--pod`, `--pod-namespace`), as
/// kube-state-metrics' autosharding. The shard itself is found and followed at run time
/// (`crate::autoshard`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoShard {
    /// `--pod`.
    pub pod: String,
    /// `--pod-namespace`.
    pub namespace: String,
}

/// `--leader-candidate-selector`: `None` when empty (every agent is a candidate).
fn candidate_selector(text: &str) -> Result<Option<label_selector::LabelSelector>, Error> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    label_selector::LabelSelector::parse(text)
        .map(Some)
        .map_err(|source| Error::CandidateSelector {
            value: text.to_string(),
            source,
        })
}

/// Lease election settings; the duration defaults are client-go's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Election {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This candidate's identity (the pod name).
    pub identity: String,
    /// How long a holder's claim stands without renewal (15 s).
    pub lease_duration: Duration,
    /// How long the holder keeps exporting without a successful renewal (10 s).
    pub renew_deadline: Duration,
    /// Time between attempts (2 s).
    pub retry_period: Duration,
    /// `--leader-candidate-selector`: only an agent whose own Node matches takes part.
    /// `None`: every agent is a candidate.
    pub candidates: Option<label_selector::LabelSelector>,
}

/// What [`Config::from_args`] needs to know about the kinds the agent has: plain data, built
/// from the registry by `crate::registry::catalog` (tests build their own).
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// Every resource name, in registry order.
    pub resources: Vec<&'static str>,
    /// The resources enabled when `--resources` is not given, in registry order.
    pub default_resources: Vec<&'static str>,
    /// Every family name, with whether it is opt-in.
    pub families: Vec<(&'static str, bool)>,
    /// The resources a node agent exports only while it leads (every kind not bound to a
    /// node); pods are not among them although the leader also exports the unscheduled ones.
    pub leader_only: Vec<&'static str>,
}

impl Config {
    /// Validates `args` against the known kinds.
    ///
    /// # Errors
    /// The first flag with a bad value, named.
    pub fn from_args(args: Args, kinds: &Catalog) -> Result<Config> {
        let custom = custom_resources(&args)?;
        let autoshard = autoshard(&args)?;
        let all_args = args.clone();
        let node = args.node.filter(|n| !n.trim().is_empty());
        let node = match (args.scope, node) {
            (_, Some(n)) => n,
            (ScopeMode::Cluster, None) => String::new(),
            (ScopeMode::Node, None) => return Err(Error::MissingNode),
        };
        let known = kinds.resources.clone();
        let resources_from = if args.resources.is_some() {
            ResourcesFrom::Flag
        } else {
            ResourcesFrom::Default
        };
        let resources = match &args.resources {
            None => kinds.default_resources.clone(),
            Some(list) => {
                let mut chosen = Vec::new();
                for name in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
                    let Some(r) = known.iter().find(|k| **k == name) else {
                        return Err(Error::UnknownResource {
                            name: name.to_string(),
                            known: known.join(","),
                        });
                    };
                    if !chosen.contains(r) {
                        chosen.push(*r);
                    }
                }
                // Registry order, whatever the flag's order: it is the exposition order.
                known
                    .iter()
                    .copied()
                    .filter(|k| chosen.contains(k))
                    .collect()
            }
        };
        // `--custom-resource-state-only`: the custom resources alone, as in kube-state-metrics.
        let resources = if args.custom_resource_state_only {
            Vec::new()
        } else {
            resources
        };
        let labels_allowlist = resolve_allowlist(
            "--metric-labels-allowlist",
            &args.metric_labels_allowlist,
            &known,
        )?;
        let annotations_allowlist = resolve_allowlist(
            "--metric-annotations-allowlist",
            &args.metric_annotations_allowlist,
            &known,
        )?;
        let entries = |list: &[String]| -> Vec<String> {
            list.iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let metrics = MetricFilter::new(
            &entries(&args.metric_allowlist),
            &entries(&args.metric_denylist),
            &entries(&args.metric_opt_in_list),
        )?;
        let families = &kinds.families;
        let opt_in_families: Vec<&str> = families
            .iter()
            .filter(|(_, opt_in)| *opt_in)
            .map(|(name, _)| *name)
            .collect();
        if let Some(pattern) = metrics
            .opt_in_entries_matching_none(&opt_in_families)
            .first()
        {
            return Err(Error::NotOptIn {
                pattern: pattern.clone(),
            });
        }
        let custom_names: Vec<&str> = custom
            .iter()
            .flat_map(|c| c.resources.iter())
            .flat_map(|r| r.families().iter().map(|f| f.name()))
            .collect();
        if let Some(c) = &custom {
            check_custom_families(c, families)?;
        }
        let names: Vec<&str> = families
            .iter()
            .map(|(name, _)| *name)
            .chain(custom_names)
            .collect();
        let (flag, unmatched) = metrics.list_entries_matching_none(&names);
        let mut warnings: Vec<String> = unmatched
            .into_iter()
            .map(|pattern| format!("{flag}: {pattern:?} matches no metric family"))
            .collect();
        // An empty path means no TLS, as kube-state-metrics' default `--tls-config=""`.
        let tls = args
            .tls_config
            .filter(|f| !f.as_os_str().is_empty())
            .map(|file| Tls {
                file,
                telemetry: args.telemetry_tls,
            });
        if tls.is_none() && !args.telemetry_tls {
            warnings.push("--telemetry-tls=false has no effect without --tls-config".to_string());
        }
        if let (Some(path), None) = (all_args.custom_resource_state_file(), &custom) {
            warnings.push(format!(
                "{CUSTOM_FILE_FLAG} {}: no such file; no custom resources until it appears \
                 (--continue-without-custom-resource-state-config-file)",
                path.display()
            ));
        }
        for (flag, duration) in [
            ("--snapshot-interval", args.snapshot_interval),
            (
                "--server-read-header-timeout",
                args.server_read_header_timeout,
            ),
            ("--server-read-timeout", args.server_read_timeout),
            ("--server-write-timeout", args.server_write_timeout),
            ("--server-idle-timeout", args.server_idle_timeout),
        ] {
            if duration.is_zero() {
                return Err(Error::ZeroDuration { flag });
            }
        }
        if args.server_max_connections == 0 {
            return Err(Error::ZeroConnections);
        }
        let watch = WatchOptions {
            namespaces: NamespaceFilter::parse(&args.namespaces, &args.namespaces_denylist)?,
            use_apiserver_cache: args.use_apiserver_cache,
            object_limit: (args.object_limit > 0).then_some(args.object_limit),
            shard: shard(args.shard, args.total_shards)?,
            lean: args.lean_watches,
            encoding: args.api_encoding,
            timeout_secs: Some(watch_timeout_secs(args.watch_timeout)?),
        };
        // A warning, not a failure: a DaemonSet without election beside a `--scope=cluster`
        // instance for the other kinds is a sound setup whose only flaw is the unused
        // resources; the warning names them and both ways out.
        if args.scope == ScopeMode::Node && !args.leader_election {
            let leader_only = &kinds.leader_only;
            let orphaned: Vec<&str> = resources
                .iter()
                .copied()
                .filter(|r| leader_only.contains(r))
                .collect();
            if !orphaned.is_empty() {
                warnings.push(format!(
                    "--scope=node with --leader-election=false: nothing exports {} (and the \
                     unscheduled pods), because only the elected leader watches kinds not bound \
                     to a node; enable the election, or leave them out of --resources and run one \
                     --scope=cluster instance for them",
                    orphaned.join(",")
                ));
            }
        }
        let candidates = candidate_selector(&args.leader_candidate_selector)?;
        let mut election =
            (args.scope == ScopeMode::Node && args.leader_election).then(|| Election {
                namespace: args.lease_namespace.clone(),
                name: lease_name(&args.lease_name, watch.shard),
                identity: args
                    .lease_identity
                    .clone()
                    .filter(|i| !i.is_empty())
                    .unwrap_or_else(|| node.clone()),
                lease_duration: args.lease_duration,
                renew_deadline: args.renew_deadline,
                retry_period: args.retry_period,
                candidates: None,
            });
        if let Some(e) = &mut election
            && let Some(selector) = candidates
        {
            if !resources.contains(&"nodes") {
                return Err(Error::CandidateSelectorWithoutNodes);
            }
            e.candidates = Some(selector);
        }
        if let Some(e) = &election
            && !(e.retry_period < e.renew_deadline && e.renew_deadline < e.lease_duration)
        {
            return Err(Error::LeaseTimings {
                lease: e.lease_duration,
                renew: e.renew_deadline,
                retry: e.retry_period,
            });
        }
        if args.auth_filter && args.auth_cache_ttl.is_zero() {
            return Err(Error::ZeroDuration {
                flag: "--auth-cache-ttl",
            });
        }
        let auth = args.auth_filter.then(|| auth::AuthOptions {
            tenant_access: args.tenant_access.clone(),
            ttl: args.auth_cache_ttl,
            negative_ttl: args.auth_cache_negative_ttl.min(args.auth_cache_ttl),
            capacity: args.auth_cache_size.max(1),
        });
        Ok(Config {
            custom,
            args: all_args,
            election,
            autoshard,
            watch,
            auth,
            scope: args.scope,
            node,
            kubeconfig: args.kubeconfig,
            listen: SocketAddr::new(args.host, args.port),
            telemetry_listen: SocketAddr::new(args.telemetry_host, args.telemetry_port),
            tls,
            resources,
            resources_from,
            labels_allowlist,
            annotations_allowlist,
            metrics,
            file: None,
            warnings,
            gzip: args.enable_gzip_encoding,
            snapshot_interval: args.snapshot_interval,
            log_format: args.log_format,
            server: ServerLimits {
                read_header_timeout: args.server_read_header_timeout,
                read_timeout: args.server_read_timeout,
                write_timeout: args.server_write_timeout,
                idle_timeout: args.server_idle_timeout,
                max_connections: args.server_max_connections,
            },
        })
    }

    /// The label allowlist for `resource`. A `*` entry takes precedence over the resource's own,
    /// as in KSM's `Builder.allowList`.
    pub fn labels_for(&self, resource: &str) -> KeyAllowlist {
        allowlist_for(&self.labels_allowlist, resource)
    }

    /// The annotation allowlist for `resource`, as [`Config::labels_for`].
    pub fn annotations_for(&self, resource: &str) -> KeyAllowlist {
        allowlist_for(&self.annotations_allowlist, resource)
    }
}

/// The flag the custom resource state config was taken from.
const CUSTOM_INLINE_FLAG: &str = "--custom-resource-state-config";
const CUSTOM_FILE_FLAG: &str = "--custom-resource-state-config-file";

/// Reads and compiles the custom resource state config: the inline flag wins over the file,
/// as kube-state-metrics' `--custom-resource-state-config` does; an empty value is none.
fn custom_resources(args: &Args) -> Result<Option<CustomResources>> {
    let (flag, source) = match (
        args.custom_resource_state_config
            .as_deref()
            .filter(|s| !s.trim().is_empty()),
        args.custom_resource_state_file(),
    ) {
        (Some(inline), _) => (CUSTOM_INLINE_FLAG, inline.to_string()),
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(text) => (CUSTOM_FILE_FLAG, text),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && args.continue_without_custom_resource_state_config_file =>
            {
                return Ok(None);
            }
            Err(e) => {
                return Err(Error::CustomResourceStateFile {
                    flag: CUSTOM_FILE_FLAG,
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                });
            }
        },
        (None, None) => return Ok(None),
    };
    let resources = crate::custom::parse(&source)
        .map_err(|source| Error::CustomResourceState { flag, source })?;
    Ok(Some(CustomResources {
        source,
        resources: std::sync::Arc::new(resources),
    }))
}

/// Refuses a family name two owners share (two custom resources, or a custom resource and a
/// built-in kind): the snapshot writes each kind's families under their own headers, and a
/// family must appear once per response (invariant 2).
fn check_custom_families(custom: &CustomResources, builtin: &[(&'static str, bool)]) -> Result<()> {
    let flag = CUSTOM_INLINE_FLAG;
    let mut owners: BTreeMap<&str, String> = BTreeMap::new();
    for resource in custom.resources.iter() {
        for family in resource.families() {
            let owner = resource.gvk().to_string();
            if builtin.iter().any(|(name, _)| *name == family.name()) {
                return Err(Error::CustomFamilyClash {
                    flag,
                    name: family.name().to_string(),
                    first: "a built-in kind".to_string(),
                    second: owner,
                });
            }
            if let Some(first) = owners.insert(family.name(), owner.clone())
                && first != owner
            {
                return Err(Error::CustomFamilyClash {
                    flag,
                    name: family.name().to_string(),
                    first,
                    second: owner,
                });
            }
        }
    }
    Ok(())
}

/// `--watch-timeout` as the `timeoutSeconds` it is sent as.
fn watch_timeout_secs(timeout: Duration) -> Result<u32> {
    match u32::try_from(timeout.as_secs()) {
        Ok(secs) if secs >= 1 && timeout.subsec_nanos() == 0 => Ok(secs),
        _ => Err(Error::WatchTimeout(timeout)),
    }
}

/// The Lease a node agent of `shard` elects on: `--lease-name`, or `<lease-name>-shard-<i>`
/// with more than one shard (each shard elects its own leader).
pub fn lease_name(base: &str, shard: Option<Shard>) -> String {
    match shard {
        Some(s) => format!("{base}-shard-{}", s.index),
        None => base.to_string(),
    }
}

/// `--pod`/`--pod-namespace`: both or neither, only in `--scope=cluster`, and never with an
/// explicit shard (kube-state-metrics ignores `--shard`/`--total-shards` then; refusing them
/// says which one is in effect).
fn autoshard(args: &Args) -> Result<Option<AutoShard>> {
    fn given(v: Option<&String>) -> Option<&str> {
        v.map(|v| v.trim()).filter(|v| !v.is_empty())
    }
    let (pod, namespace) = match (given(args.pod.as_ref()), given(args.pod_namespace.as_ref())) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(Error::AutoShardingIncomplete {
                given: "--pod",
                missing: "--pod-namespace",
            });
        }
        (None, Some(_)) => {
            return Err(Error::AutoShardingIncomplete {
                given: "--pod-namespace",
                missing: "--pod",
            });
        }
        (Some(p), Some(n)) => (p.to_string(), n.to_string()),
    };
    if args.scope != ScopeMode::Cluster {
        return Err(Error::AutoShardingScope);
    }
    if args.shard != 0 || args.total_shards != 1 {
        return Err(Error::AutoShardingConflict {
            shard: args.shard,
            total: args.total_shards,
        });
    }
    Ok(Some(AutoShard { pod, namespace }))
}

/// `None` for a single shard; the shard otherwise, checked against the total.
fn shard(index: u32, total: u32) -> Result<Option<Shard>> {
    if total == 0 || index >= total {
        return Err(Error::BadShard {
            shard: index,
            total,
        });
    }
    Ok((total > 1).then_some(Shard { index, total }))
}

fn allowlist_for(map: &BTreeMap<String, KeyAllowlist>, resource: &str) -> KeyAllowlist {
    map.get("*")
        .or_else(|| map.get(resource))
        .cloned()
        .unwrap_or_default()
}

/// Checks the resources of a parsed allowlist against the known kinds (KSM refuses unknown
/// ones too) and compiles each key list.
fn resolve_allowlist(
    flag: &'static str,
    list: &LabelsAllowList,
    known: &[&'static str],
) -> Result<BTreeMap<String, KeyAllowlist>> {
    let mut out = BTreeMap::new();
    for (resource, keys) in &list.0 {
        if resource != "*" && !known.contains(&resource.as_str()) {
            return Err(Error::AllowlistResource {
                flag,
                name: resource.clone(),
                known: known.join(","),
            });
        }
        out.insert(resource.clone(), KeyAllowlist::new(keys.iter().cloned()));
    }
    Ok(out)
}

#[cfg(test)]
impl Config {
    /// The families of the custom resource state config, in config order.
    pub(crate) fn custom_family_names(&self) -> Vec<String> {
        self.custom
            .iter()
            .flat_map(|c| c.resources.iter())
            .flat_map(|r| r.families().iter().map(|f| f.name().to_string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds() -> Catalog {
        Catalog {
            resources: vec!["pods", "nodes", "roles"],
            default_resources: vec!["pods", "nodes"],
            families: vec![
                ("kube_pod_info", false),
                ("kube_pod_nodeselectors", true),
                ("kube_node_info", false),
            ],
            leader_only: vec!["roles"],
        }
    }

    fn config(extra: &[&str]) -> Result<Config> {
        let mut argv = vec!["kube-state-agent", "--node", "node-1"];
        argv.extend_from_slice(extra);
        Config::from_args(Args::try_parse_from(argv).expect("clap accepts"), &kinds())
    }

    #[test]
    fn defaults_enable_ksms_default_resources_and_ports() {
        let c = config(&[]).unwrap();
        assert_eq!(c.resources, vec!["pods", "nodes"]);
        assert_eq!(c.resources_from, ResourcesFrom::Default);
        assert_eq!(c.listen.port(), 8080);
        assert_eq!(c.telemetry_listen.port(), 8081);
        assert!(c.gzip, "gzip is served by default");
    }

    #[test]
    fn gzip_keeps_ksms_bare_flag_and_can_be_turned_off() {
        assert!(config(&["--enable-gzip-encoding"]).unwrap().gzip);
        assert!(config(&["--enable-gzip-encoding=true"]).unwrap().gzip);
        assert!(!config(&["--enable-gzip-encoding=false"]).unwrap().gzip);
        assert!(!config(&["--enable-gzip-encoding", "false"]).unwrap().gzip);
    }

    #[test]
    fn auth_filter_settings_are_read_and_a_bad_tenant_access_names_the_flag() {
        assert_eq!(config(&[]).unwrap().auth, None);
        let c = config(&[
            "--auth-filter",
            "--tenant-access",
            "get:deployments.apps",
            "--auth-cache-ttl",
            "30s",
            "--auth-cache-negative-ttl",
            "1m",
        ])
        .unwrap();
        let auth = c.auth.expect("--auth-filter");
        let access = auth.tenant_access.expect("a tenant right");
        assert_eq!(
            (
                access.verb.as_str(),
                access.resource.as_str(),
                access.group.as_str()
            ),
            ("get", "deployments", "apps")
        );
        assert_eq!(auth.ttl, Duration::from_secs(30));
        assert_eq!(
            auth.negative_ttl,
            Duration::from_secs(30),
            "never above the TTL"
        );
        let none = config(&["--auth-filter", "--tenant-access=none"]).unwrap();
        assert_eq!(none.auth.unwrap().tenant_access, None);
        let err = Args::try_parse_from([
            "kube-state-agent",
            "--auth-filter",
            "--tenant-access",
            "pods",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("--tenant-access"), "{err}");
        assert!(config(&["--auth-filter", "--auth-cache-ttl", "0s"]).is_err());
    }

    #[test]
    fn log_format_is_text_or_json_and_anything_else_names_the_flag() {
        assert_eq!(config(&[]).unwrap().log_format, LogFormat::Text);
        assert_eq!(
            config(&["--log-format", "json"]).unwrap().log_format,
            LogFormat::Json
        );
        let err = Args::try_parse_from(["kube-state-agent", "--log-format", "logfmt"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--log-format") && err.contains("logfmt"),
            "{err}"
        );
        assert!(err.contains("text") && err.contains("json"), "{err}");
    }

    #[test]
    fn resources_keep_registry_order_and_an_unknown_one_is_named() {
        let c = config(&["--resources", "roles,nodes,pods"]).unwrap();
        assert_eq!(c.resources, vec!["pods", "nodes", "roles"]);
        assert_eq!(c.resources_from, ResourcesFrom::Flag);
        let err = config(&["--resources", "pods,deploymnets"]).unwrap_err();
        assert!(err.to_string().contains("--resources"), "{err}");
        assert!(err.to_string().contains("deploymnets"), "{err}");
    }

    #[test]
    fn missing_node_fails_naming_the_flag_and_cluster_scope() {
        let args = Args::try_parse_from(["kube-state-agent"]).unwrap();
        let args = Args { node: None, ..args };
        let err = Config::from_args(args, &kinds()).unwrap_err();
        assert!(err.to_string().contains("--node"), "{err}");
        assert!(err.to_string().contains("--scope=cluster"), "{err}");
    }

    #[test]
    fn a_repeated_flag_takes_its_last_value_and_a_repeated_list_accumulates_as_in_ksm() {
        let c = config(&["--port", "9000", "--port", "9001", "--scope=node"]).unwrap();
        assert_eq!(c.listen.port(), 9001);
        let c = config(&["--leader-election=false", "--leader-election=true"]).unwrap();
        assert!(c.election.is_some());
        let c = config(&["--use-apiserver-cache", "--use-apiserver-cache"]).unwrap();
        assert!(c.watch.use_apiserver_cache);
        // KSM's ResourceSet/MetricSet/NamespaceList add each occurrence's values.
        let c = config(&["--resources", "pods", "--resources", "roles"]).unwrap();
        assert_eq!(c.resources, ["pods", "roles"]);
        // KSM's LabelsAllowList replaces its map on each occurrence.
        let c = config(&[
            "--metric-labels-allowlist",
            "pods=[app]",
            "--metric-labels-allowlist",
            "nodes=[zone]",
        ])
        .unwrap();
        assert!(c.labels_for("pods").is_empty());
        assert_eq!(c.labels_for("nodes").entries(), ["zone"]);
        // `config` already gives `--node node-1`.
        let c = config(&["--node", "node-2"]).unwrap();
        assert_eq!(c.node, "node-2");
    }

    #[test]
    fn node_scope_without_election_warns_about_the_resources_nobody_exports() {
        let c = config(&["--leader-election=false", "--resources", "pods,nodes,roles"]).unwrap();
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        let w = &c.warnings[0];
        assert!(
            w.contains("--leader-election=false") && w.contains("roles") && !w.contains("pods,"),
            "{w}"
        );
        assert!(w.contains("--scope=cluster"), "{w}");
        let c = config(&["--leader-election=false", "--resources", "pods,nodes"]).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = config(&["--resources", "pods,roles"]).unwrap();
        assert!(
            c.warnings.is_empty(),
            "the leader exports roles: {:?}",
            c.warnings
        );
        let args = Args::try_parse_from([
            "x",
            "--scope=cluster",
            "--leader-election=false",
            "--resources=roles",
        ])
        .unwrap();
        let c = Config::from_args(Args { node: None, ..args }, &kinds()).unwrap();
        assert!(
            c.warnings.is_empty(),
            "cluster scope watches everything itself"
        );
    }

    const CUSTOM: &str = "spec:\n  resources:\n    - groupVersionKind: {group: shop.io, version: v1, kind: Cart}\n      metrics:\n        - name: items\n          help: Items.\n          each: {type: Gauge, gauge: {path: [spec, items]}}\n";

    #[test]
    fn the_inline_custom_config_wins_over_the_file_and_custom_only_drops_builtin_kinds() {
        let dir = std::env::temp_dir().join(format!("ksa-crs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("crs.yaml");
        std::fs::write(&file, CUSTOM.replace("items", "from_file")).unwrap();
        let file_flag = format!("--custom-resource-state-config-file={}", file.display());

        let from_file = config(&["--scope=cluster", &file_flag]).unwrap();
        assert_eq!(
            from_file.custom_family_names(),
            ["kube_customresource_from_file"]
        );
        assert!(!from_file.resources.is_empty(), "built-in kinds stay on");

        let both = config(&[
            "--scope=cluster",
            &file_flag,
            "--custom-resource-state-config",
            CUSTOM,
        ])
        .unwrap();
        assert_eq!(
            both.custom_family_names(),
            ["kube_customresource_items"],
            "inline wins"
        );

        let only = config(&[
            "--scope=cluster",
            "--custom-resource-state-config",
            CUSTOM,
            "--custom-resource-state-only",
            "--resources=pods",
        ])
        .unwrap();
        assert!(only.resources.is_empty(), "{:?}", only.resources);
        assert_eq!(only.custom_family_names(), ["kube_customresource_items"]);
        assert!(config(&["--scope=cluster"]).unwrap().custom.is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_bad_custom_config_fails_naming_flag_resource_and_metric() {
        let bad = CUSTOM.replace("Gauge, gauge", "Histogram, gauge");
        let e = config(&["--scope=cluster", "--custom-resource-state-config", &bad])
            .unwrap_err()
            .to_string();
        for part in [
            "--custom-resource-state-config",
            "Cart",
            "\"items\"",
            "Histogram",
        ] {
            assert!(e.contains(part), "{part}: {e}");
        }
        let e = config(&[
            "--scope=cluster",
            "--custom-resource-state-config-file=/nonexistent/crs.yaml",
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("--custom-resource-state-config-file /nonexistent/crs.yaml"),
            "{e}"
        );
        let clash = CUSTOM.replace("name: items", "name: pod_info").replace(
            "      metrics:",
            "      metricNamePrefix: kube\n      metrics:",
        );
        let e = config(&["--scope=cluster", "--custom-resource-state-config", &clash])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"kube_pod_info\"") && e.contains("built-in"),
            "{e}"
        );
    }

    #[test]
    fn cluster_scope_needs_no_node() {
        let args = Args::try_parse_from(["kube-state-agent", "--scope", "cluster"]).unwrap();
        let c = Config::from_args(Args { node: None, ..args }, &kinds()).unwrap();
        assert_eq!(c.scope, ScopeMode::Cluster);
        assert!(Args::try_parse_from(["kube-state-agent", "--scope", "everything"]).is_err());
    }

    #[test]
    fn every_agent_is_a_candidate_unless_a_candidate_selector_is_given() {
        let e = config(&[]).unwrap().election.unwrap();
        assert_eq!(
            e.candidates, None,
            "empty selector: every agent is a candidate"
        );
        let e = config(&[
            "--leader-candidate-selector",
            "kube-state-agent.io/leader-candidate=true",
        ])
        .unwrap()
        .election
        .unwrap();
        let selector = e.candidates.expect("a selector");
        let labelled = [(
            "kube-state-agent.io/leader-candidate".to_string(),
            "true".to_string(),
        )];
        assert!(selector.matches(&labelled.into_iter().collect()));
        assert!(!selector.matches(&BTreeMap::new()));
    }

    #[test]
    fn a_bad_candidate_selector_or_one_without_the_node_watch_is_refused_naming_the_flag() {
        let e = config(&["--leader-candidate-selector", "role in (a"])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--leader-candidate-selector \"role in (a\""),
            "{e}"
        );
        let e = config(&[
            "--leader-candidate-selector",
            "node-role.kubernetes.io/control-plane",
            "--resources",
            "pods,roles",
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--leader-candidate-selector") && e.contains("nodes"),
            "{e}"
        );
    }

    #[test]
    fn election_defaults_follow_client_go_and_bad_timings_are_refused() {
        let c = config(&[]).unwrap();
        let e = c.election.expect("node agents elect by default");
        assert_eq!(
            (e.lease_duration, e.renew_deadline, e.retry_period),
            (
                Duration::from_secs(15),
                Duration::from_secs(10),
                Duration::from_secs(2)
            )
        );
        assert_eq!(e.name, "kube-state-agent");
        assert!(
            config(&["--leader-election", "false"])
                .unwrap()
                .election
                .is_none()
        );
        let err = config(&["--renew-deadline", "20s"]).unwrap_err();
        assert!(err.to_string().contains("--renew-deadline"), "{err}");
    }

    #[test]
    fn allowlists_parse_ksm_syntax_including_wildcards() {
        let c = config(&[
            "--metric-labels-allowlist",
            "pods=[app, team,app.kubernetes.io/*],nodes=[*]",
        ])
        .unwrap();
        assert_eq!(
            c.labels_for("pods"),
            KeyAllowlist::new(["app", "team", "app.kubernetes.io/*"])
        );
        assert!(c.labels_for("pods").allows("app.kubernetes.io/name"));
        assert!(c.labels_for("nodes").allows("anything"));
        assert!(c.labels_for("roles").is_empty());
        let c = config(&["--metric-annotations-allowlist", "*=[owner]"]).unwrap();
        assert_eq!(c.annotations_for("pods").entries(), ["owner"]);
        assert!(c.labels_for("pods").is_empty());
    }

    #[test]
    fn a_wildcard_resource_takes_precedence_over_named_ones_as_in_ksm() {
        let c = config(&["--metric-labels-allowlist", "pods=[app],*=[team]"]).unwrap();
        assert_eq!(c.labels_for("pods").entries(), ["team"]);
        assert_eq!(c.labels_for("nodes").entries(), ["team"]);
    }

    #[test]
    fn malformed_allowlists_are_rejected_naming_flag_and_value() {
        for bad in [
            "pods",
            "pods=app",
            "pods=[app",
            "pods=[a],",
            "pods=[a] nodes=[b]",
            "pods=[*a*]",
        ] {
            let err = Args::try_parse_from([
                "kube-state-agent",
                "--node",
                "n",
                "--metric-labels-allowlist",
                bad,
            ])
            .unwrap_err()
            .to_string();
            assert!(err.contains("--metric-labels-allowlist"), "{bad}: {err}");
            assert!(err.contains(bad), "{bad}: {err}");
        }
        for bad in ["pod=[app]", "=[app]"] {
            let err = config(&["--metric-labels-allowlist", bad]).unwrap_err();
            assert!(
                err.to_string()
                    .contains("--metric-labels-allowlist: unknown resource"),
                "{err}"
            );
        }
    }

    #[test]
    fn metric_lists_compile_and_conflicts_are_refused() {
        let c = config(&["--metric-denylist", "kube_pod_info, ^kube_node_.*$"]).unwrap();
        assert!(!c.metrics.enables("kube_pod_info", false));
        assert!(!c.metrics.enables("kube_node_info", false));
        assert!(c.metrics.enables("kube_pod_status_phase", false));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let err = config(&["--metric-allowlist", "a", "--metric-denylist", "b"]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("--metric-allowlist") && msg.contains("--metric-denylist"),
            "{msg}"
        );
        let err = config(&["--metric-allowlist", "kube_(pod"]).unwrap_err();
        assert!(err.to_string().contains("\"kube_(pod\""), "{err}");
        let c = config(&["--metric-allowlist", "kube_typo_info"]).unwrap();
        assert_eq!(
            c.warnings,
            ["--metric-allowlist: \"kube_typo_info\" matches no metric family"]
        );
    }

    #[test]
    fn opt_in_list_accepts_names_and_regexes_of_opt_in_families_only() {
        let c = config(&["--metric-opt-in-list", "kube_pod_nodeselectors"]).unwrap();
        assert!(c.metrics.enables("kube_pod_nodeselectors", true));
        let c = config(&["--metric-opt-in-list", "kube_pod_node.*"]).unwrap();
        assert!(c.metrics.enables("kube_pod_nodeselectors", true));
        let err = config(&["--metric-opt-in-list", "kube_pod_info"]).unwrap_err();
        assert!(err.to_string().contains("--metric-opt-in-list"), "{err}");
    }

    #[test]
    fn namespace_lists_are_trimmed_and_deduplicated_in_their_order() {
        let c = config(&["--namespaces", "a, b,a,,"]).unwrap();
        assert_eq!(c.watch.namespaces.allow, ["a", "b"]);
        assert!(c.watch.namespaces.deny.is_empty());
        let c = config(&["--namespaces-denylist", "kube-system,b"]).unwrap();
        assert!(c.watch.namespaces.allow.is_empty());
        assert_eq!(c.watch.namespaces.deny, ["kube-system", "b"]);
        let c = config(&[]).unwrap();
        assert_eq!(c.watch.namespaces, NamespaceFilter::default());
    }

    #[test]
    fn both_namespace_lists_keep_the_allowed_namespaces_that_are_not_denied() {
        // kube-state-metrics: a watch per allowed namespace, each excluding the denied ones.
        let c = config(&["--namespaces", "a,b,c", "--namespaces-denylist", "b"]).unwrap();
        assert_eq!(c.watch.namespaces.allow, ["a", "c"]);
        let err = config(&["--namespaces", "a", "--namespaces-denylist", "a"]).unwrap_err();
        assert!(err.to_string().contains("--namespaces-denylist"), "{err}");
    }

    #[test]
    fn a_namespace_that_would_break_the_field_selector_is_refused_naming_the_flag() {
        for (flag, bad) in [
            ("--namespaces", "Upper"),
            ("--namespaces-denylist", "a=b"),
            ("--namespaces", "a-"),
            ("--namespaces-denylist", "a!b"),
        ] {
            let err = config(&[flag, bad]).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.starts_with(flag) && msg.contains(bad),
                "{flag} {bad}: {msg}"
            );
        }
    }

    #[test]
    fn shards_are_checked_and_each_shard_has_its_own_lease() {
        let c = config(&[]).unwrap();
        assert_eq!(c.watch.shard, None);
        assert_eq!(c.election.unwrap().name, "kube-state-agent");
        let c = config(&["--shard", "1", "--total-shards", "3"]).unwrap();
        assert_eq!(c.watch.shard, Some(Shard { index: 1, total: 3 }));
        assert_eq!(c.election.unwrap().name, "kube-state-agent-shard-1");
        for bad in [
            ["--shard", "3", "--total-shards", "3"],
            ["--shard", "0", "--total-shards", "0"],
        ] {
            let err = config(&bad).unwrap_err();
            assert!(err.to_string().contains("--shard"), "{err}");
            assert!(err.to_string().contains("--total-shards"), "{err}");
        }
    }

    #[test]
    fn autosharding_needs_both_flags_cluster_scope_and_no_explicit_shard() {
        let c = config(&["--scope=cluster", "--pod=ksa-1", "--pod-namespace=mon"]).unwrap();
        assert_eq!(
            c.autoshard,
            Some(AutoShard {
                pod: "ksa-1".into(),
                namespace: "mon".into()
            })
        );
        assert_eq!(c.watch.shard, None, "found at run time");
        assert_eq!(config(&["--scope=cluster"]).unwrap().autoshard, None);
        for (args, names) in [
            (
                &["--scope=cluster", "--pod=p"][..],
                &["--pod", "--pod-namespace"][..],
            ),
            (
                &["--scope=cluster", "--pod-namespace=n"],
                &["--pod-namespace", "--pod"],
            ),
            (
                &["--pod=p", "--pod-namespace=n"],
                &["--pod/--pod-namespace", "--scope=cluster"],
            ),
            (
                &[
                    "--scope=cluster",
                    "--pod=p",
                    "--pod-namespace=n",
                    "--total-shards=2",
                ],
                &["--shard", "--total-shards"],
            ),
            (
                &[
                    "--scope=cluster",
                    "--pod=p",
                    "--pod-namespace=n",
                    "--shard=1",
                ],
                &["--shard (1)"],
            ),
        ] {
            let err = config(args).unwrap_err().to_string();
            for name in names {
                assert!(err.contains(name), "{args:?}: {name} missing from {err}");
            }
        }
    }

    #[test]
    fn list_options_follow_their_flags() {
        let c = config(&[]).unwrap();
        assert!(!c.watch.use_apiserver_cache);
        assert_eq!(c.watch.object_limit, None);
        assert!(c.watch.lean);
        let c = config(&[
            "--use-apiserver-cache",
            "--object-limit",
            "100",
            "--lean-watches",
            "false",
        ])
        .unwrap();
        assert!(c.watch.use_apiserver_cache);
        assert_eq!(c.watch.object_limit, Some(100));
        assert!(!c.watch.lean);
        assert!(Args::try_parse_from(["x", "--object-limit", "-1"]).is_err());
    }

    #[test]
    fn tls_covers_both_ports_unless_the_telemetry_port_opts_out() {
        assert_eq!(config(&[]).unwrap().tls, None);
        let c = config(&["--tls-config", "/etc/ksa/web.yaml"]).unwrap();
        assert_eq!(
            c.tls,
            Some(Tls {
                file: "/etc/ksa/web.yaml".into(),
                telemetry: true
            })
        );
        let c = config(&["--tls-config", "web.yaml", "--telemetry-tls=false"]).unwrap();
        assert!(!c.tls.unwrap().telemetry);
        let c = config(&["--tls-config", ""]).unwrap();
        assert_eq!(c.tls, None, "an empty path is KSM's default: no TLS");
        let c = config(&["--telemetry-tls", "false"]).unwrap();
        assert_eq!(
            c.warnings,
            ["--telemetry-tls=false has no effect without --tls-config"]
        );
        assert!(Args::try_parse_from(["x", "--telemetry-tls", "maybe"]).is_err());
    }

    /// The rows of docs/flags.md's flag table: each row's `--flags` and its default cell.
    fn documented_flags() -> Vec<(Vec<String>, String)> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/flags.md");
        let text = std::fs::read_to_string(path).expect("docs/flags.md");
        let table = text.split("\n## ").next().expect("the flag section");
        table
            .lines()
            .filter(|l| l.starts_with("| `--"))
            .map(|line| {
                let cells: Vec<&str> = line.split(" | ").collect();
                let flags = cells[0]
                    .split('`')
                    .filter(|t| t.starts_with("--"))
                    .map(str::to_string)
                    .collect();
                (flags, cells[1].to_string())
            })
            .collect()
    }

    #[test]
    fn every_flag_of_help_is_documented_in_flags_md_with_its_default_and_back() {
        use clap::CommandFactory as _;
        let command = Args::command();
        let docs = documented_flags();
        let mut in_help = BTreeMap::new();
        for arg in command.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            in_help.insert(format!("--{long}"), arg);
        }
        let in_docs: Vec<&String> = docs.iter().flat_map(|(flags, _)| flags).collect();
        for flag in &in_docs {
            assert!(
                in_help.contains_key(flag.as_str()),
                "docs/flags.md documents {flag}, which --help does not have"
            );
        }
        for (flag, arg) in &in_help {
            let (_, default) = docs
                .iter()
                .find(|(flags, _)| flags.contains(flag))
                .unwrap_or_else(|| panic!("{flag} is in --help but not in docs/flags.md"));
            assert!(
                arg.get_help().is_some_and(|h| !h.to_string().is_empty()),
                "{flag} has no help text"
            );
            // The default the code applies is the one the docs state (true/false may be
            // written on/off).
            for value in arg.get_default_values() {
                let value = value.to_string_lossy();
                let spelled: Vec<String> = match value.as_ref() {
                    "true" => vec!["`true`".into(), "on".into()],
                    "false" => vec!["`false`".into(), "off".into()],
                    "" => vec!["empty".into(), "—".into()],
                    v => vec![format!("`{v}`")],
                };
                assert!(
                    spelled.iter().any(|s| default.contains(s)),
                    "{flag}: --help's default {value:?} is not docs/flags.md's {default:?}"
                );
            }
            if let Some(env) = arg.get_env() {
                let env = format!("${}", env.to_string_lossy());
                assert!(
                    default.contains(&env),
                    "{flag} reads {env}; docs/flags.md says {default:?}"
                );
            }
        }
    }

    #[test]
    fn durations_parse_and_zero_is_refused() {
        let c = config(&["--snapshot-interval", "250ms"]).unwrap();
        assert_eq!(c.snapshot_interval, Duration::from_millis(250));
        assert!(Args::try_parse_from(["x", "--snapshot-interval", "5h"]).is_err());
        let err = config(&["--snapshot-interval", "0ms"]).unwrap_err();
        assert!(err.to_string().contains("--snapshot-interval"), "{err}");
    }

    #[test]
    fn a_missing_custom_config_file_fails_the_start_unless_told_to_continue_without_it() {
        let missing = std::env::temp_dir().join("ksa-no-such-custom-config.yaml");
        let missing = missing.to_str().unwrap();
        let args = [
            "--scope=cluster",
            "--custom-resource-state-config-file",
            missing,
        ];
        let err = config(&args).unwrap_err();
        assert!(
            err.to_string()
                .contains("--custom-resource-state-config-file"),
            "{err}"
        );
        let mut continued = args.to_vec();
        continued.push("--continue-without-custom-resource-state-config-file");
        let c = config(&continued).unwrap();
        assert!(c.custom.is_none());
        assert!(
            c.warnings.iter().any(|w| w.contains(missing)),
            "{:?}",
            c.warnings
        );
        // A file that exists but does not compile still fails the start.
        let bad = std::env::temp_dir().join(format!("ksa-bad-custom-{}.yaml", std::process::id()));
        std::fs::write(&bad, "spec: {resources: [{metrics: 7}]}").unwrap();
        let bad_args = [
            "--scope=cluster",
            "--custom-resource-state-config-file",
            bad.to_str().unwrap(),
            "--continue-without-custom-resource-state-config-file",
        ];
        assert!(config(&bad_args).is_err());
        let _ = std::fs::remove_file(bad);
    }

    #[test]
    fn the_watch_timeout_is_whole_seconds_and_a_bad_one_is_refused_naming_the_flag() {
        assert_eq!(config(&[]).unwrap().watch.timeout_secs, Some(290));
        let c = config(&["--watch-timeout", "1m"]).unwrap();
        assert_eq!(c.watch.timeout_secs, Some(60));
        for bad in ["0s", "1500ms", "500ms"] {
            let err = config(&["--watch-timeout", bad]).unwrap_err();
            assert!(err.to_string().contains("--watch-timeout"), "{bad}: {err}");
        }
    }

    #[test]
    fn server_limits_default_to_ksms_and_zero_is_refused_naming_the_flag() {
        let c = config(&[]).unwrap();
        assert_eq!(c.server, ServerLimits::default());
        assert_eq!(c.server.read_header_timeout, Duration::from_secs(5));
        assert_eq!(c.server.idle_timeout, Duration::from_secs(300));
        let c = config(&[
            "--server-idle-timeout",
            "90s",
            "--server-max-connections",
            "8",
        ])
        .unwrap();
        assert_eq!(c.server.idle_timeout, Duration::from_secs(90));
        assert_eq!(c.server.max_connections, 8);
        for flag in [
            "--server-read-header-timeout",
            "--server-read-timeout",
            "--server-write-timeout",
            "--server-idle-timeout",
        ] {
            let err = config(&[flag, "0s"]).unwrap_err();
            assert!(err.to_string().contains(flag), "{err}");
        }
        let err = config(&["--server-max-connections", "0"]).unwrap_err();
        assert!(
            err.to_string().contains("--server-max-connections"),
            "{err}"
        );
    }
}
