//! Authenticated, authorized scrapes (`--auth-filter`): a bearer token becomes a [`Decision`],
//! the full view, a tenant's namespaces, or a 401/403, decided by the API server and cached.
//!
//! One tower layer ([`authenticate`]) sits in front of `/metrics`: it reads the bearer token,
//! asks the [`Authorizer`], and either answers the scrape itself (401, 403, 503) or puts the
//! granted [`Namespaces`] in the request's extensions for the handler. Handlers never see a
//! token, and no token is ever logged or kept: the cache is keyed by its SHA-256.
//!
//! The rules, as kube-state-metrics' `--auth-filter` and kube-rbac-proxy apply them:
//! - no `Authorization: Bearer` header, or a token the TokenReview does not authenticate: 401
//!   with `WWW-Authenticate: Bearer`;
//! - a user allowed `get` on the non-resource URL `/metrics` (SubjectAccessReview): the full
//!   view;
//! - else a user allowed the tenant access (`list` `pods` by default) cluster-wide: every
//!   namespace's series and no cluster-scoped one; allowed it in some namespaces: those
//!   namespaces' series;
//! - else 403;
//! - a review that fails (API server unreachable, an error answer): 503 for that scrape. Deny
//!   when in doubt: an error never opens the door.
//!
//! Decisions are cached per token for `ttl`; refusals and failures for the shorter
//! `negative_ttl`, so a newly granted right or a recovered API server is seen soon. Concurrent
//! scrapes with one token share one in-flight review, so the API server is asked at most once
//! per token per TTL however many scrapes arrive. See [`Authorizer::decide`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

pub use crate::config::auth::{AuthOptions, TenantAccess};
use crate::snapshot::Namespaces;
use crate::telemetry::Telemetry;

/// Who a token belongs to, as the TokenReview reported it; passed back unchanged in each
/// SubjectAccessReview.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct User {
    /// `status.user.username`.
    pub username: String,
    /// `status.user.uid`.
    pub uid: String,
    /// `status.user.groups`.
    pub groups: Vec<String>,
    /// `status.user.extra`.
    pub extra: BTreeMap<String, Vec<String>>,
}

/// What a SubjectAccessReview asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// A verb on a non-resource URL (`get` `/metrics`).
    NonResource {
        /// E.g. `get`.
        verb: String,
        /// E.g. `/metrics`.
        path: String,
    },
    /// A verb on a resource, in one namespace or (`None`) in all of them.
    Resource {
        /// E.g. `list`.
        verb: String,
        /// API group, `""` for the core group.
        group: String,
        /// E.g. `pods`.
        resource: String,
        /// `None`: every namespace.
        namespace: Option<String>,
    },
}

/// A review that could not be completed (the API server did not answer, or answered an error).
#[derive(Debug, thiserror::Error)]
#[error("{review} failed: {message}")]
pub struct ReviewError {
    /// `TokenReview` or `SubjectAccessReview`.
    pub review: &'static str,
    /// What went wrong (never contains the token).
    pub message: String,
}

/// Asks the API server about tokens and rights. The agent's implementation is
/// [`super::review::ApiReviewer`]; tests use a fake.
pub trait Reviewer: Send + Sync + 'static {
    /// The user `token` authenticates as, `None` when the API server does not authenticate it.
    fn authenticate(&self, token: &str) -> BoxFuture<'_, Result<Option<User>, ReviewError>>;
    /// Whether `user` has `access`.
    fn allowed<'a>(
        &'a self,
        user: &'a User,
        access: Access,
    ) -> BoxFuture<'a, Result<bool, ReviewError>>;
}

/// What one token may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Everything: the user may `get` `/metrics`.
    Full,
    /// The series of these namespaces only (never [`Namespaces::All`]).
    Tenant(Namespaces),
    /// No token, or one the API server does not authenticate: 401.
    Unauthenticated,
    /// Authenticated, but neither the full view nor any tenant namespace: 403.
    Forbidden,
    /// A review failed: 503, never a view.
    Unavailable,
}

impl Decision {
    /// The `result` label of `ksa_auth_decisions_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Decision::Full => "full",
            Decision::Tenant(_) => "tenant",
            Decision::Unauthenticated => "unauthenticated",
            Decision::Forbidden => "forbidden",
            Decision::Unavailable => "error",
        }
    }
}

/// The namespaces that exist in the cluster, as far as the agent knows: the candidates a
/// tenant's rights are checked in. Fed by a watch of Namespace names; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct NamespaceNames {
    /// `None` until the first list completed.
    names: Arc<ArcSwap<Option<Vec<Arc<str>>>>>,
}

