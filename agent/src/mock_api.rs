//! A scripted API server for unit tests: a `kube::Client` over `tower-test`'s mock service,
//! whose answers a test decides request by request, and a log of what it was asked.
//!
//! Unlike a fixed sequence of expected calls, a handler here answers whatever the code under
//! test asks, in any order and concurrently (several watches, an election), so tests can drive
//! the wiring as it runs. Each answer is given on its own task: a request held open (an idle
//! watch, a partitioned server) never blocks the others. See [`MockApi::start`].

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use http_body_util::BodyExt as _;
use kube::Client;
use tokio::sync::watch;

/// One request as the mock API server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// `GET`, `POST`, `PUT`, ….
    pub method: http::Method,
    /// The URL path.
    pub path: String,
    /// The query string, percent-decoded (`fieldSelector=spec.nodeName=n1&watch=true`).
    pub query: String,
    /// The request body as text.
    pub body: String,
    /// When it arrived (tokio's clock, paused or not).
    pub at: tokio::time::Instant,
}

impl Seen {
    /// Whether this is a watch request (`watch=true`).
    pub fn is_watch(&self) -> bool {
        self.query.split('&').any(|p| p == "watch=true")
    }

    /// Whether this is a list of `path` (a GET of it that is not a watch).
    pub fn is_list_of(&self, path: &str) -> bool {
        self.method == http::Method::GET && self.path == path && !self.is_watch()
    }
}

/// How the mock API server answers one request.
pub enum Answer {
    /// This status and JSON body.
    Json(http::StatusCode, String),
    /// Nothing, ever: an idle watch, or a server that stopped answering.
    Hold,
    /// Whatever this future yields, once it does.
    Later(BoxFuture<'static, Answer>),
}

impl Answer {
    /// `200 OK` with `body`.
    pub fn ok(body: serde_json::Value) -> Answer {
        Answer::Json(http::StatusCode::OK, body.to_string())
    }

    /// A Kubernetes `Status` failure with `code`, e.g. 404 `NotFound`.
    pub fn status(code: u16, reason: &str) -> Answer {
        let status = serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": reason, "reason": reason, "code": code});
        Answer::Json(
            http::StatusCode::from_u16(code).expect("a valid status code"),
            status.to_string(),
        )
    }
}

/// The running mock API server: what it was asked so far.
#[derive(Clone)]
pub struct MockApi {
    seen: Arc<Mutex<Vec<Seen>>>,
    count: watch::Receiver<usize>,
}

impl MockApi {
    /// A client whose every request `answer` answers. The server runs until the test ends.
    pub fn start(answer: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> (Client, MockApi) {
        let (service, mut handle) = tower_test::mock::pair::<
            http::Request<kube::client::Body>,
            http::Response<kube::client::Body>,
        >();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (count_tx, count) = watch::channel(0);
        let log = seen.clone();
        tokio::spawn(async move {
            while let Some((request, respond)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let query = parts.uri.query().unwrap_or("");
                let request = Seen {
                    method: parts.method.clone(),
                    path: parts.uri.path().to_string(),
                    query: percent_encoding::percent_decode_str(query)
                        .decode_utf8_lossy()
                        .into_owned(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                    at: tokio::time::Instant::now(),
                };
                let answer = answer(&request);
                {
                    let mut seen = log.lock().unwrap();
                    seen.push(request);
                    count_tx.send_replace(seen.len());
                }
                tokio::spawn(async move {
                    let mut answer = answer;
                    loop {
                        match answer {
                            Answer::Json(status, body) => {
                                let mut res = http::Response::new(kube::client::Body::from(
                                    body.into_bytes(),
                                ));
                                *res.status_mut() = status;
                                respond.send_response(res);
                                return;
                            }
                            Answer::Hold => {
                                // Keep the responder: dropping it would fail the request.
                                std::future::pending::<()>().await;
                            }
                            Answer::Later(f) => answer = f.await,
                        }
                    }
                });
            }
        });
        (Client::new(service, "default"), MockApi { seen, count })
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests so far match `pred`.
    pub fn count(&self, pred: impl Fn(&Seen) -> bool) -> usize {
        self.seen.lock().unwrap().iter().filter(|s| pred(s)).count()
    }

    /// Waits until `n` requests match `pred`, and returns the `n`th. Panics after a minute
    /// (of tokio's clock) without it.
    pub async fn nth(&self, n: usize, pred: impl Fn(&Seen) -> bool) -> Seen {
        let mut count = self.count.clone();
        let wait = async {
            loop {
                let matching: Vec<Seen> = self
                    .seen
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|s| pred(s))
                    .cloned()
                    .collect();
                if let Some(s) = matching.get(n - 1) {
                    return s.clone();
                }
                count.changed().await.expect("the mock server runs");
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), wait)
            .await
            .unwrap_or_else(|_| panic!("request #{n} never came; seen: {:#?}", self.seen()))
    }
}

/// A discovery answer (`APIResourceList`) listing `plurals`.
pub fn discovery(plurals: &[&str]) -> Answer {
    Answer::Json(http::StatusCode::OK, crate::watch::discovery_json(plurals))
}

/// A list answer of `kind` (`NamespaceList`) holding `items`, at resourceVersion 10.
pub fn list(kind: &str, items: Vec<serde_json::Value>) -> Answer {
    Answer::ok(serde_json::json!({"kind": kind, "apiVersion": "v1",
        "metadata": {"resourceVersion": "10"}, "items": items}))
}
