//! One file per Kubernetes kind, each holding that kind's lean decode type and its descriptor
//! ([`Kind`]: API type, scope, watch shapes, identity and ordered table of metric families) —
//! the shape of kube-state-metrics' `internal/store/<kind>.go`, so a reader finds a metric by
//! its kind.
//!
//! Nothing here does I/O, reads the clock or the environment, or spawns: a family function is
//! a pure function from a decoded object to samples. See [`Kind::render`].
//!
//! The [`kinds!`] list below is the registry: the only place a kind is named. It declares each
//! kind's module and puts its descriptor in [`KINDS`]; the checklist for adding a kind is in
//! `crate::registry`.

// Helpers shared by several kinds (no kind of their own).
pub mod admission;
pub mod common;
pub mod rbac;

mod kind;

pub use kind::*;

use crate::registry::KindInfo;

/// Declares every kind's module and lists its descriptor in [`KINDS`], in one line per kind.
macro_rules! kinds {
    ($($module:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// Every kind the agent knows, in the order their families appear in a scrape.
        pub static KINDS: &[&'static dyn KindInfo] = &[$(&$module::KIND),*];
    };
}

// The registry. Order is exposition order.
kinds! {
    // Node scope: every agent.
    pod,
    node,
    // Workloads.
    daemonset,
    deployment,
    replicaset,
    replicationcontroller,
    statefulset,
    // Batch, autoscaling, policy.
    job,
    cronjob,
    horizontalpodautoscaler,
    poddisruptionbudget,
    // Storage, namespaces, quotas.
    persistentvolume,
    persistentvolumeclaim,
    storageclass,
    volumeattachment,
    namespace,
    resourcequota,
    limitrange,
    // Configuration, services, endpoints.
    configmap,
    endpoint,
    endpointslice,
    secret,
    service,
    serviceaccount,
    // Networking, RBAC, admission, certificates, leases.
    ingress,
    ingressclass,
    networkpolicy,
    lease,
    certificatesigningrequest,
    role,
    rolebinding,
    clusterrole,
    clusterrolebinding,
    mutatingwebhookconfiguration,
    validatingwebhookconfiguration,
    validatingadmissionpolicy,
    validatingadmissionpolicybinding,
    mutatingadmissionpolicy,
    mutatingadmissionpolicybinding,
}
