//! The registry: every kind the agent knows, seen without its object type ([`KindInfo`]),
//! with kube-state-metrics' default set and the lookups built on the list.
//!
//! # Adding a kind
//! 1. `resources/<kind>.rs`: the lean type(s) the families read (serde skips the rest), then
//!    `crate::impl_object!(Lean => KIND);` and the descriptor `pub static KIND: Kind<Lean>` —
//!    resource name, [`ApiType`], [`Scope`], watch shapes, protobuf decoder (`None` until the kind
//!    has a lean message in `crate::wire`), identity labels and the family table in
//!    kube-state-metrics' order. Unit tests for its families sit in the same file.
//! 2. One line in the `kinds!` list of `resources/mod.rs`, where its families should appear in
//!    a scrape. That list is the only one: modules, [`KINDS`], the config's catalog, the
//!    informer types and every check below derive from it.
//! 3. `agent/tests/golden/<resource>/full.yaml` (every family renders a sample) and
//!    `minimal.yaml`, then `UPDATE_GOLDEN=1 cargo test -p kube-state-agent --test golden
//!    --test generated` writes the expected `.prom` files, the ClusterRole's rules
//!    (`deploy/daemonset/clusterrole.yaml`) and the kinds table of `docs/metrics.md`. Review
//!    that diff; without the update those tests fail, naming the kind.
//! 4. If kube-state-metrics enables it by default, add it to [`DEFAULT_RESOURCES`] (KSM first).
//!
//! The live test (`tests/live/kinds.rs`) creates each kind the test apiserver serves from its
//! golden `minimal.yaml` (or a richer object in `tests/live/fixtures/every-kind.yaml`) and
//! fails when one exports nothing.

use bytes::Bytes;
use futures::future::BoxFuture;

use crate::config::Catalog;
use crate::decode::{Decoded, Object};
use crate::exposition::RenderContext;
pub use crate::resources::KINDS;
use crate::resources::{ApiType, FamilyHeader, FamilySelection, Kind, Rows, Scope};
use crate::store::Writer;
use crate::watch::{StopSignal, WatchContext, WatchSpec};
use crate::wire;

