//! The `CustomResourceStateMetrics` config language as data, and [`parse`], which reads it
//! from YAML and compiles every resource, failing on what kube-state-metrics refuses at start.
//!
//! The field names and their meaning are kube-state-metrics'
//! (`pkg/customresourcestate/config.go`, `config_metrics_types.go`): unknown fields are
//! ignored, as its non-strict YAML decoder ignores them, and the metric type is read in any
//! case (`gauge`, `Gauge`). Scalars where a string is expected (`path: [spec, order, 0]`) are
//! read as their text, as `yaml.v3` does.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use super::path::PathError;
use super::render::ResourceMetrics;

/// The whole config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CustomResourceStateMetrics {
    /// `CustomResourceStateMetrics`; kube-state-metrics does not check it, nor do we.
    #[serde(deserialize_with = "nullable")]
    pub kind: String,
    /// The resources to watch and their metrics.
    #[serde(deserialize_with = "nullable")]
    pub spec: Spec,
}

/// `spec`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Spec {
    /// One entry per custom resource.
    #[serde(deserialize_with = "nullable")]
    pub resources: Vec<Resource>,
}

/// The group, version and kind of a custom resource. `*` in `version` or `kind` is kept as
/// written: resolving it against the installed CRDs is discovery's job.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(default)]
pub struct GroupVersionKind {
    /// API group, `myteam.io`.
    #[serde(deserialize_with = "nullable_text")]
    pub group: String,
    /// API version, `v1`, or `*` for every served version.
    #[serde(deserialize_with = "nullable_text")]
    pub version: String,
    /// Kind, `Foo`, or `*` for every kind of the group.
    #[serde(deserialize_with = "nullable_text")]
    pub kind: String,
}

impl GroupVersionKind {
    /// Whether `version` or `kind` is the `*` wildcard.
    pub fn is_wildcard(&self) -> bool {
        self.version == "*" || self.kind == "*"
    }

    /// Whether a concrete `gvk` is one this (possibly wildcard) entry asks for.
    pub fn matches(&self, gvk: &GroupVersionKind) -> bool {
        self.group == gvk.group
            && (self.version == "*" || self.version == gvk.version)
            && (self.kind == "*" || self.kind == gvk.kind)
    }
}

impl std::fmt::Display for GroupVersionKind {
    /// `group/version, Kind=kind`, as Kubernetes prints a GVK.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}, Kind={}", self.group, self.version, self.kind)
    }
}

/// Labels shared by every sample of a resource or a metric.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Labels {
    /// Fixed labels.
    #[serde(deserialize_with = "text_map")]
    pub common_labels: BTreeMap<String, String>,
    /// Labels read from the object. A name starting or ending with `*` copies a whole map,
    /// each key becoming a label (prefixed with what precedes a trailing `*`).
    #[serde(deserialize_with = "path_map")]
    pub labels_from_path: BTreeMap<String, Vec<String>>,
}

/// One entry of `spec.resources`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Resource {
    /// Which custom resource.
    #[serde(deserialize_with = "nullable")]
    pub group_version_kind: GroupVersionKind,
    /// Replaces the `kube_customresource` prefix; `""` leaves metric names unprefixed.
    #[serde(deserialize_with = "optional_text")]
    pub metric_name_prefix: Option<String>,
    /// Labels of every metric of the resource.
    #[serde(flatten)]
    pub labels: Labels,
    /// The resource's plural, when the kind's is not the usual one. Discovery fills it in.
    #[serde(deserialize_with = "nullable_text")]
    pub resource_plural: String,
    /// The metrics.
    #[serde(deserialize_with = "nullable")]
    pub metrics: Vec<Generator>,
    /// klog verbosity of this resource's value errors.
    #[serde(rename = "errorLogV", deserialize_with = "nullable")]
    pub error_log_v: i32,
    /// The agent's own key (kube-state-metrics ignores it, as it ignores every unknown key):
    /// where an object names the node it is bound to, `[spec, nodeName]`. Empty: the
    /// resource is not node-bound. See `docs/custom-resources.md`, "Who watches custom
    /// resources".
    #[serde(deserialize_with = "text_list")]
    pub node_name_from_path: Vec<String>,
}

