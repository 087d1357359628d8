//! ConfigMaps (`v1/ConfigMap`), scope [`Scope::Namespaced`]: watched by the leader only.
//! Mirrors kube-state-metrics' `internal/store/configmap.go` (`configMapMetricFamilies`), family
//! by family, in the same order.
//!
//! No family reads the payload, so the lean type is metadata only: `data` and `binaryData` are
//! not even declared, and serde skips them without building them. The identity labels
//! `namespace`, `configmap` are put in front by the writer, as `wrapConfigMapFunc` does. See
//! [`KIND`].
//!
//! This file also holds [`resource_version_sample`], the `_metadata_resource_version` shape the
//! secret kind shares.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::{annotations_sample, labels_sample, nonzero_timestamp_sample};
use super::{Family, Kind, Scope};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode type =====

/// The fields of a ConfigMap that the families read: its metadata, nothing else.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ConfigMap {
    /// Identity, labels, annotations, resource version, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
}
crate::impl_object!(
    ConfigMap,
    group = "",
    version = "v1",
    kind = "ConfigMap",
    plural = "configmaps"
);

// ===== family table =====

/// The configmap kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `configMapMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<ConfigMap> = Kind {
    resource: "configmaps",
    scope: Scope::Namespaced,
    identity,
    families: &[
        Family::experimental(
            "kube_configmap_annotations",
            "ConfigMap annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            annotations,
        ),
        Family::stable(
            "kube_configmap_labels",
            "ConfigMap labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            labels,
        ),
        Family::stable(
            "kube_configmap_info",
            "Always 1 for every ConfigMap; its labels identify it.",
            MetricType::Gauge,
            info,
        ),
        Family::stable(
            "kube_configmap_created",
            "Unix time (seconds) at which the ConfigMap was created.",
            MetricType::Gauge,
            created,
        ),
        Family::experimental(
            "kube_configmap_metadata_resource_version",
            "The ConfigMap's resourceVersion as a number, when it reads as one.",
            MetricType::Gauge,
            metadata_resource_version,
        ),
    ],
};

/// `namespace`, `configmap`, like `wrapConfigMapFunc`.
fn identity(c: &ConfigMap) -> Identity {
    Identity::new([
        ("namespace", c.metadata.namespace.as_deref().unwrap_or("")),
        ("configmap", c.metadata.name.as_deref().unwrap_or("")),
    ])
}

// ===== family functions =====

/// `kube_configmap_annotations`' generator: nothing when the allowlist is empty, else one sample.
fn annotations(c: &ConfigMap, out: &mut Series<'_>) {
    annotations_sample(out, c.metadata.annotations.as_ref());
}

/// `kube_configmap_labels`' generator: nothing when the allowlist is empty, else one sample.
fn labels(c: &ConfigMap, out: &mut Series<'_>) {
    labels_sample(out, c.metadata.labels.as_ref());
}

/// `kube_configmap_info`'s generator: always one sample.
fn info(_: &ConfigMap, out: &mut Series<'_>) {
    out.value(1.0);
}

/// `kube_configmap_created`'s generator: nothing when unset (Go's zero time).
fn created(c: &ConfigMap, out: &mut Series<'_>) {
    nonzero_timestamp_sample(out, c.metadata.creation_timestamp.as_ref());
}

/// `kube_configmap_metadata_resource_version`'s generator (`resourceVersionMetric`).
fn metadata_resource_version(c: &ConfigMap, out: &mut Series<'_>) {
    resource_version_sample(out, c.metadata.resource_version.as_deref());
}

// ===== shared with other kinds =====

/// KSM's `resourceVersionMetric` (`internal/store/utils.go`): one sample whose value is the
/// resourceVersion read by Go's `strconv.ParseFloat`, nothing when it does not parse (or is
/// unset, which Go sees as `""`).
///
/// NOTE: the shape is shared by every `_metadata_resource_version` family; it lives here until
/// it moves to `common.rs` (not ours to edit). The secret kind uses it from here.
pub(crate) fn resource_version_sample(out: &mut Series<'_>, resource_version: Option<&str>) {
    if let Some(v) = go_parse_float(resource_version.unwrap_or("")) {
        out.value(v);
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for the inputs a resourceVersion can hold, `None` where Go
/// returns an error:
/// - decimal literals with optional sign, fraction and exponent (`10596`, `-1.5e3`, `.5`, `1.`),
///   with `_` allowed only between digits as Go's `underscoreOK` rules (`1_000`);
/// - `inf`, `infinity` with an optional sign and `nan` without one, in any case;
/// - a finite literal too large for an `f64` is an error in Go (`ErrRange`), so `None` here.
///
/// Deliberate difference: Go also reads hexadecimal floats (`0x1p-2`); they are `None` here.
/// The apiserver's resourceVersions are decimal etcd revisions, so no real object has one.
pub(crate) fn go_parse_float(s: &str) -> Option<f64> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let negative = s.starts_with('-');
    // Go's `special`: the whole string must be the word, and `nan` takes no sign.
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if s.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    if !is_go_decimal_literal(unsigned) {
        return None;
    }
    let digits: String = s.chars().filter(|&c| c != '_').collect();
    // The grammar is checked above, so Rust's correctly rounded parser sees a plain decimal.
    let v: f64 = digits.parse().ok()?;
    v.is_finite().then_some(v)
}

/// `[digits][.digits][(e|E)[sign]digits]` with at least one mantissa digit and, when `_` occurs,
/// every `_` between two digits (Go's `underscoreOK`: a `.` or `e` next to `_` is refused).
fn is_go_decimal_literal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits_at = |mut i: usize| {
        let start = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
        (i, i > start)
    };
    let (after_int, int_digits) = digits_at(i);
    i = after_int;
    let mut frac_digits = false;
    if i < b.len() && b[i] == b'.' {
        let (after_frac, any) = digits_at(i + 1);
        i = after_frac;
        frac_digits = any;
    }
    let mantissa = &s[..i];
    if !(int_digits || frac_digits) || !mantissa.bytes().any(|c| c.is_ascii_digit()) {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        // Go requires a digit right after the exponent sign.
        if i >= b.len() || !b[i].is_ascii_digit() {
            return false;
        }
        i = digits_at(i).0;
    }
    i == b.len() && underscores_ok(s)
}