/// A kind with its object type erased: what the config, planning, snapshot and test layers see
/// of a [`Kind`] descriptor, and the door to its typed watch loop.
pub trait KindInfo: Send + Sync {
    /// The `--resources` name.
    fn resource(&self) -> &'static str;
    /// Where the API server serves it.
    fn api(&self) -> ApiType;
    /// The API group, `""` for the core group. With [`Self::plural`] it is what an RBAC rule
    /// names to grant `list`/`watch` on the kind.
    fn api_group(&self) -> &'static str {
        self.api().group
    }
    /// The resource as URLs and RBAC rules spell it (`pods`, `endpointslices`).
    fn plural(&self) -> &'static str {
        self.api().plural
    }
    /// The API version within the group the kind is read from (`v1`, `v2`).
    fn api_version(&self) -> &'static str {
        self.api().version
    }
    /// `kind` as the API spells it (`Pod`, `HorizontalPodAutoscaler`).
    fn kind_name(&self) -> &'static str {
        self.api().kind
    }
    /// The `resource` label kube-state-metrics puts on `kube_state_metrics_list_total` and
    /// `_watch_total`: its informer's Go type, `reflect.TypeOf(expectedType).String()` in
    /// `internal/store/builder.go` (`startReflector`), e.g. `*v1.Pod`,
    /// `*v2.HorizontalPodAutoscaler`. Go names a package by its last path element, which for
    /// `k8s.io/api/<group>/<version>` is the API version.
    fn informer_type(&self) -> String {
        informer_type_at(self.api_version(), self.kind_name())
    }
    /// Who watches it.
    fn scope(&self) -> Scope;
    /// Whether it is a custom resource of the custom resource state config
    /// (`crate::custom::kind`): enabled by being configured, not by `--resources`.
    fn is_custom(&self) -> bool {
        false
    }
    /// For a custom resource the config marks node-bound (`nodeNameFromPath`): the field
    /// selector label naming an object's node (`spec.nodeName`). Node agents then watch it
    /// too, each for its node's objects, when the API server can select on that field
    /// ([`crate::watch::NodeBinding`]).
    fn node_field(&self) -> Option<&str> {
        None
    }
    /// The family headers in table order.
    fn family_headers(&self) -> Vec<FamilyHeader>;
    /// The extra field selector of each of the kind's lean watch shapes, in shape order (`""`
    /// for none).
    fn shape_selectors(&self) -> Vec<&'static str>;
    /// Whether the kind is listed and watched as protobuf unless `--api-encoding=json`.
    fn has_protobuf(&self) -> bool;
    /// Decodes one object from its JSON and renders it, as a watch would.
    ///
    /// # Errors
    /// The decode error when the JSON does not match the kind's lean type.
    fn render_json(
        &self,
        json: &str,
        ctx: &RenderContext,
        selection: &FamilySelection,
    ) -> Result<Rows, serde_json::Error>;
    /// Decodes one enveloped protobuf object (`k8s\0`, as a get answers it or a watch event
    /// carries it) with the kind's lean message and renders it, as a protobuf watch would: the
    /// protobuf twin of [`Self::render_json`], so one loop over [`KINDS`] checks every kind's
    /// message against its JSON.
    ///
    /// # Errors
    /// When the kind has no lean message, the payload is not an envelope of the kind's
    /// apiVersion and kind, or the object does not decode ([`wire::Error::Malformed`]).
    fn render_protobuf(
        &self,
        object: Bytes,
        ctx: &RenderContext,
        selection: &FamilySelection,
    ) -> Result<Rows, wire::Error>;
    /// Watches `spec.target`, feeding `writer`, until `stop` turns true; then clears the
    /// shard (its rows leave the next snapshot) and hands the writer back for a later watch.
    /// See `crate::watch`.
    fn watch(
        &'static self,
        spec: WatchSpec,
        ctx: WatchContext,
        writer: Writer,
        stop: StopSignal,
    ) -> BoxFuture<'static, Writer>;
}

impl<K: Object> KindInfo for Kind<K> {
    fn resource(&self) -> &'static str {
        self.resource
    }
    fn api(&self) -> ApiType {
        self.api
    }
    fn scope(&self) -> Scope {
        self.scope
    }
    fn family_headers(&self) -> Vec<FamilyHeader> {
        self.headers()
    }
    fn shape_selectors(&self) -> Vec<&'static str> {
        self.shapes.iter().map(|s| s.field_selector).collect()
    }
    fn has_protobuf(&self) -> bool {
        self.protobuf.is_some()
    }
    fn render_json(
        &self,
        json: &str,
        ctx: &RenderContext,
        selection: &FamilySelection,
    ) -> Result<Rows, serde_json::Error> {
        let obj: K = serde_json::from_str(json)?;
        Ok(self.render(&obj, ctx, selection))
    }
    fn render_protobuf(
        &self,
        object: Bytes,
        ctx: &RenderContext,
        selection: &FamilySelection,
    ) -> Result<Rows, wire::Error> {
        let decode = self.protobuf.ok_or(wire::Error::NoMessage(self.resource))?;
        let raw =
            wire::envelope::open(object)?.into_raw(&wire::api_version::<K>(), self.api.kind)?;
        match decode(raw) {
            Decoded::Object(obj) => Ok(self.render(&obj, ctx, selection)),
            Decoded::Malformed { error, .. } => Err(wire::Error::Malformed(error)),
        }
    }
    fn watch(
        &'static self,
        spec: WatchSpec,
        ctx: WatchContext,
        writer: Writer,
        stop: StopSignal,
    ) -> BoxFuture<'static, Writer> {
        Box::pin(crate::watch::run(self, spec, ctx, writer, stop))
    }
}

