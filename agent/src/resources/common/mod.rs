//! Shapes that recur across kinds, one module per subject: [`metadata`] (owner references,
//! label maps, resource versions and the generic metadata families), [`time`] (timestamps and
//! Go's zero time), [`quantity`] (resource quantities), [`go_float`] (Go's float parsing),
//! [`ip`] (IP families) and [`decoding`] (serde helpers); conditions and booleans here.
//!
//! Each helper reproduces a named kube-state-metrics function (`internal/store/utils.go`),
//! apimachinery behaviour (`resource.Quantity`, `metav1.Time`) or Go library behaviour, so every
//! kind renders them the same way.

pub mod decoding;
pub mod go_float;
pub mod ip;
pub mod metadata;
pub mod quantity;
pub mod time;

pub use decoding::*;
pub use go_float::*;
pub use ip::*;
pub use metadata::{
    annotations_sample, kube_map_labels, labels_sample, owner_samples, prometheus_label_name,
    resource_version_sample,
};
pub use quantity::*;
pub use time::*;

use crate::exposition::Series;

/// `boolFloat64`: 1 for true, 0 for false.
pub fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// The condition statuses kube-state-metrics enumerates, as Kubernetes spells them and as the
/// `status` label spells them.
pub const CONDITION_STATUSES: [(&str, &str); 3] =
    [("True", "true"), ("False", "false"), ("Unknown", "unknown")];

/// `addConditionMetrics`: one sample per condition status (`true`, `false`, `unknown`), 1 for
/// the one equal to `status`, after the caller's `labels`; the status label is always last.
pub fn condition_samples(out: &mut Series<'_>, labels: &[(&str, &str)], status: &str) {
    condition_samples_as(out, labels, "status", status);
}

/// [`condition_samples`] with the status label named `status_label`: job.go and pod.go call
/// `addConditionMetrics` and rename its label to `condition`.
pub fn condition_samples_as(
    out: &mut Series<'_>,
    labels: &[(&str, &str)],
    status_label: &str,
    status: &str,
) {
    for (k8s, label) in CONDITION_STATUSES {
        out.sample(
            labels.iter().copied().chain([(status_label, label)]),
            bool_value(status == k8s),
        );
    }
}

/// An optional string field as Go reads it: `""` when unset.
pub fn text(v: Option<&String>) -> &str {
    v.map_or("", String::as_str)
}

#[cfg(test)]
pub(crate) mod testing {
    use crate::exposition::{RenderContext, Series};

    /// What `f` writes for an object whose identity is `obj="o"`, with `ctx`.
    pub(super) fn render(ctx: &RenderContext, f: impl FnOnce(&mut Series<'_>)) -> String {
        let ident = crate::exposition::Identity::new([("obj", "o")]);
        let mut buf = Vec::new();
        f(&mut Series::new(&mut buf, "m", &ident, ctx));
        String::from_utf8(buf).unwrap()
    }
}
