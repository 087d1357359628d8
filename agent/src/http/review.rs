//! The API server's answers for [`super::auth`]: TokenReview (`authentication.k8s.io/v1`) and
//! SubjectAccessReview (`authorization.k8s.io/v1`), through the agent's client. The agent's
//! ServiceAccount needs `create` on both (deploy/daemonset/auth-filter). See [`ApiReviewer`].

use futures::future::BoxFuture;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::PostParams;
use kube::{Api, Client};

use super::auth::{Access, ReviewError, Reviewer, User};

/// Reviews through the API server.
#[derive(Clone)]
pub struct ApiReviewer {
    client: Client,
}

impl ApiReviewer {
    /// Reviews with `client`'s credentials.
    pub fn new(client: Client) -> ApiReviewer {
        ApiReviewer { client }
    }
}

fn failed(review: &'static str) -> impl Fn(kube::Error) -> ReviewError {
    move |e| ReviewError {
        review,
        message: e.to_string(),
    }
}

impl Reviewer for ApiReviewer {
    fn authenticate(&self, token: &str) -> BoxFuture<'_, Result<Option<User>, ReviewError>> {
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_string()),
                audiences: None,
            },
            ..TokenReview::default()
        };
        Box::pin(async move {
            let api: Api<TokenReview> = Api::all(self.client.clone());
            let answer = api
                .create(&PostParams::default(), &review)
                .await
                .map_err(failed("TokenReview"))?;
            let Some(status) = answer.status else {
                return Ok(None);
            };
            if let Some(error) = status.error.filter(|e| !e.is_empty()) {
                // The token was looked at and refused (expired, bad signature...): not an
                // outage, so not a 503.
                tracing::debug!(%error, "token not authenticated");
            }
            if status.authenticated != Some(true) {
                return Ok(None);
            }
            let user = status.user.unwrap_or_default();
            Ok(Some(User {
                username: user.username.unwrap_or_default(),
                uid: user.uid.unwrap_or_default(),
                groups: user.groups.unwrap_or_default(),
                extra: user.extra.unwrap_or_default().into_iter().collect(),
            }))
        })
    }

    fn allowed<'a>(
        &'a self,
        user: &'a User,
        access: Access,
    ) -> BoxFuture<'a, Result<bool, ReviewError>> {
        let mut spec = SubjectAccessReviewSpec {
            user: Some(user.username.clone()),
            uid: (!user.uid.is_empty()).then(|| user.uid.clone()),
            groups: Some(user.groups.clone()),
            extra: (!user.extra.is_empty()).then(|| user.extra.clone().into_iter().collect()),
            ..SubjectAccessReviewSpec::default()
        };
        match access {
            Access::NonResource { verb, path } => {
                spec.non_resource_attributes = Some(NonResourceAttributes {
                    verb: Some(verb),
                    path: Some(path),
                });
            }
            Access::Resource {
                verb,
                group,
                resource,
                namespace,
            } => {
                spec.resource_attributes = Some(ResourceAttributes {
                    verb: Some(verb),
                    group: Some(group),
                    resource: Some(resource),
                    namespace,
                    ..ResourceAttributes::default()
                });
            }
        }
        let review = SubjectAccessReview {
            spec,
            ..SubjectAccessReview::default()
        };
        Box::pin(async move {
            let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
            let answer = api
                .create(&PostParams::default(), &review)
                .await
                .map_err(failed("SubjectAccessReview"))?;
            Ok(answer
                .status
                .is_some_and(|s| s.allowed && !s.denied.unwrap_or(false)))
        })
    }
}