/// The resources enabled without `--resources`: kube-state-metrics' `DefaultResources`, copied
/// from `pkg/options/resource.go` at kubernetes/kube-state-metrics@c92fe0c5ce02 (2026-08-20),
/// where it has 32 entries: `endpointslices` and not `endpoints`, and the four admission-policy
/// kinds. The other kinds (RBAC, service accounts, `endpoints`, ingress classes) are enabled by
/// naming them, as in KSM. Kept in KSM's (alphabetical) order so a diff against the Go map is
/// one glance; [`catalog`] returns them in registry order.
///
/// NOTE: `tests::default_resources_are_ksms_default_resources` holds an independent copy of
/// KSM's map; a change here MUST be a change in KSM first.
pub const DEFAULT_RESOURCES: &[&str] = &[
    "certificatesigningrequests",
    "configmaps",
    "cronjobs",
    "daemonsets",
    "deployments",
    "endpointslices",
    "horizontalpodautoscalers",
    "ingresses",
    "jobs",
    "leases",
    "limitranges",
    "mutatingadmissionpolicies",
    "mutatingadmissionpolicybindings",
    "mutatingwebhookconfigurations",
    "namespaces",
    "networkpolicies",
    "nodes",
    "persistentvolumes",
    "persistentvolumeclaims",
    "poddisruptionbudgets",
    "pods",
    "replicasets",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "services",
    "statefulsets",
    "storageclasses",
    "validatingadmissionpolicies",
    "validatingadmissionpolicybindings",
    "validatingwebhookconfigurations",
    "volumeattachments",
];

/// The kind named `resource` (as `--resources` spells it).
pub fn kind(resource: &str) -> Option<&'static dyn KindInfo> {
    KINDS.iter().copied().find(|k| k.resource() == resource)
}

/// The `resource` label of `kube_state_metrics_list_total`/`_watch_total` for a request to
/// `group`/`version`/`plural`: kube-state-metrics' informer type (`*v1.Deployment`, see
/// [`KindInfo::informer_type`]) for a registered kind, at the version the request named;
/// `None` for anything else.
pub fn informer_type(group: &str, version: &str, plural: &str) -> Option<String> {
    infos()
        .find(|k| k.api_group() == group && k.plural() == plural)
        .map(|k| informer_type_at(version, k.kind_name()))
}

/// kube-state-metrics' informer type name for `kind` read at `version`: `*v1.Deployment`.
fn informer_type_at(version: &str, kind: &str) -> String {
    format!("*{version}.{kind}")
}

/// [`KINDS`] as the config validator sees it.
pub fn catalog() -> Catalog {
    let resources = || KINDS.iter().map(|k| k.resource());
    Catalog {
        resources: resources().collect(),
        default_resources: resources()
            .filter(|r| DEFAULT_RESOURCES.contains(r))
            .collect(),
        families: KINDS
            .iter()
            .flat_map(|k| k.family_headers())
            .map(|h| (h.name, h.opt_in))
            .collect(),
        leader_only: KINDS
            .iter()
            .filter(|k| matches!(k.scope(), Scope::Namespaced | Scope::Cluster))
            .map(|k| k.resource())
            .collect(),
    }
}

