//! The agent's own metrics and logs: tracing setup, and a [`Telemetry`] struct of handles in a
//! private `prometheus` registry, served on the telemetry port.
//!
//! Names start with `ksa_`, never `kube_` (reserved for the compatible families), except
//! kube-state-metrics' own self-metrics that mean the same here, kept as KSM spells them so its
//! mixin alerts and dashboards work: `kube_state_metrics_list_total`,
//! `kube_state_metrics_watch_total`, the sharding gauges `kube_state_metrics_shard_ordinal` /
//! `kube_state_metrics_total_shards`, and the three `--config` gauges
//! (`kube_state_metrics_config_hash`, `…_last_config_reload_successful`,
//! `…_last_config_reload_success_timestamp_seconds`). Labels are bounded: `resource`, `verb`,
//! `result`, `type`, `reason`, `listener` from a fixed set, `filename` (the one `--config`
//! path). No global registry. See [`Telemetry::new`].

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::snapshot::{BuildObserver, Snapshot};

/// Handles to every self-metric. Cheap to clone.
#[derive(Clone)]
pub struct Telemetry {
    registry: Registry,
    list_total: IntCounterVec,
    watch_total: IntCounterVec,
    api_requests: IntCounterVec,
    api_bytes: IntCounterVec,
    events: IntCounterVec,
    decode_errors: IntCounterVec,
    custom_sample_errors: IntCounterVec,
    watch_panics: IntCounterVec,
    watch_errors: IntCounterVec,
    over_object_limit: IntCounterVec,
    shard_ordinal: IntGaugeVec,
    total_shards: IntGauge,
    objects: IntGaugeVec,
    snapshot_builds: IntCounter,
    snapshot_build_seconds: Histogram,
    snapshot_bytes: IntGauge,
    snapshot_objects: IntGauge,
    ready: IntGauge,
    scrape_seconds: HistogramVec,
    http_request_seconds: HistogramVec,
    watches_active: IntGaugeVec,
    kinds_unserved: IntGaugeVec,
    custom_node_selectable: IntGaugeVec,
    leader: IntGauge,
    leader_candidate: IntGauge,
    leader_transitions: IntCounter,
    lease_renew_failures: IntCounter,
    config_reloads: IntCounterVec,
    config_hash: GaugeVec,
    config_reload_successful: GaugeVec,
    config_reload_success_time: GaugeVec,
    config_restart_required: IntGauge,
    auth_decisions: IntCounterVec,
    auth_reviews: IntCounterVec,
    auth_cache_hits: IntCounter,
    tls_reloads: IntCounterVec,
    tls_certificate_expiry: IntGauge,
    tls_handshake_errors: IntCounterVec,
    connections_closed: IntCounterVec,
}

