//! Every kind the agent knows, in the order their families appear in a scrape.
//!
//! Adding a kind is one file under `resources/` and one line in [`KINDS`].

use crate::config::KindCatalog;
use crate::resources::*;
use crate::watch::Watchable;

/// The registry. Order is exposition order.
pub static KINDS: &[&(dyn Watchable + 'static)] = &[
    // Node scope: every agent.
    &pod::KIND,
    &node::KIND,
    // Workloads.
    &daemonset::KIND,
    &deployment::KIND,
    &replicaset::KIND,
    &replicationcontroller::KIND,
    &statefulset::KIND,
    // Batch, autoscaling, policy.
    &job::KIND,
    &cronjob::KIND,
    &horizontalpodautoscaler::KIND,
    &poddisruptionbudget::KIND,
    // Storage, namespaces, quotas.
    &persistentvolume::KIND,
    &persistentvolumeclaim::KIND,
    &storageclass::KIND,
    &volumeattachment::KIND,
    &namespace::KIND,
    &resourcequota::KIND,
    &limitrange::KIND,
    // Configuration, services, endpoints.
    &configmap::KIND,
    &endpoint::KIND,
    &endpointslice::KIND,
    &secret::KIND,
    &service::KIND,
    &serviceaccount::KIND,
    // Networking, RBAC, admission, certificates, leases.
    &ingress::KIND,
    &ingressclass::KIND,
    &networkpolicy::KIND,
    &lease::KIND,
    &certificatesigningrequest::KIND,
    &role::KIND,
    &rolebinding::KIND,
    &clusterrole::KIND,
    &clusterrolebinding::KIND,
    &mutatingwebhookconfiguration::KIND,
    &validatingwebhookconfiguration::KIND,
    &validatingadmissionpolicy::KIND,
    &validatingadmissionpolicybinding::KIND,
    &mutatingadmissionpolicy::KIND,
    &mutatingadmissionpolicybinding::KIND,
];

/// The resources enabled without `--resources`: kube-state-metrics' `DefaultResources`, copied
/// from `pkg/options/resource.go` at kubernetes/kube-state-metrics@c92fe0c5ce02 (2026-08-20),
/// where it has 32 entries: `endpointslices` and not `endpoints`, and the four admission-policy
/// kinds. The other kinds (RBAC, service accounts, `endpoints`, ingress classes) are enabled by
/// naming them, as in KSM. Kept in KSM's (alphabetical) order so a diff against the Go map is
/// one glance; [`Catalog::default_resources`] returns them in registry order.
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
pub fn kind(resource: &str) -> Option<&'static dyn Watchable> {
    KINDS.iter().copied().find(|k| k.resource() == resource)
}

/// The `resource` label of `kube_state_metrics_list_total`/`_watch_total` for a request to
/// `group`/`version`/`plural`: kube-state-metrics' informer type (`*v1.Deployment`, see
/// [`KindInfo::informer_type`]) for a registered kind, at the version the request named;
/// `None` for anything else.
pub fn informer_type(group: &str, version: &str, plural: &str) -> Option<String> {
    infos()
        .find(|k| k.api_group() == group && k.plural() == plural)
        .map(|k| crate::resources::informer_type(version, k.kind_name()))
}

/// [`KINDS`] as the config validator sees it.
pub struct Catalog;

impl KindCatalog for Catalog {
    fn resources(&self) -> Vec<&'static str> {
        KINDS.iter().map(|k| k.resource()).collect()
    }

    fn default_resources(&self) -> Vec<&'static str> {
        KINDS
            .iter()
            .map(|k| k.resource())
            .filter(|r| DEFAULT_RESOURCES.contains(r))
            .collect()
    }

    fn families(&self) -> Vec<(&'static str, bool)> {
        KINDS
            .iter()
            .flat_map(|k| k.family_headers())
            .map(|h| (h.name, h.opt_in))
            .collect()
    }

    fn leader_only(&self) -> Vec<&'static str> {
        KINDS
            .iter()
            .filter(|k| matches!(k.scope(), Scope::Namespaced | Scope::Cluster))
            .map(|k| k.resource())
            .collect()
    }
}

/// Every kind as plain [`KindInfo`], for callers that do not watch.
pub fn infos() -> impl Iterator<Item = &'static dyn KindInfo> {
    KINDS.iter().map(|k| *k as &'static dyn KindInfo)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut ours = Catalog.default_resources();
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