/// One entry of `metrics`: a metric family.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Generator {
    /// Name, after the prefix.
    #[serde(deserialize_with = "nullable_text")]
    pub name: String,
    /// HELP text.
    #[serde(deserialize_with = "nullable_text")]
    pub help: String,
    /// What the samples are made of.
    #[serde(deserialize_with = "nullable")]
    pub each: Each,
    /// Labels of this metric; they override the resource's of the same name.
    #[serde(flatten)]
    pub labels: Labels,
    /// klog verbosity of this metric's value errors; 0 keeps the resource's.
    #[serde(rename = "errorLogV", deserialize_with = "nullable")]
    pub error_log_v: i32,
}

/// `each`: the metric type and its settings. Only the block the type names is read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Each {
    /// `Gauge`, `StateSet` or `Info`, in any case.
    #[serde(rename = "type", deserialize_with = "nullable_text")]
    pub metric_type: String,
    /// Settings of a gauge.
    pub gauge: Option<Gauge>,
    /// Settings of a state set.
    pub state_set: Option<StateSet>,
    /// Settings of an info metric.
    pub info: Option<Info>,
}

/// `each.gauge`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Gauge {
    /// Where the values are; a map or a list gives one sample per entry.
    #[serde(deserialize_with = "text_list")]
    pub path: Vec<String>,
    /// The value, relative to each entry; empty means the entry itself.
    #[serde(deserialize_with = "text_list")]
    pub value_from: Vec<String>,
    /// Label named so, holding the map key, when `path` is a map.
    #[serde(deserialize_with = "nullable_text")]
    pub label_from_key: String,
    /// Labels relative to each entry.
    #[serde(deserialize_with = "path_map")]
    pub labels_from_path: BTreeMap<String, Vec<String>>,
    /// An absent value is 0 instead of no sample (or an error).
    #[serde(deserialize_with = "nullable")]
    pub nil_is_zero: bool,
}

/// `each.stateSet`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StateSet {
    /// Where the state is; a list gives one set per entry.
    #[serde(deserialize_with = "text_list")]
    pub path: Vec<String>,
    /// The possible states, one sample each.
    #[serde(deserialize_with = "text_list")]
    pub list: Vec<String>,
    /// The label holding the state's name.
    #[serde(deserialize_with = "nullable_text")]
    pub label_name: String,
    /// The state, relative to `path`; empty means `path` itself.
    #[serde(deserialize_with = "text_list")]
    pub value_from: Vec<String>,
    /// Labels relative to `path`.
    #[serde(deserialize_with = "path_map")]
    pub labels_from_path: BTreeMap<String, Vec<String>>,
}

/// `each.info`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Info {
    /// Where the information is; a list gives one sample per entry.
    #[serde(deserialize_with = "text_list")]
    pub path: Vec<String>,
    /// Label named so, holding each map key, when `path` is a map.
    #[serde(deserialize_with = "nullable_text")]
    pub label_from_key: String,
    /// Labels relative to `path`.
    #[serde(deserialize_with = "path_map")]
    pub labels_from_path: BTreeMap<String, Vec<String>>,
}

/// A config kube-state-metrics would refuse at start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not YAML, or a field of the wrong shape.
    #[error("custom resource state config: {0}")]
    Yaml(#[source] serde_norway::Error),
    /// Two entries name the same group and kind (whatever their versions).
    #[error(
        "custom resource state config: {first} and {second} are the same resource; \
         merge their metrics into one entry"
    )]
    DuplicateResource {
        /// The first entry.
        first: Box<GroupVersionKind>,
        /// The later entry.
        second: Box<GroupVersionKind>,
    },
    /// `nodeNameFromPath` is not a path the API server could select on.
    #[error(
        "custom resource state config: {gvk}, nodeNameFromPath {path:?}: {reason} \
         (expected map keys only, such as [spec, nodeName])"
    )]
    NodeNameFromPath {
        /// The resource.
        gvk: Box<GroupVersionKind>,
        /// The path as written.
        path: Vec<String>,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// One metric cannot be compiled.
    #[error("custom resource state config: {gvk}, metric {metric:?}: {source}")]
    Metric {
        /// The resource.
        gvk: Box<GroupVersionKind>,
        /// The metric's `name` as written.
        metric: String,
        /// What is wrong.
        #[source]
        source: MetricError,
    },
}