/// Registers `metric` in `registry` and returns the handle [`Telemetry`] keeps (a clone of a
/// `prometheus` metric shares its values). Every self-metric is registered through here, so
/// a name, its HELP, labels and buckets read in one expression where the handle is declared.
fn register<M>(registry: &Registry, metric: prometheus::Result<M>) -> M
where
    M: prometheus::core::Collector + Clone + 'static,
{
    let metric = metric.expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    /// Registers every self-metric in a fresh registry.
    pub fn new() -> Telemetry {
        let r = Registry::new();
        register_process_and_build_info(&r);
        Telemetry {
            list_total: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "kube_state_metrics_list_total",
                        "Number of total resource list calls in kube-state-metrics",
                    ),
                    &["resource", "result"],
                ),
            ),
            watch_total: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "kube_state_metrics_watch_total",
                        "Number of total resource watch calls in kube-state-metrics",
                    ),
                    &["resource", "result"],
                ),
            ),
            api_requests: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "ksa_api_requests_total",
                        "Requests to the API server, by resource, verb and result.",
                    ),
                    &["resource", "verb", "result"],
                ),
            ),
            api_bytes: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "ksa_api_response_bytes_total",
                        "Response body bytes read from the API server as sent (compressed when gzip was negotiated).",
                    ),
                    &["resource", "verb"],
                ),
            ),
            events: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "ksa_watch_events_total",
                        "Objects received from watches, by resource and event type (listed, applied, deleted).",
                    ),
                    &["resource", "type"],
                ),
            ),
            decode_errors: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "ksa_decode_errors_total",
                        "Objects that could not be decoded; their rows are dropped and the watch goes on.",
                    ),
                    &["resource"],
                ),
            ),
            custom_sample_errors: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "ksa_custom_resource_sample_errors_total",
                        "Custom resource samples not exported because the configured path's value did not convert (logged at most once per object and metric per minute).",
                    ),
                    &["resource", "metric"],
                ),
            ),
            watch_panics: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "ksa_watch_panics_total",
                        "Watch tasks that panicked; the watch's rows are cleared and it restarts with backoff.",
                    ),
                    &["resource"],
                ),
            ),
            watch_errors: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "ksa_watch_errors_total",
                        "Watch stream errors, by resource and reason; the watch backs off and resumes.",
                    ),
                    &["resource", "reason"],
                ),
            ),
            over_object_limit: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "ksa_list_objects_over_limit_total",
                        "Listed objects dropped because the list held more than --object-limit objects.",
                    ),
                    &["resource"],
                ),
            ),
            shard_ordinal: register(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "kube_state_metrics_shard_ordinal",
                        "Current sharding ordinal/index of this instance (node agents: while leading its shard).",
                    ),
                    &["shard_ordinal"],
                ),
            ),
            total_shards: register(
                &r,
                IntGauge::new(
                    "kube_state_metrics_total_shards",
                    "Number of total shards this instance is aware of.",
                ),
            ),
            objects: register(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "ksa_objects",
                        "Objects whose rows are in the current snapshot, by resource.",
                    ),
                    &["resource"],
                ),
            ),
            snapshot_builds: register(
                &r,
                IntCounter::new("ksa_snapshot_builds_total", "Snapshots published."),
            ),
            snapshot_build_seconds: register(
                &r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "ksa_snapshot_build_seconds",
                        "Time to assemble and compress one snapshot.",
                    )
                    .buckets(vec![
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                    ]),
                ),
            ),
            snapshot_bytes: register(
                &r,
                IntGauge::new("ksa_snapshot_bytes", "Size of the current text exposition."),
            ),
            snapshot_objects: register(
                &r,
                IntGauge::new(
                    "ksa_snapshot_objects",
                    "Objects rendered into the current snapshot, all resources.",
                ),
            ),
            ready: register(
                &r,
                IntGauge::new(
                    "ksa_ready",
                    "1 once every enabled watch finished its first list.",
                ),
            ),
            scrape_seconds: register(
                &r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "ksa_scrape_duration_seconds",
                        "Time to answer one /metrics request, until the body is handed to the socket.",
                    )
                    .buckets(vec![
                        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05,
                    ]),
                    &["format", "encoding"],
                ),
            ),
            // kube-state-metrics' own histogram for its metrics handler (`pkg/app/server.go`,
            // `RunKubeStateMetrics`): same name, const label, label and default buckets.
            http_request_seconds: register(
                &r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "http_request_duration_seconds",
                        "A histogram of requests for kube-state-metrics metrics handler.",
                    )
                    .const_label("handler", "metrics")
                    .buckets(prometheus::DEFAULT_BUCKETS.to_vec()),
                    &["method"],
                ),
            ),
            watches_active: register(
                &r,
                IntGaugeVec::new(
                    Opts::new("ksa_watches_active", "Watches running now, by resource."),
                    &["resource"],
                ),
            ),
            kinds_unserved: register(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "ksa_kind_unserved",
                        "1 while the apiserver does not serve an enabled kind's API version.",
                    ),
                    &["resource"],
                ),
            ),
            custom_node_selectable: register(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "ksa_custom_resource_node_selectable",
                        "For a node-bound custom resource: 1 while the API server selects it on its node field (node agents watch their node's objects), 0 while the leader watches every object.",
                    ),
                    &["resource"],
                ),
            ),
            leader: register(
                &r,
                IntGauge::new(
                    "ksa_leader",
                    "1 while this agent holds the Lease and exports cluster-scope kinds.",
                ),
            ),
            leader_candidate: register(
                &r,
                IntGauge::new(
                    "ksa_leader_candidate",
                    "1 while this agent takes part in the election (its Node matches \
                     --leader-candidate-selector, or none is set); 0 while it makes no Lease \
                     request.",
                ),
            ),
            leader_transitions: register(
                &r,
                IntCounter::new(
                    "ksa_leader_transitions_total",
                    "Times this agent started or stopped leading.",
                ),
            ),
            lease_renew_failures: register(
                &r,
                IntCounter::new(
                    "ksa_lease_renew_failures_total",
                    "Failed attempts to renew the held Lease.",
                ),
            ),
            config_reloads: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "ksa_config_reloads_total",
                        "Reloads of the --config file after it changed, by result (success, failure).",
                    ),
                    &["result"],
                ),
            ),
            config_hash: register(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "kube_state_metrics_config_hash",
                        "Hash of the currently loaded configuration.",
                    ),
                    &["type", "filename"],
                ),
            ),
            config_reload_successful: register(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "kube_state_metrics_last_config_reload_successful",
                        "Whether the last configuration reload attempt was successful.",
                    ),
                    &["type", "filename"],
                ),
            ),
            config_reload_success_time: register(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "kube_state_metrics_last_config_reload_success_timestamp_seconds",
                        "Timestamp of the last successful configuration reload.",
                    ),
                    &["type", "filename"],
                ),
            ),
            config_restart_required: register(
                &r,
                IntGauge::new(
                    "ksa_config_restart_required",
                    "1 while the --config file changes settings that only take effect after a restart.",
                ),
            ),
            auth_decisions: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "ksa_auth_decisions_total",
                        "Scrapes of /metrics under --auth-filter, by decision (full, tenant, unauthenticated, forbidden, error).",
                    ),
                    &["result"],
                ),
            ),
            auth_reviews: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "ksa_auth_reviews_total",
                        "TokenReviews and SubjectAccessReviews sent to the API server, by review and result.",
                    ),
                    &["review", "result"],
                ),
            ),
            auth_cache_hits: register(
                &r,
                IntCounter::new(
                    "ksa_auth_cache_hits_total",
                    "Scrape decisions answered from the per-token cache, without asking the API server.",
                ),
            ),
            tls_reloads: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "ksa_tls_reloads_total",
                        "Reloads of the --tls-config certificate, key or client CA after their files changed, by result (success, failure: the previous one is kept).",
                    ),
                    &["result"],
                ),
            ),
            tls_certificate_expiry: register(
                &r,
                IntGauge::new(
                    "ksa_tls_certificate_expiry_timestamp_seconds",
                    "When the served TLS certificate expires (its notAfter), in Unix seconds.",
                ),
            ),
            tls_handshake_errors: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "ksa_tls_handshake_errors_total",
                        "TLS handshakes that failed or timed out, by listener (metrics, telemetry) and reason (error, timeout).",
                    ),
                    &["listener", "reason"],
                ),
            ),
            connections_closed: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "ksa_http_connections_closed_total",
                        "Connections the server closed on its own, by listener (metrics, telemetry) and reason (limit, read_header_timeout, idle_timeout, write_timeout).",
                    ),
                    &["listener", "reason"],
                ),
            ),
            registry: r,
        }
    }

    /// Counts one `/metrics` decision under `--auth-filter`.
    pub fn auth_decision(&self, result: &'static str) {
        self.auth_decisions.with_label_values(&[result]).inc();
    }

    /// Counts one review sent to the API server (`tokenreview`, `subjectaccessreview`).
    pub fn auth_review(&self, review: &'static str, ok: bool) {
        let result = if ok { "success" } else { "error" };
        self.auth_reviews.with_label_values(&[review, result]).inc();
    }

    /// Counts one decision served from the cache.
    pub fn auth_cache_hit(&self) {
        self.auth_cache_hits.inc();
    }

    /// Counts one API request of `resource` (the plural); lists and watches also count in
    /// KSM's own counters, under `ksm_resource` (KSM's informer type, `*v1.Pod`).
    pub fn api_request(&self, resource: &str, ksm_resource: &str, verb: &str, ok: bool) {
        let result = if ok { "success" } else { "error" };
        self.api_requests
            .with_label_values(&[resource, verb, result])
            .inc();
        match verb {
            "list" => self
                .list_total
                .with_label_values(&[ksm_resource, result])
                .inc(),
            "watch" => self
                .watch_total
                .with_label_values(&[ksm_resource, result])
                .inc(),
            _ => {}
        }
    }

    /// The counter a response body of `resource`/`verb` adds its bytes to.
    pub fn api_bytes_counter(&self, resource: &str, verb: &str) -> IntCounter {
        self.api_bytes.with_label_values(&[resource, verb])
    }

    /// Counts one object received by a watch (`listed`, `applied`, `deleted`).
    pub fn event(&self, resource: &str, kind: &str) {
        self.events.with_label_values(&[resource, kind]).inc();
    }

    /// Counts one object that did not decode.
    pub fn decode_error(&self, resource: &str) {
        self.decode_errors.with_label_values(&[resource]).inc();
    }

    /// Counts one sample of custom resource `resource`'s family `metric` that was not
    /// exported (its value did not convert).
    pub fn custom_sample_error(&self, resource: &str, metric: &str) {
        self.custom_sample_errors
            .with_label_values(&[resource, metric])
            .inc();
    }

    /// Counts one watch task of `resource` that panicked.
    pub fn watch_panic(&self, resource: &str) {
        self.watch_panics.with_label_values(&[resource]).inc();
    }

    /// Counts one watch error, `reason` from a fixed set.
    pub fn watch_error(&self, resource: &str, reason: &'static str) {
        self.watch_errors
            .with_label_values(&[resource, reason])
            .inc();
    }

    /// Counts one listed object dropped by `--object-limit`.
    pub fn over_object_limit(&self, resource: &str) {
        self.over_object_limit.with_label_values(&[resource]).inc();
    }

    /// The shard configuration, as kube-state-metrics reports it so its mixin's sharding
    /// alerts work: the total always, the ordinal only while this instance serves its shard.
    pub fn shard(&self, total: u32, serving: Option<u32>) {
        self.total_shards.set(i64::from(total));
        self.shard_ordinal.reset();
        if let Some(ordinal) = serving {
            self.shard_ordinal
                .with_label_values(&[&ordinal.to_string()])
                .set(i64::from(ordinal));
        }
    }

    /// Observes one scrape.
    pub fn scrape(&self, format: &'static str, encoding: &'static str, took: Duration) {
        self.scrape_seconds
            .with_label_values(&[format, encoding])
            .observe(took.as_secs_f64());
    }

    /// Observes one answer of the `/metrics` handler, whatever its status, under KSM's
    /// `http_request_duration_seconds{handler="metrics"}`; `method` is lowercase, as
    /// client_golang's `promhttp` writes it.
    pub fn metrics_request(&self, method: &str, took: Duration) {
        self.http_request_seconds
            .with_label_values(&[method])
            .observe(took.as_secs_f64());
    }

    /// A watch of `resource` started (+1) or stopped (-1).
    ///
    /// A start also exports the kind's decode-error counter and unserved gauge at 0 if they
    /// are not there yet: Prometheus' `increase()` needs a sample before the first error, or
    /// the one bad object a decode-error alert exists for would never count, and a dashboard
    /// shows 0 rather than nothing for a healthy kind.
    pub fn watch_active(&self, resource: &str, delta: i64) {
        self.watches_active
            .with_label_values(&[resource])
            .add(delta);
        if delta > 0 {
            self.decode_errors.with_label_values(&[resource]);
            self.watch_panics.with_label_values(&[resource]);
            self.kinds_unserved.with_label_values(&[resource]);
        }
    }

    /// Whether the apiserver serves `resource`'s API.
    pub fn kind_unserved(&self, resource: &str, unserved: bool) {
        self.kinds_unserved
            .with_label_values(&[resource])
            .set(i64::from(unserved));
    }

    /// Whether the API server selects node-bound custom resource `resource` on its node
    /// field, as this agent's last one-object list found.
    pub fn custom_node_selectable(&self, resource: &str, selectable: bool) {
        self.custom_node_selectable
            .with_label_values(&[resource])
            .set(i64::from(selectable));
    }

    /// Leadership changed.
    pub fn leader_changed(&self, leading: bool) {
        self.leader.set(i64::from(leading));
        self.leader_transitions.inc();
    }

    /// Sets the leader gauge without counting a transition: after a re-sharded node agent
    /// moved from one shard's Lease to another's, whose two elections both reported.
    pub fn leader_is(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Whether this agent takes part in the election now.
    pub fn leader_candidate(&self, candidate: bool) {
        self.leader_candidate.set(i64::from(candidate));
    }

    /// A renewal of the held Lease failed.
    pub fn lease_renew_failure(&self) {
        self.lease_renew_failures.inc();
    }

    /// The `--config` file `path` holding `contents` was loaded (at start, or by a reload when
    /// `reload`); sets KSM's config gauges as its `RunKubeStateMetrics` does.
    pub fn config_loaded(&self, path: &Path, contents: &[u8], reload: bool) {
        self.file_loaded("config", path, contents);
        if reload {
            self.config_reloads.with_label_values(&["success"]).inc();
        }
    }

    /// The custom resource state config file `path` holding `contents` was loaded: KSM's
    /// config gauges under `type="customresourceconfig"`. A reload is counted by
    /// [`Telemetry::config_loaded`] when there is a `--config` file, else when `reload`.
    pub fn custom_config_loaded(&self, path: &Path, contents: &[u8], reload: bool) {
        self.file_loaded("customresourceconfig", path, contents);
        if reload {
            self.config_reloads.with_label_values(&["success"]).inc();
        }
    }

    fn file_loaded(&self, kind: &str, path: &Path, contents: &[u8]) {
        let labels = [kind, &path.display().to_string()];
        self.config_reload_successful
            .with_label_values(&labels)
            .set(1.0);
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        self.config_reload_success_time
            .with_label_values(&labels)
            .set(now);
        self.config_hash
            .with_label_values(&labels)
            .set(md5_as_metric_value(contents));
    }

    /// A reload of the `--config` file at `path` failed; the running config stays.
    pub fn config_reload_failed(&self, path: &Path) {
        self.config_reload_successful
            .with_label_values(&["config", &path.display().to_string()])
            .set(0.0);
        self.config_reloads.with_label_values(&["failure"]).inc();
    }

    /// A reload after the custom resource state config file at `path` changed failed; the
    /// running config stays.
    pub fn custom_config_reload_failed(&self, path: &Path) {
        self.config_reload_successful
            .with_label_values(&["customresourceconfig", &path.display().to_string()])
            .set(0.0);
        self.config_reloads.with_label_values(&["failure"]).inc();
    }

    /// Whether the loaded `--config` file asks for changes that need a restart.
    pub fn config_restart_required(&self, required: bool) {
        self.config_restart_required.set(i64::from(required));
    }

    /// A changed TLS certificate, key or client CA was published (`ok`) or refused.
    pub fn tls_reload(&self, ok: bool) {
        self.tls_reloads
            .with_label_values(&[if ok { "success" } else { "failure" }])
            .inc();
    }

    /// The served TLS certificate's notAfter, in Unix seconds (0 when it could not be read).
    pub fn tls_certificate_expiry(&self, not_after: Option<i64>) {
        self.tls_certificate_expiry.set(not_after.unwrap_or(0));
    }

    /// A TLS handshake on `listener` failed; `reason` is `error` or `timeout`.
    pub fn tls_handshake_error(&self, listener: &'static str, reason: &'static str) {
        self.tls_handshake_errors
            .with_label_values(&[listener, reason])
            .inc();
    }

    /// The server closed a connection on `listener` for `reason` (a limit or a timeout).
    pub fn connection_closed(&self, listener: &'static str, reason: &'static str) {
        self.connections_closed
            .with_label_values(&[listener, reason])
            .inc();
    }

    /// Sets the per-resource object gauge.
    pub fn objects(&self, resource: &str, n: usize) {
        self.objects
            .with_label_values(&[resource])
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The self-metrics in the text format.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("encoding to a Vec cannot fail");
        out
    }

    /// The value of a counter or gauge by name and labels, for tests.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.registry
            .gather()
            .into_iter()
            .find(|f| f.name() == name)
            .and_then(|f| {
                let kind = f.get_field_type();
                f.get_metric()
                    .iter()
                    .find(|m| {
                        labels.iter().all(|(k, v)| {
                            m.get_label()
                                .iter()
                                .any(|l| l.name() == *k && l.value() == *v)
                        })
                    })
                    .map(|m| match kind {
                        prometheus::proto::MetricType::COUNTER => m.get_counter().get_value(),
                        // A histogram's value, for tests, is its sample count.
                        prometheus::proto::MetricType::HISTOGRAM => {
                            m.get_histogram().get_sample_count() as f64
                        }
                        _ => m.get_gauge().get_value(),
                    })
            })
    }
}

