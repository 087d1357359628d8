//! Object metadata as families: owner references, label and annotation maps turned into
//! Prometheus labels (`kube_<kind>_labels`, `_annotations`), the resource version; and the generic
//! family functions every kind's table uses for them ([`created`], [`labels`], ...).

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::go_float::go_parse_float;
use super::time::nonzero_timestamp_sample;
use crate::config::KeyAllowlist;
use crate::decode::Object;
use crate::exposition::{RenderContext, Series, sanitize_label_name};

// ===== generic families =====
//
// The families whose samples come from `metadata` alone, the same for every kind. A kind's table
// names them directly (`metadata::created`); the metric name comes from the table.

/// `kube_<kind>_created`: the creation time; nothing when unset or Go's zero time.
pub fn created<K: Object>(obj: &K, out: &mut Series<'_>) {
    nonzero_timestamp_sample(out, obj.meta().creation_timestamp.as_ref());
}

/// `kube_<kind>_deletion_timestamp`: the deletion time; nothing when unset or Go's zero time.
pub fn deletion_timestamp<K: Object>(obj: &K, out: &mut Series<'_>) {
    nonzero_timestamp_sample(out, obj.meta().deletion_timestamp.as_ref());
}

/// `kube_<kind>_labels`: one sample with the allowlisted labels; nothing when the allowlist is
/// empty.
pub fn labels<K: Object>(obj: &K, out: &mut Series<'_>) {
    labels_sample(out, obj.meta().labels.as_ref());
}

/// `kube_<kind>_annotations`: one sample with the allowlisted annotations; nothing when the
/// allowlist is empty.
pub fn annotations<K: Object>(obj: &K, out: &mut Series<'_>) {
    annotations_sample(out, obj.meta().annotations.as_ref());
}

/// `kube_<kind>_metadata_resource_version`: the resourceVersion when numeric.
pub fn resource_version<K: Object>(obj: &K, out: &mut Series<'_>) {
    resource_version_sample(out, obj.meta().resource_version.as_deref());
}

/// `kube_<kind>_metadata_generation`: `metadata.generation`, 0 when unset.
pub fn generation<K: Object>(obj: &K, out: &mut Series<'_>) {
    out.value(obj.meta().generation.unwrap_or(0) as f64);
}

/// `kube_<kind>_owner`: one sample per owner reference ([`owner_samples`]).
pub fn owners<K: Object>(obj: &K, out: &mut Series<'_>) {
    owner_samples(out, obj.meta().owner_references.as_deref());
}

// ===== owner references =====

/// The `_owner` shape of pods, jobs, replica sets, replication controllers and secrets
/// (`createPodOwnerFamilyGenerator` and its twins): `owner_kind`, `owner_name`,
/// `owner_is_controller` (`strconv.FormatBool`, `false` when `controller` is unset) per owner
/// reference, in metadata order; one sample with all three empty when there is none (KSM 1.x
/// wrote `<none>`, 2.x writes empty values, as replicaset_test.go expects).
pub fn owner_samples(out: &mut Series<'_>, owners: Option<&[OwnerReference]>) {
    let owners = owners.unwrap_or_default();
    if owners.is_empty() {
        out.sample(
            [
                ("owner_kind", ""),
                ("owner_name", ""),
                ("owner_is_controller", ""),
            ],
            1.0,
        );
        return;
    }
    for o in owners {
        let is_controller = if o.controller == Some(true) {
            "true"
        } else {
            "false"
        };
        out.sample(
            [
                ("owner_kind", o.kind.as_str()),
                ("owner_name", o.name.as_str()),
                ("owner_is_controller", is_controller),
            ],
            1.0,
        );
    }
}

/// `toSnakeCase`: `_` before an upper-case letter that follows a lower-case letter or digit,
/// then lower-cased.
fn to_snake_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut prev: Option<char> = None;
    for c in s.chars() {
        if c.is_ascii_uppercase()
            && prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
        {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
        prev = Some(c);
    }
    out
}

/// `labelName`: `prefix_` + the key sanitized and snake-cased.
pub fn prometheus_label_name(prefix: &str, key: &str) -> String {
    format!("{prefix}_{}", to_snake_case(&sanitize_label_name(key)))
}

