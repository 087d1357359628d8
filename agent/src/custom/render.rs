//! A compiled resource ([`ResourceMetrics`]) and the rendering of one custom object into the
//! samples of each of its families ([`ResourceMetrics::render`]).
//!
//! Reproduces kube-state-metrics' `compile`, `famGen`/`generate`, `addPathLabels` and the
//! `Values` of each metric type (`pkg/customresourcestate/registry_factory.go`), including:
//! - label precedence, lowest first: the resource's `commonLabels`, the
//!   `customresource_group|version|kind` labels, the metric's `commonLabels`, then labels read
//!   from the object by the resource's and the metric's `labelsFromPath` (the metric's win);
//!   all of these only fill names that the sample's own labels (`each.*.labelsFromPath`,
//!   `labelFromKey`, a state set's `labelName`) leave free;
//! - label names in byte order on every sample;
//! - samples of one family and object ordered by their own labels only (before the shared
//!   labels are added), as `compareLabels` orders them.
//!
//! NOTE: rendering MUST NOT fail or panic for any object: a value that does not convert skips
//! its sample and is returned as a [`SampleError`].

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::config::{self, Error, GroupVersionKind, MetricError, Resource};
use super::path::{Path, PathError};
use super::value::{ConversionError, label_text, to_float, to_float_or_nil};
use crate::exposition::{
    Format, MetricType, sanitized_label_name, write_float, write_help_text, write_label_value,
};

/// The prefix of every metric name unless `metricNamePrefix` is set.
pub const DEFAULT_PREFIX: &str = "kube_customresource";

/// The labels naming an object's group, version and kind, on every sample.
const GROUP_LABEL: &str = "customresource_group";
const VERSION_LABEL: &str = "customresource_version";
const KIND_LABEL: &str = "customresource_kind";

/// One configured resource, compiled: its families in config order.
///
/// # Invariants
/// - family order is config order, which is exposition order;
/// - every path is compiled once, here, never per object.
#[derive(Debug, Clone)]
pub struct ResourceMetrics {
    gvk: GroupVersionKind,
    resource_plural: Option<String>,
    /// The field selector label of `nodeNameFromPath` (`spec.nodeName`), when node-bound.
    node_field: Option<String>,
    families: Vec<Family>,
}

/// The field selector label of a `nodeNameFromPath` (`[spec, nodeName]` → `spec.nodeName`),
/// `None` for an empty path, or why the path cannot be one.
///
/// A CRD's `selectableFields` are JSONPaths to one scalar through plain fields, and the API
/// server names each by its path without the leading dot; so only map keys are accepted: no
/// `[key=value]` match, no `*`, no list index, no dot inside a key.
fn node_field(path: &[String]) -> Result<Option<String>, &'static str> {
    if path.is_empty() {
        return Ok(None);
    }
    for segment in path {
        if segment.is_empty() {
            return Err("an empty key");
        }
        if segment.contains(['[', ']', '*', '.', '=', ',', '!'])
            || segment.contains(char::is_whitespace)
        {
            return Err("a key with a selector, wildcard or separator");
        }
        if segment.bytes().all(|b| b.is_ascii_digit()) {
            return Err("a list index");
        }
    }
    Ok(Some(path.join(".")))
}

/// One metric family of a resource.
#[derive(Debug, Clone)]
pub struct Family {
    name: String,
    help: String,
    metric_type: MetricType,
    error_log_v: i32,
    resource_common: BTreeMap<String, String>,
    metric_common: BTreeMap<String, String>,
    /// `resource_common`, then the GVK labels, then `metric_common`.
    common: BTreeMap<String, String>,
    labels_from_path: LabelPaths,
    each: Each,
}

/// The samples each object gives a family.
#[derive(Debug, Clone)]
enum Each {
    Gauge {
        path: Path,
        value_from: Path,
        label_from_key: String,
        labels: LabelPaths,
        nil_is_zero: bool,
    },
    StateSet {
        path: Path,
        value_from: Path,
        list: Vec<String>,
        label_name: String,
        labels: LabelPaths,
    },
    Info {
        path: Path,
        label_from_key: String,
        labels: LabelPaths,
    },
}

/// `labelsFromPath`, split as `addPathLabels` applies it: the whole-map copies (`*`, `prefix_*`)
/// first in name order, then the single labels, which override them.
#[derive(Debug, Clone, Default)]
struct LabelPaths {
    /// (prefix added to each copied key, path).
    maps: Vec<(String, Path)>,
    /// (sanitized label name, path).
    single: Vec<(String, Path)>,
}