/// What `ksa_build_info` reports: the crate version, and what `build.rs` found at build time.
pub const BUILD_INFO: [(&str, &str); 6] = [
    ("version", env!("CARGO_PKG_VERSION")),
    ("revision", env!("KSA_BUILD_REVISION")),
    ("branch", env!("KSA_BUILD_BRANCH")),
    ("rustversion", env!("KSA_BUILD_RUSTC")),
    ("os", std::env::consts::OS),
    ("arch", std::env::consts::ARCH),
];

/// The series every Prometheus exporter has: the standard `process_*` metrics (CPU seconds,
/// resident and virtual memory, open and maximum file descriptors, start time, threads; Linux
/// only, as client_golang's process collector reads /proc too), and a build-info gauge with the
/// labels of client_golang's version collector where they apply (`version`, `revision`,
/// `branch`, and `rustversion`/`os`/`arch` for `goversion`/`goos`/`goarch`). KSM names its
/// own `kube_state_metrics_build_info`; ours is `ksa_build_info`, because its `version` is
/// this agent's, not a KSM release a dashboard could compare with.
fn register_process_and_build_info(r: &Registry) {
    // A collector that reads /proc at each scrape, not a handle: nothing to keep, so it is
    // the one registration that does not go through `register`.
    #[cfg(target_os = "linux")]
    r.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))
    .expect("unique metric");
    r.register(Box::new(RuntimeTasks::new()))
        .expect("unique metric");
    let labels: Vec<&str> = BUILD_INFO.iter().map(|(k, _)| *k).collect();
    let values: Vec<&str> = BUILD_INFO.iter().map(|(_, v)| *v).collect();
    let build_info = register(
        r,
        IntGaugeVec::new(
            Opts::new(
                "ksa_build_info",
                "A metric with a constant '1' value labeled by version, revision, branch, rustversion, os and arch from which kube-state-agent was built.",
            ),
            &labels,
        ),
    );
    build_info.with_label_values(&values).set(1);
}

