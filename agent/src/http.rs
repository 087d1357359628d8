//! The HTTP edge: `/metrics` from the published snapshot, health and readiness, an index page,
//! and the self-metrics router for the telemetry port.
//!
//! A scrape is an atomic load of the current snapshot and a write of its shared bytes: it never
//! waits for event processing, and the gzip body it may send was compressed when the snapshot
//! was built. This module sees only the [`Published`] handle and [`Telemetry`]: never the store,
//! the resources or the API client. See [`router`].

use std::time::Instant;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::exposition::Format;
use crate::snapshot::Published;
use crate::telemetry::Telemetry;

const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The current snapshot.
    pub published: Published,
    /// Self-metrics.
    pub telemetry: Telemetry,
}

/// The main router: `/metrics`, `/healthz`, `/livez`, `/readyz`, `/`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
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

/// `?resources=a,b` and `?exclude_resources=c`, as kube-state-metrics takes them.
#[derive(Debug, Default, Deserialize)]
pub struct MetricsQuery {
    resources: Option<String>,
    exclude_resources: Option<String>,
}

fn csv(s: &Option<String>) -> Option<Vec<&str>> {
    s.as_deref().map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .collect()
    })
}

async fn metrics(
    State(state): State<AppState>,
    Query(query): Query<MetricsQuery>,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let format = negotiate_format(headers.get(header::ACCEPT));
    let gzip = accepts_gzip(headers.get(header::ACCEPT_ENCODING));
    let snapshot = state.published.load();
    let include = csv(&query.resources);
    let exclude = csv(&query.exclude_resources);
    let body = if include.is_none() && exclude.is_none() {
        snapshot.body(format, gzip)
    } else {
        let keep = |r: &str| {
            include.as_ref().is_none_or(|i| i.contains(&r))
                && exclude.as_ref().is_none_or(|e| !e.contains(&r))
        };
        snapshot.filtered_body(format, gzip, &keep)
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
    if state.published.load().is_ready() {
        (StatusCode::OK, "ok")
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
        }
    }

    #[tokio::test]
    async fn readyz_is_503_until_a_ready_snapshot_is_published() {
        let res = router(state())
            .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        let res = router(state())
            .oneshot(Request::get("/livez").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn metrics_sets_the_negotiated_content_type() {
        let res = router(state())
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
        assert_eq!(&body[..], b"# EOF\n");
    }
}