/// `createPrometheusLabelKeysValues` + `mapToPrometheusLabels`: the allowed keys of a Kubernetes
/// label or annotation map as Prometheus label pairs, sorted by Kubernetes key.
///
/// Names that collide after sanitizing are resolved as current KSM does: the first collision
/// renames the name already emitted to `<name>_conflict1` and gives the newcomer
/// `<name>_conflict2`; later ones take the next number. A suffixed name that another key already
/// produced is skipped (its number too), so a sample never carries one label name twice.
pub fn kube_map_labels(
    prefix: &str,
    map: Option<&BTreeMap<String, String>>,
    allow: &KeyAllowlist,
) -> Vec<(String, String)> {
    let Some(map) = map else {
        return Vec::new();
    };
    if allow.is_empty() {
        return Vec::new();
    }
    // BTreeMap iterates in sorted key order, which is Go's slices.Sort order for UTF-8.
    let mut out: Vec<(String, String)> = Vec::new();
    // Emitted name -> its index in `out`.
    let mut used: HashMap<String, usize> = HashMap::new();
    // Sanitized name -> the last conflict number handed out for it.
    let mut conflicts: HashMap<String, usize> = HashMap::new();
    let next_free = |base: &str, count: &mut usize, used: &HashMap<String, usize>| loop {
        *count += 1;
        let candidate = format!("{base}_conflict{count}");
        if !used.contains_key(&candidate) {
            return candidate;
        }
    };
    for (k, v) in map.iter().filter(|(k, _)| allow.allows(k)) {
        let base = prometheus_label_name(prefix, k);
        let name = if let Some(count) = conflicts.get_mut(&base) {
            next_free(&base, count, &used)
        } else if let Some(idx) = used.remove(&base) {
            let mut count = 0;
            let renamed = next_free(&base, &mut count, &used);
            out[idx].0 = renamed.clone();
            used.insert(renamed, idx);
            let name = next_free(&base, &mut count, &used);
            conflicts.insert(base, count);
            name
        } else {
            base
        };
        used.insert(name.clone(), out.len());
        out.push((name, v.clone()));
    }
    out
}

/// `createPodLabelsGenerator`, `createNodeLabelsGenerator`, …: the `kube_<kind>_labels` shape.
/// Nothing when the labels allowlist is empty, else one sample carrying the allowed labels as
/// `label_*` pairs (bare when none of them is set).
pub fn labels_sample(out: &mut Series<'_>, labels: Option<&BTreeMap<String, String>>) {
    allowlisted_map_sample(out, "label", labels, |ctx| &ctx.labels);
}

/// `createPodAnnotationsGenerator`, `createNodeAnnotationsGenerator`, …: the
/// `kube_<kind>_annotations` shape, as [`labels_sample`] with `annotation_*` pairs.
pub fn annotations_sample(out: &mut Series<'_>, annotations: Option<&BTreeMap<String, String>>) {
    allowlisted_map_sample(out, "annotation", annotations, |ctx| &ctx.annotations);
}

/// The shape [`labels_sample`] and [`annotations_sample`] share, with `allowlist` picking which
/// allowlist of the render context applies.
fn allowlisted_map_sample(
    out: &mut Series<'_>,
    prefix: &str,
    map: Option<&BTreeMap<String, String>>,
    allowlist: fn(&RenderContext) -> &KeyAllowlist,
) {
    let allow = allowlist(out.context());
    if allow.is_empty() {
        return;
    }
    let pairs = kube_map_labels(prefix, map, allow);
    out.sample(pairs, 1.0);
}

// ===== resource version =====