/// `ksa_runtime_alive_tasks`: the async runtime's live tasks, read at each scrape (from the
/// runtime that serves it). Every watch, connection and timer is a task, so a count that keeps
/// growing under a steady load is a leak; `scripts/soak` watches it.
struct RuntimeTasks {
    alive: IntGauge,
}

impl RuntimeTasks {
    fn new() -> RuntimeTasks {
        RuntimeTasks {
            alive: IntGauge::new(
                "ksa_runtime_alive_tasks",
                "Tasks alive in the agent's async runtime (watches, connections, timers).",
            )
            .expect("valid metric"),
        }
    }
}

impl prometheus::core::Collector for RuntimeTasks {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.alive.desc()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let alive = runtime.metrics().num_alive_tasks();
                self.alive.set(i64::try_from(alive).unwrap_or(i64::MAX));
                self.alive.collect()
            }
            // Gathered outside a runtime (a unit test): no figure to give.
            Err(_) => Vec::new(),
        }
    }
}

/// KSM's `md5HashAsMetricValue`: the first 48 bits of the MD5 sum, little-endian, as a float
/// (a float64 holds 53 bits exactly).
fn md5_as_metric_value(data: &[u8]) -> f64 {
    use md5::Digest as _;
    let sum = md5::Md5::digest(data);
    let mut bytes = [0u8; 8];
    bytes[..6].copy_from_slice(&sum[..6]);
    u64::from_le_bytes(bytes) as f64
}