/// What is wrong with one metric.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    /// `each.type` is not `Gauge`, `StateSet` or `Info`.
    #[error("unknown metric type {0:?} (expected Gauge, StateSet or Info)")]
    UnknownType(String),
    /// The block the type names is missing (`type: Gauge` without `gauge:`).
    #[error("each.type is {metric_type} but each.{field} is missing")]
    MissingSettings {
        /// The type as written.
        metric_type: String,
        /// The missing block.
        field: &'static str,
    },
    /// A path does not compile.
    #[error("{field}: {source}")]
    Path {
        /// Which setting, `each.gauge.valueFrom` or `labelsFromPath.name`.
        field: String,
        /// The segment at fault.
        #[source]
        source: PathError,
    },
}

/// Reads a `CustomResourceStateMetrics` YAML document and compiles each resource.
///
/// # Errors
/// [`Error::Yaml`] for a document that does not decode, [`Error::Metric`] naming the resource
/// and metric for an unknown type, missing settings or a path that does not compile, and
/// [`Error::DuplicateResource`] when two entries describe the same group and kind.
pub fn parse(yaml: &str) -> Result<Vec<ResourceMetrics>, Error> {
    let config: CustomResourceStateMetrics = if yaml.trim().is_empty() {
        CustomResourceStateMetrics::default()
    } else {
        serde_norway::from_str(yaml).map_err(Error::Yaml)?
    };
    let mut seen: BTreeMap<(&str, &str), &GroupVersionKind> = BTreeMap::new();
    for resource in &config.spec.resources {
        let gvk = &resource.group_version_kind;
        if let Some(first) = seen.insert((&gvk.group, &gvk.kind), gvk) {
            return Err(Error::DuplicateResource {
                first: Box::new(first.clone()),
                second: Box::new(gvk.clone()),
            });
        }
    }
    config
        .spec
        .resources
        .iter()
        .map(ResourceMetrics::compile)
        .collect()
}

// ===== lenient scalars, as yaml.v3 reads them into Go strings =====

/// A YAML scalar read as its text: `0` → `"0"`, `true` → `"true"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Int(i64),
    Uint(u64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Uint(u) => u.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

/// `null` (an empty YAML value) reads as the default, as a nil Go slice or map does.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn nullable_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(optional_text(d)?.unwrap_or_default())
}

fn optional_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Scalar>::deserialize(d)?.map(Scalar::into_text))
}

fn text_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let list: Option<Vec<Scalar>> = Option::deserialize(d)?;
    Ok(list
        .unwrap_or_default()
        .into_iter()
        .map(Scalar::into_text)
        .collect())
}

fn text_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let map: Option<BTreeMap<String, Option<Scalar>>> = Option::deserialize(d)?;
    Ok(map
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.map(Scalar::into_text).unwrap_or_default()))
        .collect())
}