/// KSM's `resourceVersionMetric` (`internal/store/utils.go`): one sample whose value is the
/// resourceVersion read by Go's `strconv.ParseFloat` ([`go_parse_float`]), nothing when it does
/// not parse (or is unset, which Go sees as `""`). Every `_metadata_resource_version` family is
/// this shape.
pub fn resource_version_sample(out: &mut Series<'_>, resource_version: Option<&str>) {
    if let Some(v) = go_parse_float(resource_version.unwrap_or("")) {
        out.value(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::common::testing::render;

    #[test]
    fn resource_version_sample_renders_only_when_numeric() {
        let ctx = RenderContext::default();
        assert_eq!(
            render(&ctx, |out| resource_version_sample(out, Some("10596"))),
            "m{obj=\"o\"} 10596\n"
        );
        assert_eq!(
            render(&ctx, |out| resource_version_sample(out, Some("BBBBB"))),
            ""
        );
        assert_eq!(render(&ctx, |out| resource_version_sample(out, None)), "");
    }

    #[test]
    fn label_and_annotation_samples_follow_their_own_allowlist() {
        let map: BTreeMap<String, String> = [("teamName".to_string(), "core".to_string())].into();
        let none = RenderContext::default();
        assert_eq!(render(&none, |out| labels_sample(out, Some(&map))), "");
        assert_eq!(render(&none, |out| annotations_sample(out, Some(&map))), "");
        let labels_only = RenderContext {
            labels: KeyAllowlist::all(),
            ..RenderContext::default()
        };
        assert_eq!(
            render(&labels_only, |out| labels_sample(out, Some(&map))),
            "m{obj=\"o\",label_team_name=\"core\"} 1\n"
        );
        assert_eq!(
            render(&labels_only, |out| annotations_sample(out, Some(&map))),
            ""
        );
        let annotations_only = RenderContext {
            annotations: KeyAllowlist::all(),
            ..RenderContext::default()
        };
        assert_eq!(
            render(&annotations_only, |out| annotations_sample(out, Some(&map))),
            "m{obj=\"o\",annotation_team_name=\"core\"} 1\n"
        );
        // An allowlist with nothing set still gives the one bare sample.
        assert_eq!(
            render(&annotations_only, |out| annotations_sample(out, None)),
            "m{obj=\"o\"} 1\n"
        );
    }

    #[test]
    fn label_maps_sort_sanitize_snake_case_and_resolve_conflicts() {
        let map: BTreeMap<String, String> = [
            ("app.kubernetes.io/name", "web"),
            ("app_kubernetes_io/name", "other"),
            ("teamName", "core"),
            ("hidden", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let all = kube_map_labels("label", Some(&map), &KeyAllowlist::all());
        assert_eq!(
            all,
            vec![
                (
                    "label_app_kubernetes_io_name_conflict1".into(),
                    "web".into()
                ),
                (
                    "label_app_kubernetes_io_name_conflict2".into(),
                    "other".into()
                ),
                ("label_hidden".into(), "x".into()),
                ("label_team_name".into(), "core".into()),
            ]
        );
        let some = KeyAllowlist::new(["teamName", "missing"]);
        assert_eq!(
            kube_map_labels("label", Some(&map), &some),
            vec![("label_team_name".into(), "core".into())]
        );
        assert!(kube_map_labels("label", Some(&map), &KeyAllowlist::default()).is_empty());
    }

    fn labels_of(keys: &[&str]) -> Vec<String> {
        let map: BTreeMap<String, String> = keys
            .iter()
            .map(|k| (k.to_string(), k.to_string()))
            .collect();
        kube_map_labels("label", Some(&map), &KeyAllowlist::all())
            .into_iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect()
    }

    #[test]
    fn conflict_suffixes_skip_names_another_key_already_produced() {
        // KSM's mapToPrometheusLabels test cases: a suffixed name never repeats a name in use.
        assert_eq!(
            labels_of(&["foo.bar", "foo_bar"]),
            [
                "label_foo_bar_conflict1=foo.bar",
                "label_foo_bar_conflict2=foo_bar"
            ]
        );
        assert_eq!(
            labels_of(&["foo.bar", "foo/bar", "foo_bar"]),
            [
                "label_foo_bar_conflict1=foo.bar",
                "label_foo_bar_conflict2=foo/bar",
                "label_foo_bar_conflict3=foo_bar"
            ]
        );
        // "FOO_BAR_conflict1" sorts first and takes label_foo_bar_conflict1 unsuffixed, so the
        // later collision of foo.bar and foo_bar must skip that number.
        assert_eq!(
            labels_of(&["FOO_BAR_conflict1", "foo.bar", "foo_bar"]),
            [
                "label_foo_bar_conflict1=FOO_BAR_conflict1",
                "label_foo_bar_conflict2=foo.bar",
                "label_foo_bar_conflict3=foo_bar"
            ]
        );
        // A key that sanitizes to a name already renamed: the renamed holder moves again.
        assert_eq!(
            labels_of(&["a.b", "a_b", "a_b_conflict1"]),
            [
                "label_a_b_conflict1_conflict1=a.b",
                "label_a_b_conflict2=a_b",
                "label_a_b_conflict1_conflict2=a_b_conflict1"
            ]
        );
    }
}