/// Go's `underscoreOK` for a sign-less decimal literal: each `_` follows a digit and is
/// followed by one.
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'_'
            || (i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::{KeyAllowlist, RenderContext};

    fn configmap(json: &str) -> ConfigMap {
        serde_json::from_str(json).unwrap()
    }

    fn render(c: &ConfigMap, ctx: &RenderContext, f: fn(&ConfigMap, &mut Series<'_>)) -> String {
        let ident = identity(c);
        let mut buf = Vec::new();
        f(c, &mut Series::new(&mut buf, "m", &ident, ctx));
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn resource_versions_parse_like_go_parse_float() {
        let cases: &[(&str, Option<f64>)] = &[
            ("10596", Some(10596.0)),
            ("000000", Some(0.0)),
            ("0", Some(0.0)),
            ("+7", Some(7.0)),
            ("-7", Some(-7.0)),
            ("1.5", Some(1.5)),
            (".5", Some(0.5)),
            ("5.", Some(5.0)),
            ("1e3", Some(1000.0)),
            ("1E+3", Some(1000.0)),
            ("2e-3", Some(0.002)),
            ("1_000", Some(1000.0)),
            ("1_0.2_5e1_0", Some(10.25e10)),
            ("18446744073709551615", Some(18_446_744_073_709_551_615.0)),
            ("1e-400", Some(0.0)),
            ("Inf", Some(f64::INFINITY)),
            ("-infinity", Some(f64::NEG_INFINITY)),
            ("123456B", None),
            ("BBBBB", None),
            ("", None),
            ("-", None),
            (".", None),
            ("e5", None),
            ("1e", None),
            ("1e+", None),
            ("1e_5", None),
            ("_1", None),
            ("1_", None),
            ("1__0", None),
            ("1_.5", None),
            ("1._5", None),
            ("1e400", None),
            ("infin", None),
            ("+nan", None),
            ("0x1p4", None),
            (" 1", None),
        ];
        for (s, want) in cases {
            assert_eq!(go_parse_float(s), *want, "parsing {s:?}");
        }
        assert!(go_parse_float("NaN").unwrap().is_nan());
        assert!(go_parse_float("nan").unwrap().is_nan());
    }

    #[test]
    fn resource_version_renders_only_when_numeric() {
        let ctx = RenderContext::default();
        let c = configmap(r#"{"metadata":{"name":"c","namespace":"n","resourceVersion":"10596"}}"#);
        assert_eq!(
            render(&c, &ctx, metadata_resource_version),
            "m{namespace=\"n\",configmap=\"c\"} 10596\n"
        );
        let c = configmap(r#"{"metadata":{"name":"c","namespace":"n","resourceVersion":"BBBBB"}}"#);
        assert_eq!(render(&c, &ctx, metadata_resource_version), "");
        let c = configmap(r#"{"metadata":{"name":"c","namespace":"n"}}"#);
        assert_eq!(render(&c, &ctx, metadata_resource_version), "");
    }

    #[test]
    fn the_payload_is_skipped_whatever_its_shape() {
        let c = configmap(
            r#"{"metadata":{"name":"c","namespace":"n"},"data":{"k":"v"},
            "binaryData":{"b":"AAEC"},"immutable":true}"#,
        );
        assert_eq!(
            render(&c, &RenderContext::default(), info),
            "m{namespace=\"n\",configmap=\"c\"} 1\n"
        );
        // Even a payload of the wrong type cannot fail the decode: it is never read.
        configmap(r#"{"metadata":{"name":"c"},"data":42}"#);
    }

    #[test]
    fn labels_follow_the_allowlist() {
        let c = configmap(r#"{"metadata":{"name":"c","namespace":"n","labels":{"app":"x"}}}"#);
        assert_eq!(render(&c, &RenderContext::default(), labels), "");
        let ctx = RenderContext {
            labels: KeyAllowlist::all(),
            ..RenderContext::default()
        };
        assert_eq!(
            render(&c, &ctx, labels),
            "m{namespace=\"n\",configmap=\"c\",label_app=\"x\"} 1\n"
        );
    }
}