impl NamespaceNames {
    /// Replaces the known names.
    pub fn set(&self, names: Vec<Arc<str>>) {
        self.names.store(Arc::new(Some(names)));
    }

    /// The known names; `None` before the first list completed.
    pub fn get(&self) -> Arc<Option<Vec<Arc<str>>>> {
        self.names.load_full()
    }
}

/// How long a decision lives in the cache: granted ones `ttl`, the rest `negative_ttl`.
struct DecisionExpiry {
    ttl: Duration,
    negative_ttl: Duration,
}

impl moka::Expiry<[u8; 32], Decision> for DecisionExpiry {
    fn expire_after_create(
        &self,
        _key: &[u8; 32],
        value: &Decision,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(match value {
            Decision::Full | Decision::Tenant(_) => self.ttl,
            Decision::Unauthenticated | Decision::Forbidden => self.negative_ttl,
            Decision::Unavailable => UNAVAILABLE_TTL.min(self.negative_ttl),
        })
    }
}

/// How long a failed review is reused: long enough that a burst of scrapes during an API
/// server outage costs one review, short enough that recovery is seen at the next scrape.
const UNAVAILABLE_TTL: Duration = Duration::from_secs(1);

/// SubjectAccessReviews in flight at once for one decision: enough to check hundreds of
/// namespaces in a few round trips, few enough not to burst the API server.
const CONCURRENT_REVIEWS: usize = 16;

/// Turns tokens into decisions, through the API server and a cache.
pub struct Authorizer {
    reviewer: Arc<dyn Reviewer>,
    options: AuthOptions,
    namespaces: NamespaceNames,
    cache: moka::future::Cache<[u8; 32], Decision>,
    telemetry: Telemetry,
}

impl Authorizer {
    /// An authorizer asking `reviewer`, checking tenant rights in the `namespaces` it knows.
    pub fn new(
        reviewer: Arc<dyn Reviewer>,
        options: AuthOptions,
        namespaces: NamespaceNames,
        telemetry: Telemetry,
    ) -> Authorizer {
        let cache = moka::future::Cache::builder()
            .max_capacity(options.capacity)
            .expire_after(DecisionExpiry {
                ttl: options.ttl,
                negative_ttl: options.negative_ttl,
            })
            .build();
        Authorizer {
            reviewer,
            options,
            namespaces,
            cache,
            telemetry,
        }
    }

    /// The decision for `token`: from the cache, or from one review shared by every scrape
    /// that asks while it runs.
    pub async fn decide(&self, token: &str) -> Decision {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let entry = self
            .cache
            .entry(key)
            .or_insert_with(self.review(token))
            .await;
        if !entry.is_fresh() {
            self.telemetry.auth_cache_hit();
        }
        let decision = entry.into_value();
        self.telemetry.auth_decision(decision.label());
        decision
    }

    async fn review(&self, token: &str) -> Decision {
        match self.try_review(token).await {
            Ok(decision) => decision,
            Err(e) => {
                tracing::warn!(error = %e, "scrape authorization failed; answering 503");
                Decision::Unavailable
            }
        }
    }

    async fn try_review(&self, token: &str) -> Result<Decision, ReviewError> {
        let reviewed = self.reviewer.authenticate(token).await;
        self.telemetry.auth_review("tokenreview", reviewed.is_ok());
        let Some(user) = reviewed? else {
            return Ok(Decision::Unauthenticated);
        };
        let full = Access::NonResource {
            verb: "get".into(),
            path: "/metrics".into(),
        };
        if self.allowed(&user, full).await? {
            return Ok(Decision::Full);
        }
        let Some(tenant) = &self.options.tenant_access else {
            return Ok(Decision::Forbidden);
        };
        let access = |namespace: Option<String>| Access::Resource {
            verb: tenant.verb.clone(),
            group: tenant.group.clone(),
            resource: tenant.resource.clone(),
            namespace,
        };
        if self.allowed(&user, access(None)).await? {
            return Ok(Decision::Tenant(Namespaces::EveryNamespace));
        }
        let known = self.namespaces.get();
        let Some(candidates) = known.as_ref() else {
            return Err(ReviewError {
                review: "SubjectAccessReview",
                message: "the namespaces are not listed yet".into(),
            });
        };
        let allowed: Vec<Arc<str>> = futures::stream::iter(candidates.iter().cloned())
            .map(|ns| {
                let check = self.allowed(&user, access(Some(ns.to_string())));
                async move { check.await.map(|ok| ok.then_some(ns)) }
            })
            .buffer_unordered(CONCURRENT_REVIEWS)
            .try_filter_map(|ns| async move { Ok(ns) })
            .try_collect()
            .await?;
        Ok(if allowed.is_empty() {
            Decision::Forbidden
        } else {
            Decision::Tenant(Namespaces::only(allowed))
        })
    }