/// Records each snapshot build.
pub struct SnapshotTelemetry {
    telemetry: Telemetry,
}

impl SnapshotTelemetry {
    /// Reports builds into `telemetry`.
    pub fn new(telemetry: Telemetry) -> Arc<SnapshotTelemetry> {
        Arc::new(SnapshotTelemetry { telemetry })
    }
}

impl BuildObserver for SnapshotTelemetry {
    fn built(&self, snapshot: &Snapshot, took: Duration, text_bytes: usize) {
        let t = &self.telemetry;
        t.snapshot_builds.inc();
        t.snapshot_build_seconds.observe(took.as_secs_f64());
        t.snapshot_bytes
            .set(i64::try_from(text_bytes).unwrap_or(i64::MAX));
        t.snapshot_objects
            .set(i64::try_from(snapshot.objects()).unwrap_or(i64::MAX));
        t.ready.set(i64::from(snapshot.is_ready()));
        for (resource, n) in snapshot.objects_by_resource() {
            t.objects(resource, *n);
        }
    }
}

/// Installs the global tracing subscriber: level from `RUST_LOG` (see [`filter_directives`]),
/// text or JSON lines on stderr, coloured only as [`use_colour`] decides.
pub fn init_tracing(json: bool) {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let directives = filter_directives(std::env::var("RUST_LOG").ok().as_deref());
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG));
    let colour = use_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour && !json)
        .with_writer(std::io::stderr);
    // A second init (tests) is not an error worth reporting.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The filter without `RUST_LOG`.
