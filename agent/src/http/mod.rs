//! The HTTP edge: `/metrics` from the published snapshot, health and readiness, an index page,
//! and the self-metrics router for the telemetry port; with `--auth-filter`, the [`auth`]
//! layer in front of `/metrics`.
//!
//! A scrape is an atomic load of the current snapshot and a write of its shared bytes: it never
//! waits for event processing, and the gzip body it may send was compressed when the snapshot
//! was built. This module sees only the [`Published`] handle and [`Telemetry`]: never the store,
//! the resources or the API client. See [`router`].
//!
//! Submodules: [`serve`] (the accept loop both ports share, plain or TLS) and [`tls`]
//! (`--tls-config`: exporter-toolkit's web config, certificates that reload).

pub mod serve;
pub mod tls;

pub use serve::ServerLimits;

pub mod auth;
pub mod review;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};

use crate::exposition::Format;
use crate::leader::ElectionRunning;
use crate::snapshot::{Namespaces, Published};
use crate::telemetry::Telemetry;

const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long after start `/metrics` answers 503 while no complete snapshot exists yet.
///
/// Why 503 and not an empty or partial 200: Prometheus treats a failed scrape like an empty
/// one for staleness (every series of the previous scrape of that target gets a stale
/// marker either way), so neither answer keeps the last values alive across a restart. What
/// differs is what gets recorded. An empty or partial 200 is stored as the cluster's state:
/// `up` is 1, `count(kube_pod_info)` drops to a fraction, `absent()` alerts fire and recording
/// rules write wrong sums for that instant. A 503 is recorded as what it is, `up=0` for one or
/// two scrapes, and the first complete snapshot follows. Once a complete snapshot was served
/// the agent never goes back to 503 (a new leader's kinds appear when listed).
///
/// The grace is bounded so that a kind that can never list (RBAC forbids it) does not hide
/// every other series forever: after it, the partial snapshot is served, as before the first
/// list finished in earlier versions, and `/readyz` stays 503 to flag it.
pub const FIRST_SNAPSHOT_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// `Retry-After` of the 503 before the first complete snapshot, in seconds. Prometheus does
/// not read it (it scrapes at its interval); other clients may.
const FIRST_SNAPSHOT_RETRY_AFTER: &str = "5";
const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The current snapshot.
    pub published: Published,
    /// Self-metrics.
    pub telemetry: Telemetry,
    /// `--auth-filter`: who may scrape what. `None`: everyone sees everything.
    pub auth: Option<Arc<auth::Authorizer>>,
    /// Whether the leader election runs (always, without one).
    pub election: ElectionRunning,
}

/// The main router: `/metrics`, `/healthz`, `/livez`, `/readyz`, `/`. With an authorizer,
/// `/metrics` answers only authorized scrapes; the probes and the index stay open.
pub fn router(state: AppState) -> Router {
    let metrics = match &state.auth {
        Some(authorizer) => get(metrics).route_layer(axum::middleware::from_fn_with_state(
            authorizer.clone(),
            auth::authenticate,
        )),
        None => get(metrics),
    };
    Router::new()
        .route("/metrics", metrics)
        .route("/healthz", get(ok))
        .route("/livez", get(ok))
        .route("/readyz", get(readyz))
        .route("/", get(index))
        .with_state(state)
}

/// The telemetry router: the agent's own `/metrics`, plus `/healthz` and `/readyz`.
pub fn telemetry_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(self_metrics))
        .route("/healthz", get(ok))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// The resources named by every `key=a,b` parameter of a query, as kube-state-metrics'
/// `parseResources` (`pkg/metricshandler`) reads them: repeated parameters add up, entries are
/// trimmed and empty ones dropped; `None` when the parameter is absent. A parameter present but
/// naming nothing (`?resources=`) selects nothing.
fn resources_param<'a>(query: &'a [(String, String)], key: &str) -> Option<Vec<&'a str>> {
    let mut found = None;
    for (_, v) in query.iter().filter(|(k, _)| k == key) {
        found
            .get_or_insert_with(Vec::new)
            .extend(v.split(',').map(str::trim).filter(|r| !r.is_empty()));
    }
    found
}

