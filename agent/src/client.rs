//! Building the `kube::Client`: in-cluster or kubeconfig, gzip negotiated, and every API
//! response counted on the wire.
//!
//! The stack is kube-client's default one (`make_generic_builder`) with one layer added right
//! above the connection: [`ApiTrafficLayer`] sees each response's compressed body, so
//! `ksa_api_response_bytes_total` is what the agent really reads from the API server, and
//! `kube_state_metrics_list_total` / `kube_state_metrics_watch_total` count requests the way
//! kube-state-metrics does. Startup-only; errors are fatal. See [`build`].

use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kube::client::{Body, ConfigExt};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tower::{BoxError, Layer, Service, ServiceBuilder, ServiceExt};

use crate::telemetry::Telemetry;

/// Why no client could be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--kubeconfig` could not be read or used.
    #[error("--kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The path given.
        path: String,
        /// What went wrong.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// Neither in-cluster configuration nor a default kubeconfig was found.
    #[error(
        "no Kubernetes configuration (not in a cluster, no $KUBECONFIG, no ~/.kube/config): {0}"
    )]
    Infer(#[source] kube::config::InferConfigError),
    /// The TLS or auth settings could not be turned into a client.
    #[error("building the API client: {0}")]
    Build(#[source] kube::Error),
}

/// How much longer than a watch's `timeoutSeconds` a read may wait for a byte.
const READ_TIMEOUT_MARGIN: Duration = Duration::from_secs(40);

/// Loads the configuration (explicit kubeconfig, else in-cluster / `$KUBECONFIG` / default)
/// and builds a client whose traffic is counted in `telemetry`, whose reads give up only well
/// after `watch_timeout` (the watches' `timeoutSeconds`).
///
/// # Errors
/// When no usable configuration is found or its TLS/auth settings are invalid.
pub async fn build(
    kubeconfig: Option<&Path>,
    watch_timeout: Duration,
    telemetry: Telemetry,
) -> Result<Client, Error> {
    let mut config = match kubeconfig {
        Some(path) => {
            let err = |source| Error::Kubeconfig {
                path: path.display().to_string(),
                source,
            };
            let kc = Kubeconfig::read_from(path).map_err(err)?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(err)?
        }
        None => Config::infer().await.map_err(Error::Infer)?,
    };
    // Watches are long-lived: the server ends them (timeoutSeconds), not a client read timeout,
    // which only catches a connection that died without a word, well after the watch's own
    // idle check would have.
    config.read_timeout = Some(watch_timeout + READ_TIMEOUT_MARGIN);
    client_from_config(config, telemetry).map_err(Error::Build)
}

/// kube-client's default stack with [`ApiTrafficLayer`] just above the connection.
fn client_from_config(config: Config, telemetry: Telemetry) -> kube::Result<Client> {
    let default_ns = config.default_namespace.clone();
    let mut connector = HttpConnector::new();
    connector.enforce_http(false);
    let connector = config.rustls_https_connector_with_connector(connector)?;
    let mut connector = hyper_timeout::TimeoutConnector::new(connector);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    let http: hyper_util::client::legacy::Client<_, Body> =
        hyper_util::client::legacy::Builder::new(TokioExecutor::new()).build(connector);

    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .layer(
            tower_http::decompression::DecompressionLayer::new()
                .no_br()
                .no_deflate()
                .no_zstd()
                .gzip(!config.disable_compression),
        )
        .layer(ApiTrafficLayer { telemetry })
        .map_err(BoxError::from)
        .service(http);
    let service = tower_http::ServiceExt::map_response_body(service, |b| {
        Box::new(http_body_util::BodyExt::map_err(b, BoxError::from)) as Box<kube::client::DynBody>
    });
    Ok(kube::client::ClientBuilder::new(service.boxed(), default_ns).build())
}

/// What a request to the API server was, for counting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiCall {
    /// The API group the path names, `""` for the core group.
    pub group: String,
    /// The API version the path names, e.g. `v1`.
    pub version: String,
    /// The resource (plural) the path names, e.g. `pods`.
    pub resource: String,
    /// `list`, `watch`, or another verb.
    pub verb: &'static str,
}

impl ApiCall {
    /// Classifies a request by path and query: `/api/v1/pods?watch=true` is a pods watch.
    pub fn of(method: &http::Method, uri: &http::Uri) -> ApiCall {
        let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
        // /api/v1/[namespaces/NS/]RES[/NAME[/SUB]] or /apis/G/V/[namespaces/NS/]RES[/NAME[/SUB]]
        let (group, version, rest) = match segments.first() {
            Some(&"api") => ("", segments.get(1), segments.get(2..).unwrap_or(&[])),
            Some(&"apis") => (
                segments.get(1).copied().unwrap_or(""),
                segments.get(2),
                segments.get(3..).unwrap_or(&[]),
            ),
            _ => ("", None, &[][..]),
        };
        let rest = match rest {
            ["namespaces", _ns, tail @ ..] if !tail.is_empty() => tail,
            other => other,
        };
        // `/api/v1` and `/apis/G/V` themselves are discovery: which resources a version serves.
        let discovery = version.is_some() && rest.is_empty();
        let resource = match rest.first() {
            Some(r) => r.to_string(),
            None if discovery => "discovery".to_string(),
            None => "other".to_string(),
        };
        let watch = uri
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"));
        let verb = match (method.as_str(), rest.len(), watch) {
            ("GET", _, true) => "watch",
            ("GET", 1, false) => "list",
            ("GET", _, false) => "get",
            ("PUT", ..) => "update",
            ("POST", ..) => "create",
            ("PATCH", ..) => "patch",
            ("DELETE", ..) => "delete",
            _ => "other",
        };
        ApiCall {
            group: group.to_string(),
            version: version.copied().unwrap_or("").to_string(),
            resource,
            verb,
        }
    }

