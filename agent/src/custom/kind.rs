//! A configured custom resource as a kind the agent runs ([`CustomKind`]): the registry's
//! [`KindInfo`] for one entry of the custom resource state config, so planning, the leader's
//! watches, the snapshot builder, `?resources=` and `--metric-allowlist` treat it as they treat
//! a built-in kind.
//!
//! Pure: building a kind touches no network; its watch is `crate::watch::custom`'s.
//!
//! # Why leaked `&'static` values
//! Every layer downstream of the registry (plan, pipeline, leader, snapshot builder, store
//! shards, telemetry labels) holds kinds as `&'static dyn KindInfo` and their names and family
//! headers as `&'static str`, because the built-in kinds are `static` tables. Turning that
//! seam into `Arc<dyn KindInfo>` would touch each of those layers and every built-in kind's
//! header table for a handful of runtime values. Instead [`leak`] leaks one small
//! [`CustomKind`] (its compiled metrics, its names and family headers) per configured
//! resource.
//!
//! NOTE: the leak is bounded. [`leak`] MUST be called once at start and once per reload that
//! changes the custom config's text (`crate::pipeline::Pipelines` keeps the running kinds
//! while the text is unchanged), so the memory held is the config's compiled size times the
//! number of distinct custom configs the process has run.

use futures::future::BoxFuture;

use super::{GroupVersionKind, ResourceMetrics};
use crate::config::CustomResources;
use crate::exposition::{RenderContext, Stability};
use crate::registry::KindInfo;
use crate::resources::{ApiType, FamilyHeader, FamilySelection, Rows, Scope};
use crate::store::Writer;
use crate::watch::{StopSignal, WatchContext, WatchSpec};
use crate::wire;

/// One configured custom resource, as a kind.
///
/// # Invariants
/// - `headers[i]` is the header of `metrics.families()[i]`: table order is config order.
/// - `resource` is `resourcePlural` when configured; otherwise the kind lowercased plus `s`
///   (a wildcard kind: the group), a name only: the watch finds the served plural by
///   discovery.
#[derive(Debug)]
pub struct CustomKind {
    resource: &'static str,
    api: ApiType,
    headers: Vec<FamilyHeader>,
    metrics: ResourceMetrics,
}

fn leak_str(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

impl CustomKind {
    /// The kind of one compiled resource (see the module's note on leaking).
    fn new(metrics: ResourceMetrics) -> CustomKind {
        let gvk = metrics.gvk().clone();
        let resource = leak_str(resource_name(&gvk, metrics.resource_plural()));
        let headers = metrics
            .families()
            .iter()
            .map(|f| FamilyHeader {
                name: leak_str(f.name().to_string()),
                help: leak_str(f.help().to_string()),
                metric_type: f.metric_type(),
                // Custom families have no stability prefix, as in kube-state-metrics.
                stability: Stability::Experimental,
                opt_in: false,
            })
            .collect();
        CustomKind {
            resource,
            api: ApiType {
                group: leak_str(gvk.group.clone()),
                version: leak_str(gvk.version.clone()),
                kind: leak_str(gvk.kind.clone()),
                plural: resource,
            },
            headers,
            metrics,
        }
    }

    /// The compiled metrics, with the GVK as configured (wildcards included).
    pub fn metrics(&self) -> &ResourceMetrics {
        &self.metrics
    }

    /// The configured group, version and kind.
    pub fn gvk(&self) -> &GroupVersionKind {
        self.metrics.gvk()
    }

    /// Renders one object (a whole custom object as JSON) with `metrics` (this kind's, or a
    /// wildcard's resolution of it) into rows for the views of its namespace, plus the values
    /// that did not convert.
    pub fn render_value(
        &self,
        metrics: &ResourceMetrics,
        object: &serde_json::Value,
        selection: &FamilySelection,
    ) -> (Rows, Vec<super::SampleError>) {
        let rendered = metrics.render(object);
        let namespace = object
            .pointer("/metadata/namespace")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        let rows =
            Rows::from_families(namespace, self.headers.len(), &rendered.families, selection);
        (rows, rendered.errors)
    }
}

/// The `--resources`/`?resources=` name of a custom resource: `resourcePlural` when
/// configured, else the kind lowercased with an `s` (kube-state-metrics' guess before it
/// asked discovery), or the group for a wildcard kind.
fn resource_name(gvk: &GroupVersionKind, plural: Option<&str>) -> String {
    match plural {
        Some(p) => p.to_string(),
        None if gvk.kind == "*" => gvk.group.clone(),
        None => format!("{}s", gvk.kind.to_lowercase()),
    }
}

/// Leaks one [`CustomKind`] per configured resource, in config order. See the module docs for
/// when it may be called.
pub fn leak(custom: &CustomResources) -> Vec<&'static CustomKind> {
    custom
        .resources
        .iter()
        .map(|r| &*Box::leak(Box::new(CustomKind::new(r.clone()))))
        .collect()
}