/// The samples of one object, per family, ready to be stored until the object changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rendered {
    /// Sample lines of family `i` at index `i` (possibly empty), in text exposition form.
    pub families: Vec<Vec<u8>>,
    /// Values that could not become samples. Their samples are missing from `families`.
    pub errors: Vec<SampleError>,
}

/// A sample of one object that could not be rendered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{metric}: {path}: {reason}")]
pub struct SampleError {
    /// Index of the family in [`ResourceMetrics::families`].
    pub family: usize,
    /// The family's name.
    pub metric: String,
    /// The configured path that led to the value.
    pub path: String,
    /// klog verbosity the config asks for (`errorLogV`, the metric's when non-zero), so the
    /// caller can decide how loudly to log.
    pub error_log_v: i32,
    /// What is wrong.
    pub reason: ValueError,
}

/// Why a sample is missing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    /// `path` resolves to nothing and `nilIsZero` is not set.
    #[error("the path resolves to nothing")]
    PathNotFound,
    /// The value does not convert to a number.
    #[error(transparent)]
    Conversion(#[from] ConversionError),
    /// A state set's value is not a string.
    #[error("expected a string for the state, found {0}")]
    StateNotString(&'static str),
    /// An info metric's `labelFromKey` names a label its `labelsFromPath` sets too.
    #[error("labelFromKey {0:?} is also set by labelsFromPath; rename one of them")]
    LabelFromKeyConflict(String),
}

/// One sample before the family's shared labels are added.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    labels: BTreeMap<String, String>,
    value: f64,
}

impl Row {
    fn new(value: f64) -> Row {
        Row {
            labels: BTreeMap::new(),
            value,
        }
    }
}

// ===== compiling =====