    async fn allowed(&self, user: &User, access: Access) -> Result<bool, ReviewError> {
        let result = self.reviewer.allowed(user, access).await;
        self.telemetry
            .auth_review("subjectaccessreview", result.is_ok());
        result
    }
}

/// The bearer token of a request, if it carries one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The middleware in front of `/metrics`: answers 401, 403 or 503 itself, or passes the request
/// on with the granted [`Namespaces`] in its extensions.
pub async fn authenticate(
    State(auth): State<Arc<Authorizer>>,
    mut request: Request,
    next: Next,
) -> Response {
    let decision = match bearer(request.headers()) {
        Some(token) => auth.decide(token).await,
        None => {
            auth.telemetry
                .auth_decision(Decision::Unauthenticated.label());
            Decision::Unauthenticated
        }
    };
    let view = match decision {
        Decision::Full => Namespaces::All,
        Decision::Tenant(namespaces) => namespaces,
        Decision::Unauthenticated => {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
                "Unauthorized\n",
            )
                .into_response();
        }
        Decision::Forbidden => return (StatusCode::FORBIDDEN, "Forbidden\n").into_response(),
        Decision::Unavailable => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, HeaderValue::from_static("5"))],
                "authorization is unavailable; try again\n",
            )
                .into_response();
        }
    };
    request.extensions_mut().insert(view);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Users by token; rights as (username, access) pairs.
    #[derive(Default)]
    struct FakeApiServer {
        users: BTreeMap<String, User>,
        rights: Mutex<Vec<(String, Access)>>,
        token_reviews: AtomicUsize,
        access_reviews: AtomicUsize,
        down: std::sync::atomic::AtomicBool,
    }

    impl FakeApiServer {
        fn user(mut self, token: &str, name: &str) -> Self {
            self.users.insert(
                token.into(),
                User {
                    username: name.into(),
                    ..User::default()
                },
            );
            self
        }
        fn grant(self, name: &str, access: Access) -> Self {
            self.rights.lock().unwrap().push((name.into(), access));
            self
        }
    }

    fn list_pods(ns: Option<&str>) -> Access {
        Access::Resource {
            verb: "list".into(),
            group: String::new(),
            resource: "pods".into(),
            namespace: ns.map(str::to_string),
        }
    }

    fn get_metrics() -> Access {
        Access::NonResource {
            verb: "get".into(),
            path: "/metrics".into(),
        }
    }

    impl Reviewer for FakeApiServer {
        fn authenticate(&self, token: &str) -> BoxFuture<'_, Result<Option<User>, ReviewError>> {
            self.token_reviews.fetch_add(1, Ordering::SeqCst);
            let user = self.users.get(token).cloned();
            let down = self.down.load(Ordering::SeqCst);
            Box::pin(async move {
                // Yield once so concurrent callers really overlap.
                tokio::task::yield_now().await;
                if down {
                    return Err(ReviewError {
                        review: "TokenReview",
                        message: "connection refused".into(),
                    });
                }
                Ok(user)
            })
        }
        fn allowed<'a>(
            &'a self,
            user: &'a User,
            access: Access,
        ) -> BoxFuture<'a, Result<bool, ReviewError>> {
            self.access_reviews.fetch_add(1, Ordering::SeqCst);
            let ok = self
                .rights
                .lock()
                .unwrap()
                .iter()
                .any(|(u, a)| *u == user.username && *a == access);
            Box::pin(async move { Ok(ok) })
        }
    }

    fn authorizer(api: Arc<FakeApiServer>, namespaces: &[&str]) -> Authorizer {
        let names = NamespaceNames::default();
        names.set(namespaces.iter().map(|n| Arc::from(*n)).collect());
        Authorizer::new(api, AuthOptions::default(), names, Telemetry::new())
    }

    #[tokio::test]
    async fn the_right_to_get_metrics_is_the_full_view() {
        let api = Arc::new(
            FakeApiServer::default()
                .user("t-admin", "admin")
                .grant("admin", get_metrics()),
        );
        assert_eq!(
            authorizer(api, &["a"]).decide("t-admin").await,
            Decision::Full
        );
    }

    #[tokio::test]
    async fn a_tenant_sees_exactly_the_namespaces_where_it_may_list_pods() {
        let api = Arc::new(
            FakeApiServer::default()
                .user("t-a", "tenant-a")
                .grant("tenant-a", list_pods(Some("a")))
                .grant("tenant-a", list_pods(Some("c")))
                .grant("tenant-a", list_pods(Some("not-known"))),
        );
        let decision = authorizer(api, &["a", "b", "c"]).decide("t-a").await;
        assert_eq!(decision, Decision::Tenant(Namespaces::only(["a", "c"])));
    }

    #[tokio::test]
    async fn listing_pods_cluster_wide_grants_every_namespace_but_no_cluster_scoped_series() {
        let api = Arc::new(
            FakeApiServer::default()
                .user("t", "ops")
                .grant("ops", list_pods(None)),
        );
        assert_eq!(
            authorizer(api, &["a"]).decide("t").await,
            Decision::Tenant(Namespaces::EveryNamespace)
        );
    }

    #[tokio::test]
    async fn unknown_tokens_are_unauthenticated_and_users_without_rights_forbidden() {
        let api = Arc::new(FakeApiServer::default().user("t-nobody", "nobody"));
        let auth = authorizer(api, &["a", "b"]);
        assert_eq!(auth.decide("made-up").await, Decision::Unauthenticated);
        assert_eq!(auth.decide("t-nobody").await, Decision::Forbidden);
    }

    #[tokio::test]
    async fn without_tenant_access_only_the_full_view_is_granted() {
        let api = Arc::new(
            FakeApiServer::default()
                .user("t-a", "tenant-a")
                .grant("tenant-a", list_pods(Some("a"))),
        );
        let names = NamespaceNames::default();
        names.set(vec![Arc::from("a")]);
        let options = AuthOptions {
            tenant_access: None,
            ..AuthOptions::default()
        };
        let auth = Authorizer::new(api, options, names, Telemetry::new());
        assert_eq!(auth.decide("t-a").await, Decision::Forbidden);
    }

    #[tokio::test]
    async fn a_failed_review_is_unavailable_never_a_view() {
        let api = Arc::new(
            FakeApiServer::default()
                .user("t-admin", "admin")
                .grant("admin", get_metrics()),
        );
        api.down.store(true, Ordering::SeqCst);
        let auth = authorizer(api, &[]);
        assert_eq!(auth.decide("t-admin").await, Decision::Unavailable);
    }

    #[tokio::test]
    async fn concurrent_scrapes_with_one_token_share_one_review_and_later_ones_hit_the_cache() {
        let api = Arc::new(
            FakeApiServer::default()
                .user("t-a", "tenant-a")
                .grant("tenant-a", list_pods(Some("b"))),
        );
        let auth = Arc::new(authorizer(api.clone(), &["a", "b", "c"]));
        let scrapes: Vec<_> = (0..50)
            .map(|_| {
                let auth = auth.clone();
                tokio::spawn(async move { auth.decide("t-a").await })
            })
            .collect();
        for s in scrapes {
            assert_eq!(s.await.unwrap(), Decision::Tenant(Namespaces::only(["b"])));
        }
        for _ in 0..50 {
            auth.decide("t-a").await;
        }
        assert_eq!(api.token_reviews.load(Ordering::SeqCst), 1);
        // One round: the full view, cluster-wide tenancy, then each known namespace.
        assert_eq!(api.access_reviews.load(Ordering::SeqCst), 2 + 3);
    }

    #[tokio::test]
    async fn refusals_expire_sooner_than_grants() {
        let api = Arc::new(FakeApiServer::default().user("t-a", "tenant-a"));
        let names = NamespaceNames::default();
        names.set(vec![Arc::from("a")]);
        let options = AuthOptions {
            ttl: Duration::from_secs(3600),
            negative_ttl: Duration::from_millis(50),
            ..AuthOptions::default()
        };
        let auth = Authorizer::new(api.clone(), options, names, Telemetry::new());
        assert_eq!(auth.decide("t-a").await, Decision::Forbidden);
        api.rights
            .lock()
            .unwrap()
            .push(("tenant-a".into(), list_pods(Some("a"))));
        // Poll with a deadline: the refusal must give way once its short TTL is over.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if auth.decide("t-a").await == Decision::Tenant(Namespaces::only(["a"])) {
                break;
            }
            assert!(Instant::now() < deadline, "the refusal outlived its TTL");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A grant is then reused: no new TokenReview however often the token scrapes.
        let reviews = api.token_reviews.load(Ordering::SeqCst);
        for _ in 0..10 {
            auth.decide("t-a").await;
        }
        assert_eq!(api.token_reviews.load(Ordering::SeqCst), reviews);
    }

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_header_only() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  abc "),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }
}