impl KindInfo for CustomKind {
    fn resource(&self) -> &'static str {
        self.resource
    }
    fn api(&self) -> ApiType {
        self.api
    }
    /// Watched by the leader (or each `--scope=cluster` instance), its namespaces decided
    /// after discovery. A node-bound resource ([`KindInfo::node_field`]) is also watched by
    /// each node agent, which takes its node's objects over when the API server can select on
    /// the node field (`crate::watch::NodeBinding`).
    fn scope(&self) -> Scope {
        Scope::Cluster
    }
    fn is_custom(&self) -> bool {
        true
    }
    fn node_field(&self) -> Option<&str> {
        self.metrics.node_field()
    }
    fn family_headers(&self) -> Vec<FamilyHeader> {
        self.headers.clone()
    }
    fn shape_selectors(&self) -> Vec<&'static str> {
        vec![""]
    }
    fn has_protobuf(&self) -> bool {
        false
    }
    fn render_json(
        &self,
        json: &str,
        _ctx: &RenderContext,
        selection: &FamilySelection,
    ) -> Result<Rows, serde_json::Error> {
        let object: serde_json::Value = serde_json::from_str(json)?;
        Ok(self.render_value(&self.metrics, &object, selection).0)
    }
    fn render_protobuf(
        &self,
        _object: bytes::Bytes,
        _ctx: &RenderContext,
        _selection: &FamilySelection,
    ) -> Result<Rows, wire::Error> {
        Err(wire::Error::NoMessage(self.resource))
    }
    fn watch(
        &'static self,
        spec: WatchSpec,
        ctx: WatchContext,
        writer: Writer,
        stop: StopSignal,
    ) -> BoxFuture<'static, Writer> {
        Box::pin(crate::watch::custom::run(self, spec, ctx, writer, stop))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::Format;
    use crate::snapshot::{KindSource, build};

    const CONFIG: &str = r#"
spec:
  resources:
    - groupVersionKind: {group: example.com, version: v1, kind: Widget}
      labelsFromPath:
        name: [metadata, name]
      metrics:
        - name: size
          help: "Size of the \"widget\"."
          each:
            type: Gauge
            gauge: {path: [spec, size]}
        - name: phase
          help: Phase.
          each:
            type: StateSet
            stateSet: {path: [status, phase], labelName: phase, list: [Ready, Failed]}
    - groupVersionKind: {group: example.com, version: "*", kind: "*"}
      resourcePlural: things
      metricNamePrefix: ex
      metrics:
        - name: info
          help: Info.
          each: {type: Info, info: {labelsFromPath: {n: [metadata, name]}}}
"#;

    fn kinds() -> Vec<&'static CustomKind> {
        let resources = crate::custom::parse(CONFIG).unwrap();
        leak(&CustomResources {
            source: CONFIG.to_string(),
            resources: std::sync::Arc::new(resources),
        })
    }

    #[test]
    fn names_follow_the_plural_or_the_kind() {
        let kinds = kinds();
        assert_eq!(kinds[0].resource(), "widgets");
        assert_eq!(kinds[1].resource(), "things");
        assert_eq!(kinds[0].api().group, "example.com");
        let names: Vec<&str> = kinds[0].family_headers().iter().map(|h| h.name).collect();
        assert_eq!(
            names,
            ["kube_customresource_size", "kube_customresource_phase"]
        );
        assert!(kinds[0].is_custom() && kinds[0].scope() == Scope::Cluster);
    }

    #[test]
    fn the_builder_writes_custom_headers_as_kube_state_metrics_does_and_each_objects_rows() {
        let kind: &'static dyn KindInfo = kinds()[0];
        let selection = FamilySelection::new(&kind.family_headers(), |_| true);
        let (mut writer, reader) =
            crate::store::shard(kind.resource(), crate::store::ChangeSignal::default());
        let json = r#"{"apiVersion":"example.com/v1","kind":"Widget",
            "metadata":{"name":"w1","namespace":"team","uid":"u1"},
            "spec":{"size":3},"status":{"phase":"Ready"}}"#;
        let rows = kind
            .render_json(json, &RenderContext::default(), &selection)
            .unwrap();
        assert_eq!(rows.namespace(), "team", "tenant views show it");
        writer.apply(crate::store::Change::Apply("u1".into(), rows));
        let snapshot = build(
            &[KindSource {
                info: kind,
                selection,
                shards: vec![reader],
            }],
            false,
        );
        let text = String::from_utf8(snapshot.body(Format::Text, false).chunks.to_vec()).unwrap();
        let gvk = r#"customresource_group="example.com",customresource_kind="Widget",customresource_version="v1""#;
        assert_eq!(
            text,
            format!(
                "# HELP kube_customresource_size Size of the \"widget\".\n\
                 # TYPE kube_customresource_size gauge\n\
                 kube_customresource_size{{{gvk},name=\"w1\"}} 3\n\
                 # HELP kube_customresource_phase Phase.\n\
                 # TYPE kube_customresource_phase gauge\n\
                 kube_customresource_phase{{{gvk},name=\"w1\",phase=\"Failed\"}} 0\n\
                 kube_customresource_phase{{{gvk},name=\"w1\",phase=\"Ready\"}} 1\n"
            )
        );
        // The same headers as the library writes them.
        let mut library = Vec::new();
        for family in kinds()[0].metrics().families() {
            family.write_header(Format::Text, &mut library);
        }
        let ours: String = text
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(ours, String::from_utf8(library).unwrap());
    }

    #[test]
    fn a_disabled_family_renders_nothing() {
        let kind = kinds()[0];
        let selection = FamilySelection::from_fn(&kind.family_headers(), |h| {
            h.name == "kube_customresource_phase"
        });
        let object = serde_json::json!({"metadata": {"name": "w"}, "spec": {"size": 1},
            "status": {"phase": "Ready"}});
        let (rows, errors) = kind.render_value(kind.metrics(), &object, &selection);
        assert!(rows.family(0).is_empty());
        assert!(!rows.family(1).is_empty());
        assert!(errors.is_empty());
        assert_eq!(rows.namespace(), "", "a cluster-scoped object");
    }
}