impl ResourceMetrics {
    /// Compiles one configured resource with the GVK as written (wildcards included).
    ///
    /// # Errors
    /// [`Error::Metric`] for the first metric that does not compile.
    pub fn compile(resource: &Resource) -> Result<ResourceMetrics, Error> {
        let gvk = &resource.group_version_kind;
        let prefix = resource
            .metric_name_prefix
            .as_deref()
            .unwrap_or(DEFAULT_PREFIX);
        let families = resource
            .metrics
            .iter()
            .map(|generator| {
                Family::compile(resource, generator, prefix).map_err(|source| Error::Metric {
                    gvk: Box::new(gvk.clone()),
                    metric: generator.name.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let node_field = node_field(&resource.node_name_from_path).map_err(|reason| {
            Error::NodeNameFromPath {
                gvk: Box::new(gvk.clone()),
                path: resource.node_name_from_path.clone(),
                reason,
            }
        })?;
        let mut compiled = ResourceMetrics {
            gvk: gvk.clone(),
            resource_plural: Some(resource.resource_plural.clone()).filter(|p| !p.is_empty()),
            node_field,
            families,
        };
        compiled.set_gvk_labels();
        Ok(compiled)
    }

    /// This resource for one concrete GVK that discovery resolved a wildcard entry to, with
    /// the CRD's plural. The `customresource_*` labels follow the new GVK.
    pub fn resolved(&self, gvk: GroupVersionKind, plural: Option<String>) -> ResourceMetrics {
        let mut resolved = self.clone();
        resolved.gvk = gvk;
        if plural.is_some() {
            resolved.resource_plural = plural;
        }
        resolved.set_gvk_labels();
        resolved
    }

    fn set_gvk_labels(&mut self) {
        for family in &mut self.families {
            let mut common = family.resource_common.clone();
            common.insert(GROUP_LABEL.to_owned(), self.gvk.group.clone());
            common.insert(VERSION_LABEL.to_owned(), self.gvk.version.clone());
            common.insert(KIND_LABEL.to_owned(), self.gvk.kind.clone());
            common.extend(family.metric_common.clone());
            family.common = common;
        }
    }

    /// The resource's group, version and kind (possibly with wildcards, until resolved).
    pub fn gvk(&self) -> &GroupVersionKind {
        &self.gvk
    }

    /// `resourcePlural` when configured or resolved; `None` leaves it to discovery.
    pub fn resource_plural(&self) -> Option<&str> {
        self.resource_plural.as_deref()
    }

    /// The field selector label naming the object's node (`spec.nodeName` for
    /// `nodeNameFromPath: [spec, nodeName]`); `None` when the resource is not node-bound.
    pub fn node_field(&self) -> Option<&str> {
        self.node_field.as_deref()
    }

    /// The families, in config order.
    pub fn families(&self) -> &[Family] {
        &self.families
    }

    /// Renders every family of this resource for one object (a whole custom object as JSON).
    pub fn render(&self, object: &Value) -> Rendered {
        let mut rendered = Rendered {
            families: Vec::with_capacity(self.families.len()),
            errors: Vec::new(),
        };
        for (index, family) in self.families.iter().enumerate() {
            let mut lines = Vec::new();
            family.render(object, &mut lines, &mut |path, reason| {
                rendered.errors.push(SampleError {
                    family: index,
                    metric: family.name.clone(),
                    path,
                    error_log_v: family.error_log_v,
                    reason,
                });
            });
            rendered.families.push(lines);
        }
        rendered
    }

    /// Appends this resource's families for `objects` as kube-state-metrics writes one store:
    /// family by family, each header (when `objects` is not empty) then every object's
    /// samples. A header whose name is already in `written_headers` is left out, as
    /// kube-state-metrics' `SanitizeHeaders` leaves out repeated headers; pass the same set
    /// to every resource of one response.
    pub fn write_families(
        &self,
        objects: &[&Rendered],
        format: Format,
        written_headers: &mut BTreeSet<String>,
        out: &mut Vec<u8>,
    ) {
        for (index, family) in self.families.iter().enumerate() {
            if !objects.is_empty() && written_headers.insert(family.name.clone()) {
                family.write_header(format, out);
            }
            for object in objects {
                if let Some(lines) = object.families.get(index) {
                    out.extend_from_slice(lines);
                }
            }
        }
    }
}

impl Family {
    fn compile(
        resource: &Resource,
        generator: &config::Generator,
        prefix: &str,
    ) -> Result<Family, MetricError> {
        let each = Each::compile(&generator.each)?;
        let mut paths = resource.labels.labels_from_path.clone();
        paths.extend(generator.labels.labels_from_path.clone());
        let labels_from_path = LabelPaths::compile(&paths, "labelsFromPath")?;
        let name = if prefix.is_empty() {
            generator.name.clone()
        } else {
            format!("{prefix}_{}", generator.name)
        };
        let metric_type = match each {
            Each::Gauge { .. } => MetricType::Gauge,
            Each::StateSet { .. } => MetricType::StateSet,
            Each::Info { .. } => MetricType::Info,
        };
        Ok(Family {
            name,
            help: generator.help.clone(),
            metric_type,
            error_log_v: if generator.error_log_v == 0 {
                resource.error_log_v
            } else {
                generator.error_log_v
            },
            resource_common: resource.labels.common_labels.clone(),
            metric_common: generator.labels.common_labels.clone(),
            common: BTreeMap::new(),
            labels_from_path,
            each,
        })
    }

    /// The full metric name (prefix included).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The HELP text as configured.
    pub fn help(&self) -> &str {
        &self.help
    }

    /// Gauge, state set or info.
    pub fn metric_type(&self) -> MetricType {
        self.metric_type
    }

    /// Appends `# HELP` and `# TYPE`, as kube-state-metrics' `generateHeader` writes them
    /// (no stability prefix: custom families have none; `info` and `stateset` are `gauge` in
    /// the text format).
    pub fn write_header(&self, format: Format, out: &mut Vec<u8>) {
        out.extend_from_slice(b"# HELP ");
        out.extend_from_slice(self.name.as_bytes());
        out.push(b' ');
        write_help_text(out, &self.help);
        out.push(b'\n');
        self.metric_type.write_type_line(out, &self.name, format);
    }

    /// `generate`: the family's samples for one object.
    fn render(
        &self,
        object: &Value,
        out: &mut Vec<u8>,
        on_error: &mut dyn FnMut(String, ValueError),
    ) {
        let mut shared = self.common.clone();
        self.labels_from_path.add(Some(object), &mut shared);
        let mut rows = self.each.rows(object, on_error);
        // Stable: equal label sets keep their order (Go's sort leaves it unspecified).
        rows.sort_by(|a, b| compare_labels(&a.labels, &b.labels));
        for mut row in rows {
            for (k, v) in &shared {
                row.labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
            self.write_sample(&row, out);
        }
    }

    /// `name{k="v",…} value`, label names in byte order (`ToMetric` sorts them).
    fn write_sample(&self, row: &Row, out: &mut Vec<u8>) {
        out.extend_from_slice(self.name.as_bytes());
        for (i, (k, v)) in row.labels.iter().enumerate() {
            out.push(if i == 0 { b'{' } else { b',' });
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"=\"");
            write_label_value(out, v);
            out.push(b'"');
        }
        if !row.labels.is_empty() {
            out.push(b'}');
        }
        out.push(b' ');
        write_float(out, row.value);
        out.push(b'\n');
    }
}

/// `compareLabels`: key by key in name order, name then value, then the shorter set first.
fn compare_labels(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Ordering {
    for ((ak, av), (bk, bv)) in a.iter().zip(b.iter()) {
        let by = ak.cmp(bk).then_with(|| av.cmp(bv));
        if by != Ordering::Equal {
            return by;
        }
    }
    a.len().cmp(&b.len())
}

impl Each {
    fn compile(each: &config::Each) -> Result<Each, MetricError> {
        let missing = |field| MetricError::MissingSettings {
            metric_type: each.metric_type.clone(),
            field,
        };
        match each.metric_type.to_lowercase().as_str() {
            "gauge" => {
                let g = each.gauge.as_ref().ok_or_else(|| missing("gauge"))?;
                Ok(Each::Gauge {
                    path: compile_path(&g.path, "each.gauge.path")?,
                    labels: LabelPaths::compile(&g.labels_from_path, "each.gauge.labelsFromPath")?,
                    value_from: compile_path(&g.value_from, "each.gauge.valueFrom")?,
                    label_from_key: g.label_from_key.clone(),
                    nil_is_zero: g.nil_is_zero,
                })
            }
            "stateset" => {
                let s = each.state_set.as_ref().ok_or_else(|| missing("stateSet"))?;
                Ok(Each::StateSet {
                    path: compile_path(&s.path, "each.stateSet.path")?,
                    labels: LabelPaths::compile(
                        &s.labels_from_path,
                        "each.stateSet.labelsFromPath",
                    )?,
                    value_from: compile_path(&s.value_from, "each.stateSet.valueFrom")?,
                    list: s.list.clone(),
                    label_name: s.label_name.clone(),
                })
            }
            "info" => {
                let i = each.info.as_ref().ok_or_else(|| missing("info"))?;
                Ok(Each::Info {
                    path: compile_path(&i.path, "each.info.path")?,
                    labels: LabelPaths::compile(&i.labels_from_path, "each.info.labelsFromPath")?,
                    label_from_key: i.label_from_key.clone(),
                })
            }
            _ => Err(MetricError::UnknownType(each.metric_type.clone())),
        }
    }

    /// The rows of one object, in generation order.
    fn rows(&self, object: &Value, on_error: &mut dyn FnMut(String, ValueError)) -> Vec<Row> {
        let mut rows = Vec::new();
        match self {
            Each::Gauge { path, .. } => {
                self.gauge_rows(path.get(Some(object)), &mut rows, &mut |reason| {
                    on_error(path.to_string(), reason);
                });
            }
            Each::StateSet {
                path, value_from, ..
            } => {
                let full = path.joined(value_from).to_string();
                let at = path.get(Some(object));
                let each_entry = at.and_then(Value::as_array).map(|l| l.iter().collect());
                for entry in each_entry.unwrap_or_else(|| vec![at.unwrap_or(&Value::Null)]) {
                    if let Err(reason) = self.state_set_rows(Some(entry), &mut rows) {
                        on_error(full.clone(), reason);
                    }
                }
            }
            Each::Info { path, .. } => {
                self.info_rows(path.get(Some(object)), &mut rows, &mut |reason| {
                    on_error(path.to_string(), reason);
                });
            }
        }
        rows
    }

    /// `compiledGauge.Values`.
    fn gauge_rows(
        &self,
        at: Option<&Value>,
        rows: &mut Vec<Row>,
        on_error: &mut dyn FnMut(ValueError),
    ) {
        let Each::Gauge {
            value_from,
            label_from_key,
            labels,
            ..
        } = self
        else {
            return;
        };
        match at {
            Some(Value::Object(map)) => {
                // A one-segment `valueFrom` also matches a key of the map itself.
                let shortcut = value_from
                    .single_segment()
                    .filter(|s| !s.is_empty() && !s.contains(','));
                for (key, entry) in map {
                    let entry = Some(entry).filter(|v| !v.is_null());
                    let mut row = if shortcut == Some(key.as_str()) {
                        match to_float_or_nil(entry, self.nil_is_zero()) {
                            Ok(v) => Row::new(v),
                            Err(e) => {
                                on_error(ValueError::Conversion(e));
                                continue;
                            }
                        }
                    } else {
                        // kube-state-metrics drops errors of map entries silently.
                        match self.gauge_value(entry) {
                            Ok(Some(row)) => row,
                            _ => continue,
                        }
                    };
                    if !key.is_empty() && !label_from_key.is_empty() {
                        row.labels.insert(label_from_key.clone(), key.clone());
                    }
                    labels.add(entry, &mut row.labels);
                    // Paths are also tried from the map itself, and win.
                    labels.add(at, &mut row.labels);
                    rows.push(row);
                }
            }
            Some(Value::Array(list)) => {
                for entry in list {
                    let entry = Some(entry).filter(|v| !v.is_null());
                    match self.gauge_value(entry) {
                        Ok(Some(mut row)) => {
                            labels.add(entry, &mut row.labels);
                            rows.push(row);
                        }
                        Ok(None) => {}
                        Err(e) => on_error(e),
                    }
                }
            }
            _ => match self.gauge_value(at) {
                Ok(Some(mut row)) => {
                    labels.add(at, &mut row.labels);
                    rows.push(row);
                }
                Ok(None) => {}
                Err(e) => on_error(e),
            },
        }
    }

    fn nil_is_zero(&self) -> bool {
        matches!(
            self,
            Each::Gauge {
                nil_is_zero: true,
                ..
            }
        )
    }

    /// `compiledGauge.value`: `valueFrom` read from one entry. An entry without the value is
    /// no sample (or 0 with `nilIsZero`); only a path that found nothing at all is an error.
    fn gauge_value(&self, entry: Option<&Value>) -> Result<Option<Row>, ValueError> {
        let Each::Gauge { value_from, .. } = self else {
            return Ok(None);
        };
        match value_from.get(entry) {
            None if self.nil_is_zero() => Ok(Some(Row::new(0.0))),
            None if entry.is_none() => Err(ValueError::PathNotFound),
            None => Ok(None),
            Some(v) => Ok(Some(Row::new(to_float(v)?))),
        }
    }

    /// `compiledStateSet.values` for one state: a row per listed state, 1 for the current one.
    /// A state that resolves to nothing gives no rows and no error.
    fn state_set_rows(&self, at: Option<&Value>, rows: &mut Vec<Row>) -> Result<(), ValueError> {
        let Each::StateSet {
            value_from,
            list,
            label_name,
            labels,
            ..
        } = self
        else {
            return Ok(());
        };
        let Some(state) = value_from.get(at) else {
            return Ok(());
        };
        let Some(state) = state.as_str() else {
            return Err(ValueError::StateNotString(json_type(state)));
        };
        for entry in list {
            let mut row = Row::new(if entry == state { 1.0 } else { 0.0 });
            row.labels.insert(label_name.clone(), entry.clone());
            labels.add(at, &mut row.labels);
            rows.push(row);
        }
        Ok(())
    }

    /// `compiledInfo.Values`.
    fn info_rows(
        &self,
        at: Option<&Value>,
        rows: &mut Vec<Row>,
        on_error: &mut dyn FnMut(ValueError),
    ) {
        let Each::Info {
            label_from_key,
            labels,
            ..
        } = self
        else {
            return;
        };
        let whole = |at: Option<&Value>| -> Option<Row> {
            at.filter(|v| !v.is_null())?;
            let mut row = Row::new(1.0);
            labels.add(at, &mut row.labels);
            (!row.labels.is_empty()).then_some(row)
        };
        match at {
            Some(Value::Array(list)) => rows.extend(list.iter().filter_map(|e| whole(Some(e)))),
            Some(Value::Object(map)) => {
                let whole_map = whole(at);
                if let Some(row) = &whole_map
                    && row.labels.contains_key(label_from_key)
                {
                    // Reported, yet the row stays, as in kube-state-metrics.
                    on_error(ValueError::LabelFromKeyConflict(label_from_key.clone()));
                }
                for (key, entry) in map {
                    let mut row = Row::new(1.0);
                    if !key.is_empty() && !label_from_key.is_empty() {
                        row.labels.insert(label_from_key.clone(), key.clone());
                    }
                    labels.add(Some(entry), &mut row.labels);
                    if !row.labels.is_empty() {
                        rows.push(row);
                    }
                }
                rows.extend(whole_map);
            }
            _ => rows.extend(whole(at)),
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn compile_path(segments: &[String], field: &str) -> Result<Path, MetricError> {
    Path::compile(segments).map_err(|source: PathError| MetricError::Path {
        field: field.to_owned(),
        source,
    })
}

impl LabelPaths {
    fn compile(
        paths: &BTreeMap<String, Vec<String>>,
        field: &str,
    ) -> Result<LabelPaths, MetricError> {
        let mut compiled = LabelPaths::default();
        // BTreeMap order is the name order `addPathLabels` sorts the `*` entries in.
        for (name, segments) in paths {
            let path = compile_path(segments, &format!("{field}.{name}"))?;
            if name.starts_with('*') || name.ends_with('*') {
                let prefix = name.strip_suffix('*').unwrap_or("");
                compiled.maps.push((prefix.to_owned(), path));
            } else {
                compiled
                    .single
                    .push((sanitized_label_name(name).into_owned(), path));
            }
        }
        Ok(compiled)
    }

    /// `addPathLabels`: reads each label from `at` into `labels`, overwriting.
    fn add(&self, at: Option<&Value>, labels: &mut BTreeMap<String, String>) {
        for (prefix, path) in &self.maps {
            if let Some(Value::Object(map)) = path.get(at) {
                for (key, value) in map {
                    let name = format!("{prefix}{key}");
                    let mut text = String::new();
                    label_text(value, &mut text);
                    labels.insert(sanitized_label_name(&name).into_owned(), text);
                }
            }
        }
        for (name, path) in &self.single {
            if let Some(value) = path.get(at) {
                let mut text = String::new();
                label_text(value, &mut text);
                labels.insert(name.clone(), text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The object of kube-state-metrics' `registry_factory_test.go`.
    fn cr() -> Value {
        json!({
            "spec": {
                "replicas": 1, "version": "v0.0.0",
                "order": [{"id": 1, "value": true}, {"id": 3, "value": false}]
            },
            "status": {
                "active": {"type-a": 1, "type-b": 3},
                "phase": "foo",
                "sub": {"type-a": {"active": 1, "ready": 2}, "type-b": {"active": 3, "ready": 4}},
                "uptime": 43.21,
                "condition_values": [{"name": "a", "value": 45}, {"name": "b", "value": 66}],
                "conditions": [
                    {"type": "Ready", "status": "True"},
                    {"type": "Provisioned", "status": "False"}
                ]
            },
            "metadata": {
                "name": "foo", "labels": {"foo": "bar"},
                "annotations": {"qux": "quxx", "bar": "baz"},
                "percentage": "39%", "creationTimestamp": "2022-06-28T00:00:00Z"
            }
        })
    }

    /// Renders one metric (`each` in YAML) with no prefix and no shared labels but the GVK's.
    fn render(each: &str, object: &Value) -> (String, Vec<SampleError>) {
        let yaml = format!(
            "spec:\n  resources:\n  - groupVersionKind: {{group: g, version: v, kind: K}}\n    \
             metricNamePrefix: ''\n    metrics:\n    - name: m\n      help: h\n      each:\n{}",
            each.lines()
                .map(|l| format!("        {l}\n"))
                .collect::<String>()
        );
        let resources = config::parse(&yaml).unwrap();
        let rendered = resources[0].render(object);
        let text = String::from_utf8(rendered.families[0].clone()).unwrap();
        // The GVK labels are on every sample; tests read the rest.
        let gvk =
            "customresource_group=\"g\",customresource_kind=\"K\",customresource_version=\"v\"";
        let text = text
            .replace(gvk, "")
            .replace("{,", "{")
            .replace(",,", ",")
            .replace(",}", "}")
            .replace("{} ", " ");
        (text, rendered.errors)
    }

    #[test]
    fn a_gauge_on_a_map_labels_each_entry_with_its_key() {
        let (text, errors) = render(
            "type: Gauge\ngauge:\n  path: [status, sub]\n  labelFromKey: type\n  \
             labelsFromPath: {active: [active]}\n  valueFrom: [ready]",
            &cr(),
        );
        assert_eq!(
            text,
            "m{active=\"1\",type=\"type-a\"} 2\nm{active=\"3\",type=\"type-b\"} 4\n"
        );
        assert!(errors.is_empty());
    }

    #[test]
    fn a_gauge_on_a_list_gives_a_sample_per_entry_and_converts_condition_strings() {
        let (text, _) = render(
            "type: Gauge\ngauge:\n  path: [status, conditions]\n  \
             labelsFromPath: {type: [type]}\n  valueFrom: [status]",
            &cr(),
        );
        assert_eq!(text, "m{type=\"Provisioned\"} 0\nm{type=\"Ready\"} 1\n");
    }

    #[test]
    fn a_one_segment_value_from_also_matches_a_key_of_the_map_itself() {
        let (text, errors) = render(
            "type: Gauge\ngauge:\n  path: [metadata]\n  labelsFromPath: {name: [name]}\n  \
             valueFrom: [creationTimestamp]",
            &cr(),
        );
        // registry_factory_test.go: "path-relative valueFrom value".
        assert_eq!(text, "m{name=\"foo\"} 1.6563744e+09\n");
        assert!(errors.is_empty());
        let (text, _) = render(
            "type: Gauge\ngauge:\n  path: [metadata]\n  valueFrom: [percentage]",
            &cr(),
        );
        assert_eq!(text, "m 0.39\n");
    }

    #[test]
    fn a_missing_path_is_an_error_unless_nil_is_zero() {
        let (text, errors) = render("type: Gauge\ngauge:\n  path: [foo]", &cr());
        assert_eq!(text, "");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].reason, ValueError::PathNotFound);
        assert_eq!(errors[0].path, "[foo]");
        assert_eq!(errors[0].metric, "m");
        let (text, errors) = render(
            "type: Gauge\ngauge:\n  path: [spec, paused]\n  nilIsZero: true",
            &cr(),
        );
        assert_eq!(text, "m 0\n");
        assert!(errors.is_empty());
        // A present entry without the value is just no sample.
        let (text, errors) = render(
            "type: Gauge\ngauge:\n  path: [spec, replicas]\n  valueFrom: [nope]",
            &cr(),
        );
        assert_eq!((text.as_str(), errors.len()), ("", 0));
    }

    #[test]
    fn a_value_that_does_not_convert_skips_its_sample_and_is_reported() {
        let object = json!({"status": {"items": [{"v": "12"}, {"v": "twelve"}, {"v": {}}]}});
        let (text, errors) = render(
            "type: Gauge\ngauge:\n  path: [status, items]\n  valueFrom: [v]",
            &object,
        );
        assert_eq!(text, "m 12\n");
        assert_eq!(errors.len(), 2);
        assert!(matches!(
            &errors[0].reason,
            ValueError::Conversion(ConversionError::Unparsable(s)) if s == "twelve"
        ));
        assert!(errors[1].to_string().starts_with("m: [status,items]: "));
        // In a map, kube-state-metrics drops such errors without a word.
        let object = json!({"status": {"items": {"a": "x", "b": "2"}}});
        let (text, errors) = render(
            "type: Gauge\ngauge:\n  path: [status, items]\n  labelFromKey: k",
            &object,
        );
        assert_eq!((text.as_str(), errors.len()), ("m{k=\"b\"} 2\n", 0));
    }

    #[test]
    fn a_state_set_gives_every_listed_state_sorted_with_the_current_one_at_1() {
        let (text, _) = render(
            "type: StateSet\nstateSet:\n  path: [status, phase]\n  labelName: phase\n  \
             list: [foo, bar]",
            &cr(),
        );
        assert_eq!(text, "m{phase=\"bar\"} 0\nm{phase=\"foo\"} 1\n");
        let (text, errors) = render(
            "type: StateSet\nstateSet:\n  path: [does, not]\n  labelName: phase\n  list: [a]",
            &cr(),
        );
        assert_eq!((text.as_str(), errors.len()), ("", 0));
        let (text, errors) = render(
            "type: StateSet\nstateSet:\n  path: [status]\n  valueFrom: [uptime]\n  \
             labelName: phase\n  list: [a]",
            &cr(),
        );
        assert_eq!(text, "");
        assert_eq!(errors[0].path, "[status,uptime]");
        assert_eq!(errors[0].reason, ValueError::StateNotString("a number"));
    }

    #[test]
    fn info_reads_labels_from_the_whole_value_and_from_each_map_entry() {
        let (text, _) = render(
            "type: Info\ninfo:\n  labelsFromPath: {version: [spec, version]}",
            &cr(),
        );
        assert_eq!(text, "m{version=\"v0.0.0\"} 1\n");
        let (text, _) = render(
            "type: Info\ninfo:\n  path: [status, active]\n  labelFromKey: type",
            &cr(),
        );
        assert_eq!(text, "m{type=\"type-a\"} 1\nm{type=\"type-b\"} 1\n");
        let (text, _) = render(
            "type: Info\ninfo:\n  path: [status, sub]\n  labelsFromPath: {active: [active]}",
            &cr(),
        );
        assert_eq!(text, "m{active=\"1\"} 1\nm{active=\"3\"} 1\n");
        let (text, errors) = render("type: Info\ninfo:\n  path: [does, not, exist]", &cr());
        assert_eq!((text.as_str(), errors.len()), ("", 0));
        // registry_factory_test.go: "= expression matching".
        let (text, _) = render(
            "type: Info\ninfo:\n  labelsFromPath: {bar: [metadata, annotations, bar=baz]}",
            &cr(),
        );
        assert_eq!(text, "m{bar=\"baz\"} 1\n");
    }

    #[test]
    fn star_paths_copy_maps_and_single_labels_override_them() {
        // registry_factory_test.go: Test_addPathLabels "*".
        let paths: BTreeMap<String, Vec<String>> = [
            ("*1", vec!["metadata", "annotations"]),
            ("bar", vec!["metadata", "labels", "foo"]),
            ("label_object_*", vec!["metadata", "annotations"]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
        .collect();
        let compiled = LabelPaths::compile(&paths, "labelsFromPath").unwrap();
        let mut labels = BTreeMap::new();
        compiled.add(Some(&cr()), &mut labels);
        let want: BTreeMap<String, String> = [
            ("qux", "quxx"),
            ("bar", "bar"),
            ("label_object_qux", "quxx"),
            ("label_object_bar", "baz"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(labels, want);
    }

    #[test]
    fn labels_compare_key_then_value_then_length() {
        let set = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(
            compare_labels(&set(&[("a", "2")]), &set(&[("b", "1")])),
            Ordering::Less
        );
        assert_eq!(
            compare_labels(&set(&[("a", "2")]), &set(&[("a", "1")])),
            Ordering::Greater
        );
        assert_eq!(
            compare_labels(&set(&[("a", "1")]), &set(&[("a", "1"), ("b", "0")])),
            Ordering::Less
        );
    }

    #[test]
    fn resolving_a_wildcard_rewrites_the_gvk_labels_but_not_a_metric_override() {
        let yaml = "spec:\n  resources:\n  - groupVersionKind: {group: g, version: '*', kind: '*'}\n    \
                    commonLabels: {customresource_kind: ignored}\n    metrics:\n    - name: a\n      \
                    each: {type: Info, info: {labelsFromPath: {n: [metadata, name]}}}\n    - name: b\n      \
                    commonLabels: {customresource_version: mine}\n      \
                    each: {type: Info, info: {labelsFromPath: {n: [metadata, name]}}}\n";
        let wildcard = &config::parse(yaml).unwrap()[0];
        let foo = wildcard.resolved(
            GroupVersionKind {
                group: "g".into(),
                version: "v1".into(),
                kind: "Foo".into(),
            },
            Some("foos".into()),
        );
        assert_eq!(foo.resource_plural(), Some("foos"));
        let r = foo.render(&json!({"metadata": {"name": "x"}}));
        assert_eq!(
            String::from_utf8(r.families[0].clone()).unwrap(),
            "kube_customresource_a{customresource_group=\"g\",customresource_kind=\"Foo\",\
             customresource_version=\"v1\",n=\"x\"} 1\n"
        );
        assert_eq!(
            String::from_utf8(r.families[1].clone()).unwrap(),
            "kube_customresource_b{customresource_group=\"g\",customresource_kind=\"Foo\",\
             customresource_version=\"mine\",n=\"x\"} 1\n"
        );
    }

    #[test]
    fn headers_are_written_once_per_name_and_only_when_there_are_objects() {
        let yaml = "spec:\n  resources:\n  - groupVersionKind: {group: g, version: v, kind: K}\n    \
                    metrics:\n    - name: s\n      help: \"a\\\\b\"\n      \
                    each: {type: StateSet, stateSet: {labelName: p, path: [p], list: [x]}}\n    \
                    - name: s\n      help: second\n      \
                    each: {type: StateSet, stateSet: {labelName: p, path: [p], list: [y]}}\n";
        let r = &config::parse(yaml).unwrap()[0];
        let obj = r.render(&json!({"p": "x"}));
        let mut out = Vec::new();
        r.write_families(&[&obj], Format::Text, &mut BTreeSet::new(), &mut out);
        let gvk =
            "customresource_group=\"g\",customresource_kind=\"K\",customresource_version=\"v\"";
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "# HELP kube_customresource_s a\\\\b\n# TYPE kube_customresource_s gauge\n\
                 kube_customresource_s{{{gvk},p=\"x\"}} 1\nkube_customresource_s{{{gvk},p=\"y\"}} 0\n"
            )
        );
        let mut out = Vec::new();
        r.write_families(&[&obj], Format::OpenMetrics, &mut BTreeSet::new(), &mut out);
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("# TYPE kube_customresource_s stateset\n")
        );
        let mut out = Vec::new();
        r.write_families(&[], Format::Text, &mut BTreeSet::new(), &mut out);
        assert!(out.is_empty());
    }
}