const DEFAULT_LOG: &str = "info";

/// kube-runtime's watcher logs each 403 at warn (and every other error at debug) with neither
/// the kind nor the watch target, right before the agent logs the same error with both. It is
/// raised to `error` so each watch error appears once, unless `RUST_LOG` names `kube_runtime`
/// (`RUST_LOG=info,kube_runtime=debug` shows kube's own lines again).
const KUBE_WATCHER_QUIET: &str = "kube_runtime::watcher=error";

/// The `EnvFilter` directives for a `RUST_LOG` value (`None` or empty: [`DEFAULT_LOG`]), with
/// [`KUBE_WATCHER_QUIET`] appended unless the value mentions `kube_runtime`.
pub fn filter_directives(rust_log: Option<&str>) -> String {
    let given = rust_log.map(str::trim).filter(|s| !s.is_empty());
    match given {
        Some(v) if v.contains("kube_runtime") => v.to_string(),
        Some(v) => format!("{v},{KUBE_WATCHER_QUIET}"),
        None => format!("{DEFAULT_LOG},{KUBE_WATCHER_QUIET}"),
    }
}

/// Whether text logs carry ANSI colours: only on a terminal, and never when `NO_COLOR` is set
/// to a non-empty value (<https://no-color.org>). A DaemonSet's stderr is a pipe to the
/// container runtime, so its logs reach collectors without escape codes.
pub fn use_colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A telemetry whose every labelled family has one series, so that its exposition shows
    /// every self-metric (a vector without a series is not exposed).
    fn every_metric_touched() -> Telemetry {
        let t = Telemetry::new();
        let took = Duration::from_millis(3);
        t.api_request("pods", "*v1.Pod", "list", true);
        t.api_request("pods", "*v1.Pod", "watch", false);
        t.api_bytes_counter("pods", "list").inc_by(100);
        t.event("pods", "applied");
        t.decode_error("pods");
        t.watch_panic("pods");
        t.watch_error("pods", "gone");
        t.over_object_limit("pods");
        t.shard(2, Some(1));
        t.scrape("text", "gzip", took);
        t.metrics_request("get", took);
        t.watch_active("pods", 1);
        t.kind_unserved("leases", true);
        t.leader_changed(true);
        t.leader_candidate(true);
        t.lease_renew_failure();
        t.config_loaded(Path::new("/etc/ksa/config.yaml"), b"a: 1", true);
        t.config_reload_failed(Path::new("/etc/ksa/config.yaml"));
        t.config_restart_required(true);
        t.tls_reload(true);
        t.tls_certificate_expiry(Some(1_800_000_000));
        t.tls_handshake_error("metrics", "timeout");
        t.connection_closed("metrics", "idle_timeout");
        t.objects("pods", 3);
        t.auth_decision("full");
        t.auth_review("tokenreview", true);
        t.auth_cache_hit();
        t.custom_sample_error("widgets", "kube_customresource_size");
        t
    }

    /// Dashboards, alerts (kube-state-metrics' mixin among them) and users' queries depend on
    /// the self-metrics' names, labels, HELP and types: the exposition of every self-metric must
    /// match `tests/data/telemetry.txt` line by line, sample values aside (and the label values
    /// of `ksa_build_info`, which name the build). `UPDATE_GOLDEN=1` rewrites the file.
    #[test]
    fn every_self_metric_keeps_its_name_labels_help_and_type() {
        let text = String::from_utf8(every_metric_touched().encode()).unwrap();
        let mut got = String::new();
        for line in text.lines() {
            let shape = if line.starts_with('#') {
                line
            } else if line.starts_with("ksa_build_info{") {
                "ksa_build_info{version,revision,branch,rustversion,os,arch}"
            } else {
                line.rsplit_once(' ')
                    .map_or(line, |(series, _value)| series)
            };
            got.push_str(shape);
            got.push('\n');
        }
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/telemetry.txt");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap();
        assert!(want.contains("# TYPE kube_state_metrics_list_total counter"));
        if got != want {
            let diff = similar::TextDiff::from_lines(&want, &got);
            panic!(
                "the self-metrics changed (-{} +now):\n{}",
                path.display(),
                diff.unified_diff()
            );
        }
    }

    #[test]
    fn process_metrics_and_build_info_are_exported() {
        let text = String::from_utf8(Telemetry::new().encode()).unwrap();
        #[cfg(target_os = "linux")]
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
        ] {
            assert!(
                text.contains(&format!("\n{name} ")),
                "{name} missing:\n{text}"
            );
        }
        let line = text
            .lines()
            .find(|l| l.starts_with("ksa_build_info{"))
            .expect("ksa_build_info");
        assert!(line.ends_with("} 1"), "{line}");
        for (k, v) in BUILD_INFO {
            assert!(!v.is_empty(), "{k} is empty");
            assert!(line.contains(&format!("{k}=\"{v}\"")), "{line}");
        }
        assert!(BUILD_INFO[3].1.starts_with("rustc "), "{:?}", BUILD_INFO[3]);
    }

    #[tokio::test]
    async fn live_tasks_are_counted_when_gathered_in_a_runtime() {
        let t = Telemetry::new();
        let before = t.value("ksa_runtime_alive_tasks", &[]).expect("gathered");
        let parked: Vec<_> = (0..3)
            .map(|_| tokio::spawn(futures::future::pending::<()>()))
            .collect();
        assert_eq!(t.value("ksa_runtime_alive_tasks", &[]), Some(before + 3.0));
        for task in &parked {
            task.abort();
        }
        for task in parked {
            let _ = task.await;
        }
        assert_eq!(t.value("ksa_runtime_alive_tasks", &[]), Some(before));
    }

    #[test]
    fn list_and_watch_counters_carry_ksms_resource_label() {
        let t = Telemetry::new();
        t.api_request("deployments", "*v1.Deployment", "list", true);
        t.api_request("deployments", "*v1.Deployment", "watch", false);
        t.api_request("leases", "leases", "get", true);
        let list = [("resource", "*v1.Deployment"), ("result", "success")];
        assert_eq!(t.value("kube_state_metrics_list_total", &list), Some(1.0));
        let watch = [("resource", "*v1.Deployment"), ("result", "error")];
        assert_eq!(t.value("kube_state_metrics_watch_total", &watch), Some(1.0));
        let ours = [("resource", "deployments"), ("verb", "list")];
        assert_eq!(t.value("ksa_api_requests_total", &ours), Some(1.0));
    }

    #[test]
    fn colour_is_used_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(use_colour(true, None));
        assert!(!use_colour(false, None), "a pipe gets no escape codes");
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(
            use_colour(true, Some(OsStr::new(""))),
            "an empty NO_COLOR does not count (no-color.org)"
        );
    }

    #[test]
    fn kubes_watcher_is_quieted_unless_rust_log_names_it() {
        assert_eq!(filter_directives(None), "info,kube_runtime::watcher=error");
        assert_eq!(
            filter_directives(Some("  ")),
            "info,kube_runtime::watcher=error"
        );
        assert_eq!(
            filter_directives(Some("debug")),
            "debug,kube_runtime::watcher=error"
        );
        assert_eq!(
            filter_directives(Some("info,kube_runtime=debug")),
            "info,kube_runtime=debug"
        );
        for d in [None, Some("debug"), Some("info,kube_runtime=trace")] {
            tracing_subscriber::EnvFilter::try_new(filter_directives(d)).expect("valid filter");
        }
    }

    #[test]
    fn the_shard_ordinal_is_reported_only_while_serving() {
        let t = Telemetry::new();
        t.shard(3, Some(2));
        assert_eq!(t.value("kube_state_metrics_total_shards", &[]), Some(3.0));
        assert_eq!(
            t.value(
                "kube_state_metrics_shard_ordinal",
                &[("shard_ordinal", "2")]
            ),
            Some(2.0)
        );
        t.shard(3, None);
        assert_eq!(t.value("kube_state_metrics_total_shards", &[]), Some(3.0));
        assert_eq!(t.value("kube_state_metrics_shard_ordinal", &[]), None);
    }

    #[test]
    fn a_started_watch_exports_its_kinds_error_counter_and_unserved_gauge_at_zero() {
        let t = Telemetry::new();
        let pods = [("resource", "pods")];
        assert_eq!(t.value("ksa_decode_errors_total", &pods), None);
        t.watch_active("pods", 1);
        assert_eq!(t.value("ksa_decode_errors_total", &pods), Some(0.0));
        assert_eq!(t.value("ksa_kind_unserved", &pods), Some(0.0));
        t.decode_error("pods");
        t.kind_unserved("pods", true);
        // A second watch of the same kind (another namespace) keeps what the first reported.
        t.watch_active("pods", 1);
        assert_eq!(t.value("ksa_decode_errors_total", &pods), Some(1.0));
        assert_eq!(t.value("ksa_kind_unserved", &pods), Some(1.0));
        t.watch_active("pods", -1);
        assert_eq!(t.value("ksa_watches_active", &pods), Some(1.0));
    }

    #[test]
    fn config_gauges_follow_ksm() {
        // md5("") = d41d8cd98f00b204…; bytes d4 1d 8c d9 8f 00 read little-endian.
        assert_eq!(md5_as_metric_value(b""), 0x008f_d98c_1dd4_u64 as f64);
        let t = Telemetry::new();
        let path = Path::new("/etc/ksa/config.yaml");
        let labels = [("type", "config"), ("filename", "/etc/ksa/config.yaml")];
        t.config_loaded(path, b"", false);
        assert_eq!(
            t.value("kube_state_metrics_last_config_reload_successful", &labels),
            Some(1.0)
        );
        assert_eq!(
            t.value("kube_state_metrics_config_hash", &labels),
            Some(md5_as_metric_value(b""))
        );
        assert_eq!(
            t.value("ksa_config_reloads_total", &[("result", "success")]),
            None
        );
        t.config_reload_failed(path);
        assert_eq!(
            t.value("kube_state_metrics_last_config_reload_successful", &labels),
            Some(0.0)
        );
        assert_eq!(
            t.value("ksa_config_reloads_total", &[("result", "failure")]),
            Some(1.0)
        );
    }
}