/// `/metrics`: the snapshot's body, or a view of it.
///
/// The view is what the [`auth`] layer granted (everything without `--auth-filter`), narrowed
/// by `?namespace=a,b` (never widened: a namespace outside the grant adds nothing) and by
/// `?resources=`/`?exclude_resources=`. Every form is joined from the snapshot's pieces.
async fn metrics(
    State(state): State<AppState>,
    granted: Option<Extension<Namespaces>>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let snapshot = state.published.load();
    if !snapshot.is_ready()
        && !state.published.was_ever_ready()
        && state.published.age() < FIRST_SNAPSHOT_GRACE
    {
        state.telemetry.metrics_request("get", started.elapsed());
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, FIRST_SNAPSHOT_RETRY_AFTER)],
            "not ready: the first lists have not finished\n",
        )
            .into_response();
    }
    let format = negotiate_format(headers.get(header::ACCEPT));
    let gzip = accepts_gzip(headers.get(header::ACCEPT_ENCODING));
    let include = resources_param(&query, "resources");
    let exclude = resources_param(&query, "exclude_resources");
    let granted = granted.map_or(Namespaces::All, |Extension(n)| n);
    let namespaces = match resources_param(&query, "namespace") {
        Some(requested) => granted.narrow(requested),
        None => granted,
    };
    let body = if include.is_none() && exclude.is_none() && namespaces == Namespaces::All {
        snapshot.body(format, gzip)
    } else {
        let keep = |r: &str| {
            include.as_ref().is_none_or(|i| i.contains(&r))
                && exclude.as_ref().is_none_or(|e| !e.contains(&r))
        };
        snapshot.view(format, gzip, &keep, &namespaces)
    };
    let mut response = axum::body::Body::new(body.chunks.into_http_body()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(match format {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }),
    );
    if body.gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Encoding"),
    );
    state.telemetry.scrape(
        match format {
            Format::Text => "text",
            Format::OpenMetrics => "openmetrics",
        },
        if body.gzip { "gzip" } else { "identity" },
        started.elapsed(),
    );
    state.telemetry.metrics_request("get", started.elapsed());
    response
}

/// OpenMetrics when the scraper ranks it strictly above the text format, like Prometheus'
/// default `Accept`; text otherwise.
pub fn negotiate_format(accept: Option<&HeaderValue>) -> Format {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
        return Format::Text;
    };
    let mut om_q: f32 = 0.0;
    let mut text_q: f32 = 0.0;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "application/openmetrics-text" => om_q = om_q.max(q),
            "text/plain" | "text/*" | "*/*" => text_q = text_q.max(q),
            _ => {}
        }
    }
    if om_q > 0.0 && om_q > text_q {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// Whether `Accept-Encoding` allows gzip (not `gzip;q=0`).
pub fn accepts_gzip(accept_encoding: Option<&HeaderValue>) -> bool {
    let Some(v) = accept_encoding.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    v.split(',').any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or("");
        let q = parts
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        (name.eq_ignore_ascii_case("gzip") || name == "*") && q > 0.0
    })
}

async fn ok() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if !state.election.get() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the leader election panicked and starts again after a backoff",
        )
    } else if state.published.is_ready() {
        (StatusCode::OK, "ok")
    } else if state.published.load().is_ready() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the last snapshot build failed; serving the one before it",
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: a watch has not finished its first list",
        )
    }
}

async fn self_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, TEXT_CONTENT_TYPE)],
        state.telemetry.encode(),
    )
}