/// Every kind as plain [`KindInfo`].
pub fn infos() -> impl Iterator<Item = &'static dyn KindInfo> {
    KINDS.iter().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enveloped_object_renders_through_the_registry_as_its_json_twin() {
        use prost::Message as _;
        let pods = kind("pods").expect("pods");
        let ctx = RenderContext::default();
        let selection = FamilySelection::new(&pods.family_headers(), |_| true);
        let message = wire::pod::Pod {
            metadata: Some(wire::meta::ObjectMeta {
                name: Some("web".into()),
                namespace: Some("shop".into()),
                uid: Some("u1".into()),
                ..Default::default()
            }),
            status: Some(wire::pod::PodStatus {
                phase: Some("Running".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec();
        let sealed =
            |api_version, kind| Bytes::from(wire::envelope::seal(api_version, kind, &message));
        let rows = pods
            .render_protobuf(sealed("v1", "Pod"), &ctx, &selection)
            .expect("renders");
        let json = r#"{"metadata":{"name":"web","namespace":"shop","uid":"u1"},
                       "status":{"phase":"Running"}}"#;
        let twin = pods.render_json(json, &ctx, &selection).unwrap();
        assert!(!rows.all().is_empty());
        assert_eq!(rows.all(), twin.all());
        assert!(matches!(
            pods.render_protobuf(sealed("v1", "Node"), &ctx, &selection),
            Err(wire::Error::UnexpectedType { .. })
        ));
        let garbage = Bytes::from(wire::envelope::seal("v1", "Pod", &[0x0a, 0x05, 0x01]));
        assert!(matches!(
            pods.render_protobuf(garbage, &ctx, &selection),
            Err(wire::Error::Malformed(_))
        ));
    }

    #[test]
    fn every_default_resource_is_registered() {
        for r in DEFAULT_RESOURCES {
            assert!(
                kind(r).is_some(),
                "{r} is a default resource but not registered"
            );
        }
    }

    /// KSM's `DefaultResources` as written in `pkg/options/resource.go` at
    /// kubernetes/kube-state-metrics@c92fe0c5ce02d3b52abf54490e00db6c706f2ba5.
    const KSM_DEFAULT_RESOURCES: &str = "
        certificatesigningrequests configmaps cronjobs daemonsets deployments endpointslices
        horizontalpodautoscalers ingresses jobs leases limitranges mutatingadmissionpolicies
        mutatingadmissionpolicybindings mutatingwebhookconfigurations namespaces networkpolicies
        nodes persistentvolumes persistentvolumeclaims poddisruptionbudgets pods replicasets
        replicationcontrollers resourcequotas secrets services statefulsets storageclasses
        validatingadmissionpolicies validatingadmissionpolicybindings
        validatingwebhookconfigurations volumeattachments";

    #[test]
    fn default_resources_are_ksms_default_resources() {
        let mut ksm: Vec<&str> = KSM_DEFAULT_RESOURCES.split_whitespace().collect();
        ksm.sort_unstable();
        assert_eq!(ksm.len(), 32, "KSM's map has 32 entries");
        let mut ours = catalog().default_resources;
        ours.sort_unstable();
        assert_eq!(ours, ksm);
        assert!(!ours.contains(&"endpoints"), "KSM dropped endpoints");
    }

    #[test]
    fn list_and_watch_counters_are_labelled_with_ksms_informer_types() {
        // As kube-state-metrics writes them (reflect.TypeOf of the k8s.io/api type).
        for (resource, ksm) in [
            ("pods", "*v1.Pod"),
            ("deployments", "*v1.Deployment"),
            ("horizontalpodautoscalers", "*v2.HorizontalPodAutoscaler"),
            ("poddisruptionbudgets", "*v1.PodDisruptionBudget"),
            ("endpoints", "*v1.Endpoints"),
            ("endpointslices", "*v1.EndpointSlice"),
            ("cronjobs", "*v1.CronJob"),
            (
                "certificatesigningrequests",
                "*v1.CertificateSigningRequest",
            ),
            (
                "validatingadmissionpolicies",
                "*v1.ValidatingAdmissionPolicy",
            ),
        ] {
            let kind = kind(resource).expect("registered");
            assert_eq!(kind.informer_type(), ksm, "{resource}");
            assert_eq!(
                informer_type(kind.api_group(), kind.api_version(), kind.plural()).as_deref(),
                Some(ksm)
            );
        }
        assert_eq!(informer_type("", "v1", "bindings"), None);
        assert_eq!(
            informer_type("apps", "v1", "pods"),
            None,
            "group and resource together"
        );
    }

    #[test]
    fn resource_names_and_family_names_are_unique() {
        let mut resources: Vec<&str> = KINDS.iter().map(|k| k.resource()).collect();
        resources.sort_unstable();
        resources.dedup();
        assert_eq!(
            resources.len(),
            KINDS.len(),
            "a resource is registered twice"
        );
        let mut names: Vec<&str> = infos()
            .flat_map(|k| k.family_headers().into_iter().map(|h| h.name))
            .collect();
        let total = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), total, "a family name appears in two rows");
    }
}