fn path_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    let map: Option<BTreeMap<String, Option<Vec<Scalar>>>> = Option::deserialize(d)?;
    Ok(map
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let path = v
                .unwrap_or_default()
                .into_iter()
                .map(Scalar::into_text)
                .collect();
            (k, path)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOO: &str = "
kind: CustomResourceStateMetrics
spec:
  resources:
    - groupVersionKind: {group: myteam.io, version: v1, kind: Foo}
      metricNamePrefix: ''
      commonLabels: {team: a, replicas: 3}
      labelsFromPath:
        name: [metadata, name]
      errorLogV: 2
      metrics:
        - name: uptime
          help: Foo uptime
          errorLogV: 5
          each:
            type: gauge
            gauge:
              path: [status, uptime]
              nilIsZero: true
        - name: order
          help: first order
          each:
            type: Info
            info:
              path: [spec, order, 0]
";

    fn raw(yaml: &str) -> CustomResourceStateMetrics {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn every_field_is_read_and_scalars_become_text() {
        let c = raw(FOO);
        assert_eq!(c.kind, "CustomResourceStateMetrics");
        let r = &c.spec.resources[0];
        assert_eq!(r.group_version_kind.to_string(), "myteam.io/v1, Kind=Foo");
        assert_eq!(r.metric_name_prefix.as_deref(), Some(""));
        assert_eq!(r.labels.common_labels["replicas"], "3");
        assert_eq!(r.labels.labels_from_path["name"], ["metadata", "name"]);
        assert_eq!(r.error_log_v, 2);
        let g = r.metrics[0].each.gauge.as_ref().unwrap();
        assert_eq!(r.metrics[0].each.metric_type, "gauge");
        assert!(g.nil_is_zero);
        assert_eq!(r.metrics[0].error_log_v, 5);
        let i = r.metrics[1].each.info.as_ref().unwrap();
        assert_eq!(i.path, ["spec", "order", "0"]);
        assert_eq!(parse(FOO).unwrap().len(), 1);
    }

    #[test]
    fn an_unknown_type_names_the_resource_and_the_metric() {
        let yaml = FOO.replace("type: gauge", "type: Histogram");
        let err = parse(&yaml).unwrap_err();
        let Error::Metric {
            gvk,
            metric,
            source,
        } = &err
        else {
            panic!("{err}");
        };
        assert_eq!(gvk.kind, "Foo");
        assert_eq!(metric, "uptime");
        assert_eq!(source, &MetricError::UnknownType("Histogram".into()));
        assert!(err.to_string().contains("myteam.io/v1, Kind=Foo"), "{err}");
    }

    #[test]
    fn a_type_without_its_settings_is_refused() {
        let yaml = FOO.replace("type: Info", "type: StateSet");
        let err = parse(&yaml).unwrap_err();
        assert!(
            matches!(&err, Error::Metric { metric, source: MetricError::MissingSettings { field: "stateSet", .. }, .. } if metric == "order"),
            "{err}"
        );
    }

    #[test]
    fn a_path_that_does_not_compile_names_its_setting() {
        let yaml = FOO.replace("[metadata, name]", "[metadata, \"[name]\"]");
        let err = parse(&yaml).unwrap_err();
        assert!(
            matches!(&err, Error::Metric { source: MetricError::Path { field, .. }, .. } if field == "labelsFromPath.name"),
            "{err}"
        );
        let yaml = FOO.replace("[status, uptime]", "[status, \"[x]\"]");
        let err = parse(&yaml).unwrap_err();
        assert!(
            matches!(&err, Error::Metric { source: MetricError::Path { field, .. }, .. } if field == "each.gauge.path"),
            "{err}"
        );
    }

    #[test]
    fn the_same_group_and_kind_twice_is_refused_even_across_versions() {
        let twice = "
spec:
  resources:
    - groupVersionKind: {group: myteam.io, version: v1, kind: Foo}
    - groupVersionKind: {group: myteam.io, version: v2, kind: Foo}
";
        let err = parse(twice).unwrap_err();
        assert!(matches!(err, Error::DuplicateResource { .. }), "{err}");
        let distinct = twice.replace("v2, kind: Foo", "v2, kind: Bar");
        assert_eq!(parse(&distinct).unwrap().len(), 2);
    }

    #[test]
    fn node_name_from_path_becomes_a_field_label_and_other_paths_are_refused() {
        let with = |path: &str| {
            FOO.replace(
                "      errorLogV: 2\n",
                &format!("      errorLogV: 2\n      nodeNameFromPath: {path}\n"),
            )
        };
        assert_eq!(parse(FOO).unwrap()[0].node_field(), None, "not node-bound");
        let parsed = parse(&with("[spec, nodeName]")).unwrap();
        assert_eq!(parsed[0].node_field(), Some("spec.nodeName"));
        let parsed = parse(&with("[status, placement, node]")).unwrap();
        assert_eq!(parsed[0].node_field(), Some("status.placement.node"));
        for bad in [
            "[spec, \"[name=a]\"]",
            "[spec, \"*\"]",
            "[spec, nodes, 0]",
            "[spec, \"a.b\"]",
            "[spec, \"\"]",
        ] {
            let err = parse(&with(bad)).unwrap_err();
            assert!(
                matches!(&err, Error::NodeNameFromPath { gvk, .. } if gvk.kind == "Foo"),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains("nodeNameFromPath"), "{err}");
        }
    }

    #[test]
    fn not_yaml_is_a_yaml_error_and_empty_is_no_resource() {
        assert!(matches!(parse("spec: [1"), Err(Error::Yaml(_))));
        assert!(parse("").unwrap().is_empty());
        assert!(parse("spec:\n  resources:\n").unwrap().is_empty());
    }

    #[test]
    fn wildcards_are_data_that_match_concrete_kinds() {
        let any = GroupVersionKind {
            group: "myteam.io".into(),
            version: "*".into(),
            kind: "*".into(),
        };
        let foo = GroupVersionKind {
            group: "myteam.io".into(),
            version: "v1".into(),
            kind: "Foo".into(),
        };
        assert!(any.is_wildcard() && !foo.is_wildcard());
        assert!(any.matches(&foo) && foo.matches(&foo));
        assert!(!foo.matches(&any));
    }
}