    /// The `resource` label of kube-state-metrics' list and watch counters: its informer type
    /// (`*v1.Deployment`) for a kind the agent exports, the plural otherwise.
    pub fn ksm_resource(&self) -> String {
        crate::registry::informer_type(&self.group, &self.version, &self.resource)
            .unwrap_or_else(|| self.resource.clone())
    }
}

/// Counts requests by resource and verb, and the response bytes as they arrive.
#[derive(Clone)]
pub struct ApiTrafficLayer {
    telemetry: Telemetry,
}

impl<S> Layer<S> for ApiTrafficLayer {
    type Service = ApiTraffic<S>;
    fn layer(&self, inner: S) -> ApiTraffic<S> {
        ApiTraffic {
            inner,
            telemetry: self.telemetry.clone(),
        }
    }
}

/// The service [`ApiTrafficLayer`] makes.
#[derive(Clone)]
pub struct ApiTraffic<S> {
    inner: S,
    telemetry: Telemetry,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ApiTraffic<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
{
    type Response = Response<CountedBody<ResBody>>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let call = ApiCall::of(req.method(), req.uri());
        let telemetry = self.telemetry.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let result = fut.await;
            // Discovery's 404 is an answer ("this group version is not served"), not a failure.
            let ok = matches!(&result, Ok(r) if r.status().is_success()
                || (call.resource == "discovery" && r.status() == http::StatusCode::NOT_FOUND));
            telemetry.api_request(&call.resource, &call.ksm_resource(), call.verb, ok);
            let res = result?;
            let counter = telemetry.api_bytes_counter(&call.resource, call.verb);
            Ok(res.map(|inner| CountedBody { inner, counter }))
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body that adds each frame's length to a counter.
    pub struct CountedBody<B> {
        #[pin]
        inner: B,
        counter: prometheus::IntCounter,
    }
}

impl<B: HttpBody<Data = Bytes>> HttpBody for CountedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.counter.inc_by(data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: &str, uri: &str) -> ApiCall {
        ApiCall::of(&method.parse().unwrap(), &uri.parse().unwrap())
    }

    #[test]
    fn requests_are_classified_by_resource_and_verb() {
        let c = call(
            "GET",
            "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1&limit=500",
        );
        assert_eq!((c.resource.as_str(), c.verb), ("pods", "list"));
        let c = call("GET", "/api/v1/pods?watch=true&resourceVersion=5");
        assert_eq!((c.resource.as_str(), c.verb), ("pods", "watch"));
        let c = call("GET", "/apis/apps/v1/namespaces/ns/deployments?watch=1");
        assert_eq!((c.resource.as_str(), c.verb), ("deployments", "watch"));
        let c = call("PUT", "/apis/coordination.k8s.io/v1/namespaces/ns/leases/x");
        assert_eq!((c.resource.as_str(), c.verb), ("leases", "update"));
        let c = call("GET", "/api/v1/nodes/n1");
        assert_eq!((c.resource.as_str(), c.verb), ("nodes", "get"));
        let c = call(
            "GET",
            "/apis/autoscaling/v2/horizontalpodautoscalers?watch=true",
        );
        assert_eq!(
            (c.group.as_str(), c.version.as_str(), c.verb),
            ("autoscaling", "v2", "watch")
        );
        assert_eq!(c.ksm_resource(), "*v2.HorizontalPodAutoscaler");
        let c = call("GET", "/api/v1/namespaces/ns/pods?limit=500");
        assert_eq!(c.ksm_resource(), "*v1.Pod");
        let c = call("GET", "/apis/policy/v1");
        assert_eq!((c.resource.as_str(), c.verb), ("discovery", "get"));
        let c = call("GET", "/api/v1");
        assert_eq!((c.resource.as_str(), c.verb), ("discovery", "get"));
        let c = call("POST", "/apis/authentication.k8s.io/v1/tokenreviews");
        assert_eq!(
            c.ksm_resource(),
            "tokenreviews",
            "not a kind the agent exports"
        );
        let c = call("GET", "/api/v1/namespaces");
        assert_eq!((c.resource.as_str(), c.verb), ("namespaces", "list"));
        let c = call("GET", "/version");
        assert_eq!((c.resource.as_str(), c.verb), ("other", "get"));
    }
}
