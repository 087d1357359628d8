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

/// The resources enabled without `--resources`: kube-state-metrics' `DefaultResources`
/// (`pkg/options/resource.go`). The other kinds (RBAC, service accounts, endpoint slices,
/// ingress classes, admission policies) are enabled by naming them.
pub const DEFAULT_RESOURCES: &[&str] = &[
    "certificatesigningrequests",
    "configmaps",
    "cronjobs",
    "daemonsets",
    "deployments",
    "endpoints",
    "horizontalpodautoscalers",
    "ingresses",
    "jobs",
    "leases",
    "limitranges",
    "mutatingwebhookconfigurations",
    "namespaces",
    "networkpolicies",
    "nodes",
    "persistentvolumeclaims",
    "persistentvolumes",
    "poddisruptionbudgets",
    "pods",
    "replicasets",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "services",
    "statefulsets",
    "storageclasses",
    "validatingwebhookconfigurations",
    "volumeattachments",
];

/// The kind named `resource` (as `--resources` spells it).
pub fn kind(resource: &str) -> Option<&'static dyn Watchable> {
    KINDS.iter().copied().find(|k| k.resource() == resource)
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
