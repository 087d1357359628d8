//! Leases (`coordination.k8s.io/v1/Lease`), scope [`Scope::Namespaced`]: watched by the
//! leader. Mirrors kube-state-metrics' `internal/store/lease.go`
//! (`leaseMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`Lease`]; the identity label `lease` is put in
//! front by the writer, as `wrapLeaseFunc` does. Although leases are namespaced, KSM's identity
//! is the name alone: `namespace` is a family label, in the middle of `kube_lease_owner`'s labels
//! and after `lease` in `kube_lease_renew_time`. See [`KIND`].
//!
//! NOTE: KSM lists leases in every namespace whatever `--namespaces` says
//! (`createLeaseListWatch` ignores its namespace argument; kube-state-metrics issue #2121).
//! The kind is declared namespaced because it is; whichever namespace filter the agent applies
//! to namespaced kinds applies here too.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use serde::Deserialize;

use super::common::{is_go_zero, null_as_default, timestamp};
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a Lease that the families read; everything else is skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct Lease {
    /// Identity and owner references.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: LeaseSpec,
}
crate::impl_object!(Lease => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct LeaseSpec {
    /// Who holds the lease.
    pub holder_identity: Option<String>,
    /// When the holder last renewed it (microsecond precision).
    pub renew_time: Option<MicroTime>,
}

// ===== family table =====

/// The lease kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `leaseMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<Lease> = Kind {
    resource: "leases",
    api: ApiType::new("coordination.k8s.io", "v1", "Lease", "leases"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::lease::Lease>),
    identity,
    families: &[
        Family::experimental(
            "kube_lease_owner",
            "One series per owner reference of the lease, with its namespace and current holder.",
            MetricType::Gauge,
            owner,
        ),
        Family::experimental(
            "kube_lease_renew_time",
            "Unix time (seconds) at which the lease holder last renewed the lease.",
            MetricType::Gauge,
            renew_time,
        ),
    ],
};

/// `lease`, like `wrapLeaseFunc`.
fn identity(l: &Lease) -> Identity {
    Identity::new([("lease", l.metadata.name.as_deref().unwrap_or(""))])
}

// ===== family functions =====

/// `kube_lease_owner` in `leaseMetricFamilies`: `owner_kind`, `owner_name`, `namespace`,
/// `lease_holder`; one sample per owner reference, or one with empty owner labels when there is
/// none.
fn owner(l: &Lease, out: &mut Series<'_>) {
    let namespace = l.metadata.namespace.as_deref().unwrap_or("");
    let holder = l.spec.holder_identity.as_deref().unwrap_or("");
    let owners = l.metadata.owner_references.as_deref().unwrap_or_default();
    if owners.is_empty() {
        out.sample(
            [
                ("owner_kind", ""),
                ("owner_name", ""),
                ("namespace", namespace),
                ("lease_holder", holder),
            ],
            1.0,
        );
    }
    for o in owners {
        out.sample(
            [
                ("owner_kind", o.kind.as_str()),
                ("owner_name", o.name.as_str()),
                ("namespace", namespace),
                ("lease_holder", holder),
            ],
            1.0,
        );
    }
}

/// `kube_lease_renew_time`: `namespace`, then the renew time in whole seconds; nothing when unset
/// or Go's zero time.
///
/// The `namespace` label came with kube-state-metrics PR #2073 (issue #2071, 2023), which our
/// stored copy of lease.go predates; its position after `lease` is as KSM's output since shows it.
fn renew_time(l: &Lease, out: &mut Series<'_>) {
    // A MicroTime is a Time with more digits on the wire; both truncate to seconds alike.
    let Some(renewed) = l.spec.renew_time.as_ref().map(|t| Time(t.0)) else {
        return;
    };
    if !is_go_zero(&renewed) {
        let namespace = l.metadata.namespace.as_deref().unwrap_or("");
        out.sample([("namespace", namespace)], timestamp(&renewed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(l: &Lease, f: fn(&Lease, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(l, identity(l), &RenderContext::default(), f)
    }

    fn lease(json: &str) -> Lease {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_lease_without_owners_gives_one_owner_sample_with_empty_owner_labels() {
        let l = lease(r#"{"metadata":{"name":"kube-scheduler","namespace":"kube-system"}}"#);
        assert_eq!(
            render(&l, owner),
            "m{lease=\"kube-scheduler\",owner_kind=\"\",owner_name=\"\",\
             namespace=\"kube-system\",lease_holder=\"\"} 1\n"
        );
    }

    #[test]
    fn renew_time_truncates_microseconds_and_skips_unset_or_zero_times() {
        let l = lease(
            r#"{"metadata":{"name":"n1","namespace":"kube-node-lease"},
            "spec":{"renewTime":"2017-07-14T02:40:00.999999Z"}}"#,
        );
        assert_eq!(
            render(&l, renew_time),
            "m{lease=\"n1\",namespace=\"kube-node-lease\"} 1.5e+09\n"
        );
        let zero = lease(r#"{"spec":{"renewTime":"0001-01-01T00:00:00.000000Z"}}"#);
        assert_eq!(render(&zero, renew_time), "");
        let unset = lease(r#"{"spec":{"renewTime":null}}"#);
        assert_eq!(render(&unset, renew_time), "");
    }
}