async fn index() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html><html><head><title>kube-state-agent</title></head><body>",
        "<h1>kube-state-agent</h1><ul>",
        "<li><a href=\"/metrics\">metrics</a></li>",
        "<li><a href=\"/healthz\">healthz</a></li>",
        "<li><a href=\"/livez\">livez</a></li>",
        "<li><a href=\"/readyz\">readyz</a></li>",
        "</ul></body></html>"
    ))
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    fn hv(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    #[test]
    fn prometheus_default_accept_negotiates_openmetrics() {
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate_format(Some(&hv(prom))), Format::OpenMetrics);
        assert_eq!(negotiate_format(Some(&hv("text/plain"))), Format::Text);
        assert_eq!(negotiate_format(None), Format::Text);
        assert_eq!(negotiate_format(Some(&hv("*/*"))), Format::Text);
        assert_eq!(
            negotiate_format(Some(&hv("application/openmetrics-text;q=0.1,text/plain"))),
            Format::Text
        );
    }

    #[test]
    fn gzip_is_accepted_unless_refused() {
        assert!(accepts_gzip(Some(&hv("gzip"))));
        assert!(accepts_gzip(Some(&hv("deflate, gzip;q=0.5"))));
        assert!(!accepts_gzip(Some(&hv("gzip;q=0"))));
        assert!(!accepts_gzip(Some(&hv("identity"))));
        assert!(!accepts_gzip(None));
    }

    fn state() -> AppState {
        AppState {
            published: Published::default(),
            telemetry: Telemetry::new(),
            auth: None,
            election: ElectionRunning::default(),
        }
    }

    async fn status_of(app: Router, uri: &str) -> StatusCode {
        app.oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap()
            .status()
    }

    #[tokio::test]
    async fn readyz_is_503_until_a_ready_snapshot_is_published() {
        let state = state();
        let app = router(state.clone());
        assert_eq!(
            status_of(app.clone(), "/readyz").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(status_of(app.clone(), "/livez").await, StatusCode::OK);
        // The same handle, now holding a snapshot whose every watch has listed.
        state.published.publish(pod_snapshot(true));
        assert_eq!(status_of(app.clone(), "/readyz").await, StatusCode::OK);
        // A watch that starts listing again (a new leader's kinds) makes it 503 again.
        state.published.publish(pod_snapshot(false));
        assert_eq!(
            status_of(app, "/readyz").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[tokio::test]
    async fn readyz_is_503_while_the_election_waits_to_start_again() {
        let state = state();
        state.published.publish(pod_snapshot(true));
        let app = router(state.clone());
        assert_eq!(status_of(app.clone(), "/readyz").await, StatusCode::OK);
        state.election.set(false);
        let res = app
            .clone()
            .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("leader election"), "{body}");
        state.election.set(true);
        assert_eq!(status_of(app, "/readyz").await, StatusCode::OK);
    }

    const POD_JSON: &str = r#"{"metadata":{"name":"p","namespace":"ns","uid":"u1"}}"#;
    const SERVICE_JSON: &str =
        r#"{"metadata":{"name":"s","namespace":"ns","uid":"u2"},"spec":{"type":"ClusterIP"}}"#;

    /// A one-shard source of `kind` holding the object `json`, whose watch finished its first
    /// list when `listed`.
    fn source(
        kind: &'static dyn crate::registry::KindInfo,
        json: &str,
        listed: bool,
    ) -> crate::snapshot::KindSource {
        use crate::store::{Change, ChangeSignal, shard};
        let selection = crate::resources::FamilySelection::new(&kind.family_headers(), |_| false);
        let rows = kind
            .render_json(json, &Default::default(), &selection)
            .unwrap();
        let (mut w, r) = shard(kind.resource(), ChangeSignal::default());
        w.start_listing();
        w.apply(Change::Init);
        w.apply(Change::InitApply("uid".into(), rows));
        if listed {
            w.apply(Change::InitDone);
        }
        crate::snapshot::KindSource {
            info: kind,
            selection,
            shards: vec![r],
        }
    }

    /// A snapshot with one service, listed, and one pod whose watch is done listing
    /// (`pods_listed`) or still at it (then the snapshot is partial: not ready, no pod rows).
    fn pod_snapshot(pods_listed: bool) -> crate::snapshot::Snapshot {
        crate::snapshot::build(
            &[
                source(&crate::resources::pod::KIND, POD_JSON, pods_listed),
                source(&crate::resources::service::KIND, SERVICE_JSON, true),
            ],
            false,
        )
    }

    /// `/metrics` answers what it answers before the first complete snapshot.
    async fn assert_not_ready_yet(app: Router) {
        let res = app
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[header::RETRY_AFTER], "5");
    }

    #[tokio::test(start_paused = true)]
    async fn metrics_is_503_with_retry_after_until_the_first_complete_snapshot() {
        let state = state();
        let app = router(state.clone());
        assert_not_ready_yet(app.clone()).await;
        // A partial snapshot (the pod watch still listing) is not served either.
        state.published.publish(pod_snapshot(false));
        assert_eq!(
            status_of(app.clone(), "/metrics").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        state.published.publish(pod_snapshot(true));
        let body = body_of(app.clone(), "/metrics").await;
        assert!(body.contains("kube_pod_info{"), "{body}");
        // Once complete, a relisting watch never brings the 503 back: its last rows are served.
        state.published.publish(pod_snapshot(false));
        assert_eq!(status_of(app, "/metrics").await, StatusCode::OK);
        assert_eq!(
            state.telemetry.value(
                "http_request_duration_seconds",
                &[("handler", "metrics"), ("method", "get")]
            ),
            Some(4.0),
            "every answer is timed, the 503s too"
        );
    }

    /// The readiness rule end to end: a watch's shard, the builder, the published snapshot, the
    /// two answers.
    #[tokio::test(start_paused = true)]
    async fn metrics_and_readyz_turn_200_with_the_first_snapshot_built_after_every_watch_listed() {
        use crate::snapshot::{Compression, run_builder};
        use crate::store::{Change, ChangeSignal, shard};
        use crate::telemetry::SnapshotTelemetry;
        let state = state();
        let app = router(state.clone());
        let pods: &'static dyn crate::registry::KindInfo = &crate::resources::pod::KIND;
        let selection = crate::resources::FamilySelection::new(&pods.family_headers(), |_| false);
        let signal = ChangeSignal::default();
        let (mut writer, reader) = shard("pods", signal.clone());
        // What a watch does when it is made: readiness waits for its list from now on.
        writer.start_listing();
        let builder = tokio::spawn(run_builder(
            Arc::new(vec![crate::snapshot::KindSource {
                info: pods,
                selection: selection.clone(),
                shards: vec![reader],
            }]),
            state.published.clone(),
            signal,
            std::time::Duration::from_millis(100),
            Compression::default(),
            SnapshotTelemetry::new(state.telemetry.clone()),
        ));
        let published = |generation: u64| {
            let published = state.published.clone();
            let wait = async move {
                while published.load().generation() < generation {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            };
            async move {
                tokio::time::timeout(std::time::Duration::from_secs(60), wait)
                    .await
                    .unwrap_or_else(|_| panic!("snapshot {generation} never published"));
            }
        };
        published(1).await;
        assert!(!state.published.load().is_ready());
        assert_not_ready_yet(app.clone()).await;
        assert_eq!(
            status_of(app.clone(), "/readyz").await,
            StatusCode::SERVICE_UNAVAILABLE
        );

        let rows = pods
            .render_json(POD_JSON, &Default::default(), &selection)
            .unwrap();
        writer.apply(Change::Init);
        writer.apply(Change::InitApply("u1".into(), rows));
        writer.apply(Change::InitDone);
        published(2).await;
        assert!(state.published.load().is_ready());
        let body = body_of(app.clone(), "/metrics").await;
        assert!(
            body.contains(r#"kube_pod_info{namespace="ns",pod="p",uid="u1""#),
            "{body}"
        );
        assert_eq!(status_of(app, "/readyz").await, StatusCode::OK);
        builder.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn metrics_serves_the_partial_snapshot_once_the_grace_is_over() {
        let state = state();
        let app = router(state.clone());
        state.published.publish(pod_snapshot(false));
        tokio::time::advance(FIRST_SNAPSHOT_GRACE - std::time::Duration::from_secs(1)).await;
        assert_eq!(
            status_of(app.clone(), "/metrics").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        tokio::time::advance(std::time::Duration::from_secs(1)).await;
        let body = body_of(app.clone(), "/metrics").await;
        assert!(
            body.contains("kube_service_info{") && !body.contains("kube_pod_info{"),
            "a kind that never lists hides nothing else: {body}"
        );
        assert_eq!(
            status_of(app, "/readyz").await,
            StatusCode::SERVICE_UNAVAILABLE,
            "readiness still says so"
        );
    }

    fn query(q: &str) -> Vec<(String, String)> {
        let uri: axum::http::Uri = format!("/metrics?{q}").parse().unwrap();
        Query::try_from_uri(&uri).unwrap().0
    }

    #[test]
    fn resource_parameters_follow_ksm_parse_resources() {
        let q = query("resources=pods,,services&resources=nodes&exclude_resources=%20pods%20");
        assert_eq!(
            resources_param(&q, "resources"),
            Some(vec!["pods", "services", "nodes"])
        );
        assert_eq!(resources_param(&q, "exclude_resources"), Some(vec!["pods"]));
        assert_eq!(resources_param(&query("other=1"), "resources"), None);
        assert_eq!(
            resources_param(&query("resources=,,"), "resources"),
            Some(vec![]),
            "present but empty selects nothing, as in KSM"
        );
    }

    /// A published snapshot with rows of `pods` and `services`.
    fn state_with_pods_and_services() -> AppState {
        let state = state();
        state.published.publish(pod_snapshot(true));
        state
    }

    async fn body_of(app: Router, uri: &str) -> String {
        let res = app
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{uri}");
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn resource_query_parameters_filter_the_body_as_ksm() {
        let app = router(state_with_pods_and_services());
        // (query, kube_pod_info expected, kube_service_info expected): KSM's own test table.
        for (q, pods, services) in [
            ("", true, true),
            ("?resources=pods", true, false),
            ("?resources=services", false, true),
            ("?resources=pods,services", true, true),
            ("?resources=pods&resources=services", true, true),
            ("?resources=nonexistent", false, false),
            ("?exclude_resources=pods", false, true),
            (
                "?resources=pods,services&exclude_resources=pods",
                false,
                true,
            ),
            ("?resources=,,,,", false, false),
            ("?resources=pods,,,services", true, true),
            ("?exclude_resources=,,,,", true, true),
            (
                "?exclude_resources=pods&exclude_resources=services",
                false,
                false,
            ),
        ] {
            let body = body_of(app.clone(), &format!("/metrics{q}")).await;
            assert_eq!(body.contains("kube_pod_info{"), pods, "{q}: {body}");
            assert_eq!(body.contains("kube_service_info{"), services, "{q}: {body}");
        }
    }

    #[tokio::test]
    async fn metrics_sets_the_negotiated_content_type() {
        let state = state();
        state.published.publish(pod_snapshot(true));
        let res = router(state)
            .oneshot(
                Request::get("/metrics")
                    .header("accept", "application/openmetrics-text;version=1.0.0")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            OPENMETRICS_CONTENT_TYPE
        );
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(body.ends_with(b"# EOF\n"), "{body:?}");
    }
}
