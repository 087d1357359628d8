//! The protobuf and JSON forms of the same objects, as the 1.20 apiserver sent them
//! (`tests/data/protobuf/<resource>-<case>.{pb,json}`, golden objects captured by the live test
//! `protobuf::the_golden_full_objects_of_every_kind_with_a_message_render_the_same_rows` with
//! `KSA_CAPTURE_PROTOBUF`), decode into the same lean object and render the same rows.
//!
//! Every kind with a lean message has at least its `full` pair: the list comes from the
//! registry, so a kind given a message without a capture fails here, by name. Kinds the 1.20
//! apiserver does not serve at the version read ([`HAND_ENCODED`]) are checked instead on their
//! golden cases, encoded here field by field at upstream's numbers as gogo would write them.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use kube_state_agent::config::KeyAllowlist;
use kube_state_agent::decode::Decoded;
use kube_state_agent::exposition::RenderContext;
use kube_state_agent::registry::{self, KindInfo};
use kube_state_agent::resources::{
    FamilySelection, Kind, cronjob, endpointslice, horizontalpodautoscaler,
    mutatingadmissionpolicy, mutatingadmissionpolicybinding, poddisruptionbudget,
    validatingadmissionpolicy, validatingadmissionpolicybinding,
};
use kube_state_agent::wire;
use prost::Message as _;

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/protobuf")
        .join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Asserts that the capture `<name>.pb` of `kind` renders the rows of its JSON twin
/// `<name>.json`, with every family, label and annotation.
fn assert_capture_renders_as_json(kind: &dyn KindInfo, name: &str) {
    let protobuf = Bytes::from(fixture(&format!("{name}.pb")));
    let json = String::from_utf8(fixture(&format!("{name}.json"))).unwrap();
    let ctx = RenderContext {
        labels: KeyAllowlist::all(),
        annotations: KeyAllowlist::all(),
    };
    let selection = FamilySelection::new(&kind.family_headers(), |_| true);
    let rows_protobuf = kind
        .render_protobuf(protobuf, &ctx, &selection)
        .unwrap_or_else(|e| panic!("{name}.pb does not render: {e}"));
    let rows_json = kind.render_json(&json, &ctx, &selection).unwrap();
    assert!(
        !rows_json.all().is_empty(),
        "{name}: the object renders rows"
    );
    assert_eq!(
        String::from_utf8_lossy(rows_protobuf.all()),
        String::from_utf8_lossy(rows_json.all()),
        "{name}: rows differ (protobuf left, JSON right)"
    );
}

/// Kinds the 1.20 apiserver does not serve at the version read: checked on hand-encoded golden
/// objects below instead of captures.
const HAND_ENCODED: &[&str] = &[
    "cronjobs",
    "poddisruptionbudgets",
    "horizontalpodautoscalers",
    "endpointslices",
    "validatingadmissionpolicies",
    "validatingadmissionpolicybindings",
    "mutatingadmissionpolicies",
    "mutatingadmissionpolicybindings",
];

#[test]
fn every_kind_with_a_message_renders_its_captures_as_their_json_twins() {
    let mut checked = Vec::new();
    for kind in registry::KINDS.iter().filter(|k| k.has_protobuf()) {
        let resource = kind.resource();
        if HAND_ENCODED.contains(&resource) {
            continue;
        }
        assert!(
            fixture_path(&format!("{resource}-full.pb")).exists(),
            "{resource} has a lean message but no capture: run the live test \
             `protobuf::the_golden_full_objects_of_every_kind_with_a_message_render_the_same_rows` \
             with KSA_CAPTURE_PROTOBUF=agent/tests/data/protobuf"
        );
        let dir = std::fs::read_dir(fixture_path("")).expect("the captures");
        let mut captures: Vec<String> = dir
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|f| Some(f.strip_suffix(".pb")?.to_string()))
            // No resource name is another's followed by `-`.
            .filter(|f| f.starts_with(&format!("{resource}-")))
            .collect();
        captures.sort();
        for name in &captures {
            assert_capture_renders_as_json(*kind, name);
        }
        checked.push(format!("{resource}: {}", captures.len()));
    }
    assert!(checked.len() >= 8, "the kinds with a message: {checked:?}");
}

#[test]
fn the_captured_pod_is_much_smaller_as_protobuf() {
    let (pb, json) = (fixture("pods-full.pb"), fixture("pods-full.json"));
    assert!(
        pb.len() * 10 < json.len() * 6,
        "{} B against {} B",
        pb.len(),
        json.len()
    );
}

/// `meta` as gogo writes it: every string and the timestamps, empty or not (what the lean
/// conversion must read as JSON's `omitempty` does).
fn meta_message(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> wire::meta::ObjectMeta {
    let time = |t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
        Some(wire::meta::Time {
            seconds: t.as_ref().map(|t| t.0.as_second()),
            nanos: None,
        })
    };
    wire::meta::ObjectMeta {
        name: Some(meta.name.clone().unwrap_or_default()),
        namespace: Some(meta.namespace.clone().unwrap_or_default()),
        uid: Some(meta.uid.clone().unwrap_or_default()),
        resource_version: Some(meta.resource_version.clone().unwrap_or_default()),
        generation: Some(meta.generation.unwrap_or_default()),
        creation_timestamp: time(&meta.creation_timestamp),
        deletion_timestamp: meta
            .deletion_timestamp
            .as_ref()
            .and_then(|t| time(&Some(t.clone()))),
        labels: meta.labels.clone().unwrap_or_default(),
        annotations: meta.annotations.clone().unwrap_or_default(),
        owner_references: meta
            .owner_references
            .iter()
            .flatten()
            .map(|o| wire::meta::OwnerReference {
                kind: Some(o.kind.clone()),
                name: Some(o.name.clone()),
                uid: Some(o.uid.clone()),
                api_version: Some(o.api_version.clone()),
                controller: o.controller,
                block_owner_deletion: o.block_owner_deletion,
            })
            .collect(),
    }
}

/// Asserts that `message` (one object's message, not enveloped) and `json` decode into the
/// same lean object and render the same rows, with every family, label and annotation.
fn assert_hand_encoded_renders_as_json<M: wire::Message>(
    kind: &Kind<M::Object>,
    message: Vec<u8>,
    json: &str,
) {
    let ctx = RenderContext {
        labels: KeyAllowlist::all(),
        annotations: KeyAllowlist::all(),
    };
    let selection = FamilySelection::new(&kind.family_headers(), |_| true);
    let from_protobuf = match wire::decode::<M>(Bytes::from(message)) {
        Decoded::Object(o) => o,
        Decoded::Malformed { error, .. } => panic!("does not decode: {error}"),
    };
    let from_json: M::Object = serde_json::from_str(json).expect("the JSON decodes");
    assert_eq!(
        format!("{from_protobuf:#?}"),
        format!("{from_json:#?}"),
        "the lean objects differ (protobuf left, JSON right)"
    );
    let rows_json = kind.render_json(json, &ctx, &selection).unwrap();
    assert!(!rows_json.all().is_empty());
    assert_eq!(
        String::from_utf8_lossy(kind.render(&from_protobuf, &ctx, &selection).all()),
        String::from_utf8_lossy(rows_json.all()),
        "rows differ (protobuf left, JSON right)"
    );
}

/// Every golden case of `resource` (`full`, `minimal` and the cases written for particular
/// fields), by name, as JSON.
fn golden_cases(resource: &str) -> Vec<(String, serde_json::Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(resource);
    let mut cases: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| Some(f.strip_suffix(".yaml")?.to_string()))
        .collect();
    cases.sort();
    assert!(
        cases.iter().any(|c| c == "full"),
        "{resource}: no full case in {cases:?}"
    );
    cases
        .into_iter()
        .map(|case| {
            let text = std::fs::read_to_string(dir.join(format!("{case}.yaml"))).unwrap();
            let value = serde_norway::from_str(&text).expect("golden YAML");
            (case, value)
        })
        .collect()
}

/// Encodes every golden case of `kind` with `encode` and asserts it decodes with `M` and
/// renders as its JSON twin.
fn assert_every_golden_case_hand_encoded<M: wire::Message>(
    kind: &Kind<M::Object>,
    encode: fn(&serde_json::Value) -> Gogo,
) {
    for (case, mut json) in golden_cases(kind.resource) {
        let message = encode(&json).0;
        as_the_apiserver_writes_it(kind.resource, &mut json);
        let result = std::panic::catch_unwind(|| {
            assert_hand_encoded_renders_as_json::<M>(kind, message, &json.to_string());
        });
        if let Err(panic) = result {
            eprintln!("{}: golden case {case}", kind.resource);
            std::panic::resume_unwind(panic);
        }
    }
}

/// Adds to a golden case the value fields without `omitempty` that it leaves out but the API
/// server's JSON always carries, so that the JSON twin is one the API server could send: an
/// EndpointSlice's `addressType` (left out of its `minimal` case).
fn as_the_apiserver_writes_it(resource: &str, json: &mut serde_json::Value) {
    if resource == "endpointslices" && json.get("addressType").is_none() {
        json["addressType"] = "".into();
    }
}

// ===== gogo's encoding, by hand, from an object's JSON =====
//
// The messages below are written field by field at the numbers of upstream's `generated.proto`
// files, independently of the lean messages' own tags, so a wrong tag in `wire` shows as a
// difference. gogo writes every Go field that is not a pointer, empty or not, and a pointer only
// when it is set: that is the difference the lean conversions must undo.

/// A protobuf message being written.
#[derive(Default)]
struct Gogo(Vec<u8>);

impl Gogo {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u32, wire_type: u64) {
        self.varint((u64::from(field) << 3) | wire_type);
    }
    fn len_delimited(&mut self, field: u32, bytes: &[u8]) {
        self.key(field, 2);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }
    /// A string, when written.
    fn string(mut self, field: u32, s: Option<String>) -> Self {
        if let Some(s) = s {
            self.len_delimited(field, s.as_bytes());
        }
        self
    }
    /// Repeated strings.
    fn strings(mut self, field: u32, strings: Vec<String>) -> Self {
        for s in strings {
            self.len_delimited(field, s.as_bytes());
        }
        self
    }
    /// An integer (`int32` or `int64`; negative ones as ten bytes, as protobuf does).
    fn int(mut self, field: u32, v: Option<i64>) -> Self {
        if let Some(v) = v {
            self.key(field, 0);
            self.varint(v as u64);
        }
        self
    }
    fn bool(self, field: u32, v: Option<bool>) -> Self {
        self.int(field, v.map(i64::from))
    }
    /// An embedded message, when written.
    fn message(mut self, field: u32, m: Option<Gogo>) -> Self {
        if let Some(m) = m {
            self.len_delimited(field, &m.0);
        }
        self
    }
    /// Repeated embedded messages.
    fn messages(mut self, field: u32, ms: impl IntoIterator<Item = Gogo>) -> Self {
        for m in ms {
            self.len_delimited(field, &m.0);
        }
        self
    }
}

/// A pointer string: written only when set.
fn pointer_str(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key)?.as_str().map(str::to_string)
}

/// A value string: always written.
fn value_str(v: &serde_json::Value, key: &str) -> Option<String> {
    Some(pointer_str(v, key).unwrap_or_default())
}

/// A pointer integer.
fn pointer_int(v: &serde_json::Value, key: &str) -> Option<i64> {
    v.get(key)?.as_i64()
}

/// A value integer.
fn value_int(v: &serde_json::Value, key: &str) -> Option<i64> {
    Some(pointer_int(v, key).unwrap_or_default())
}

/// A pointer `bool`.
fn pointer_bool(v: &serde_json::Value, key: &str) -> Option<bool> {
    v.get(key)?.as_bool()
}

/// The elements of a list field, none when absent.
fn elements<'a>(
    v: &'a serde_json::Value,
    key: &str,
) -> impl Iterator<Item = &'a serde_json::Value> {
    v.get(key)
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
}

/// A list of strings.
fn strings(v: &serde_json::Value, key: &str) -> Vec<String> {
    elements(v, key)
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

/// A pointer `resource.Quantity` (`string` = 1): its text (a JSON number is the quantity of
/// its digits).
fn quantity(v: &serde_json::Value, key: &str) -> Option<Gogo> {
    let text = match v.get(key)? {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some(Gogo::default().string(1, Some(text)))
}

/// `metadata` (field 1 of every kind), as gogo writes it.
fn with_metadata(v: &serde_json::Value) -> Gogo {
    let meta: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta =
        serde_json::from_value(v["metadata"].clone()).expect("metadata");
    Gogo::default().message(1, Some(Gogo(meta_message(&meta).encode_to_vec())))
}

/// A pointer `metav1.Time` (`seconds` = 1), from its RFC 3339 text.
fn time(v: &serde_json::Value, key: &str) -> Option<Gogo> {
    let t: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time =
        serde_json::from_value(v.get(key)?.clone()).expect("a time");
    Some(Gogo::default().int(1, Some(t.0.as_second())))
}

/// `batch/v1.CronJob`: spec = 2 (schedule = 1, startingDeadlineSeconds = 2,
/// concurrencyPolicy = 3, suspend = 4, successfulJobsHistoryLimit = 6,
/// failedJobsHistoryLimit = 7, timeZone = 8), status = 3 (active = 1, core/v1
/// `ObjectReference`s: kind = 1, namespace = 2, name = 3; lastScheduleTime = 4,
/// lastSuccessfulTime = 5).
fn encode_cronjob(v: &serde_json::Value) -> Gogo {
    let (spec, status) = (&v["spec"], &v["status"]);
    let spec = Gogo::default()
        .string(1, value_str(spec, "schedule"))
        .int(2, pointer_int(spec, "startingDeadlineSeconds"))
        .string(3, value_str(spec, "concurrencyPolicy"))
        .bool(4, pointer_bool(spec, "suspend"))
        .int(6, pointer_int(spec, "successfulJobsHistoryLimit"))
        .int(7, pointer_int(spec, "failedJobsHistoryLimit"))
        .string(8, pointer_str(spec, "timeZone"));
    let status = Gogo::default()
        .messages(
            1,
            elements(status, "active").map(|r| {
                Gogo::default()
                    .string(1, value_str(r, "kind"))
                    .string(2, value_str(r, "namespace"))
                    .string(3, value_str(r, "name"))
            }),
        )
        .message(4, time(status, "lastScheduleTime"))
        .message(5, time(status, "lastSuccessfulTime"));
    with_metadata(v)
        .message(2, Some(spec))
        .message(3, Some(status))
}

/// CronJob is served at `batch/v1` from 1.21; the golden cases cover schedules, time zones and
/// a suspended and a never-scheduled one.
#[test]
fn hand_encoded_golden_cronjobs_render_the_rows_of_their_json_twins() {
    assert_every_golden_case_hand_encoded::<wire::cronjob::CronJob>(&cronjob::KIND, encode_cronjob);
}

/// `policy/v1.PodDisruptionBudget`.
fn encode_poddisruptionbudget(v: &serde_json::Value) -> Gogo {
    let status = &v["status"];
    with_metadata(v).message(
        3,
        Some(
            Gogo::default()
                .int(1, value_int(status, "observedGeneration"))
                .int(3, value_int(status, "disruptionsAllowed"))
                .int(4, value_int(status, "currentHealthy"))
                .int(5, value_int(status, "desiredHealthy"))
                .int(6, value_int(status, "expectedPods")),
        ),
    )
}

/// PodDisruptionBudget is served at `policy/v1` from 1.21.
#[test]
fn hand_encoded_golden_poddisruptionbudgets_render_the_rows_of_their_json_twins() {
    assert_every_golden_case_hand_encoded::<wire::poddisruptionbudget::PodDisruptionBudget>(
        &poddisruptionbudget::KIND,
        encode_poddisruptionbudget,
    );
}

/// `autoscaling/v2.HorizontalPodAutoscaler`.
fn encode_horizontalpodautoscaler(v: &serde_json::Value) -> Gogo {
    // MetricIdentifier: name = 1.
    let identifier =
        |s: &serde_json::Value| Some(Gogo::default().string(1, value_str(&s["metric"], "name")));
    // MetricTarget: value = 2, averageValue = 3, averageUtilization = 4.
    let target = |s: &serde_json::Value| {
        let t = &s["target"];
        Some(
            Gogo::default()
                .string(1, value_str(t, "type"))
                .message(2, quantity(t, "value"))
                .message(3, quantity(t, "averageValue"))
                .int(4, pointer_int(t, "averageUtilization")),
        )
    };
    // MetricValueStatus: value = 1, averageValue = 2, averageUtilization = 3.
    let current = |s: &serde_json::Value| {
        let c = &s["current"];
        Some(
            Gogo::default()
                .message(1, quantity(c, "value"))
                .message(2, quantity(c, "averageValue"))
                .int(3, pointer_int(c, "averageUtilization")),
        )
    };
    // CrossVersionObjectReference: kind = 1, name = 2, apiVersion = 3.
    let reference = |r: &serde_json::Value| {
        Some(
            Gogo::default()
                .string(1, value_str(r, "kind"))
                .string(2, value_str(r, "name"))
                .string(3, value_str(r, "apiVersion")),
        )
    };
    // Sources: type = 1, object = 2, pods = 3, resource = 4, external = 5,
    // containerResource = 7.
    let metric_spec = |m: &serde_json::Value| {
        let source = |key: &str, f: &dyn Fn(&serde_json::Value) -> Gogo| m.get(key).map(f);
        Gogo::default()
            .string(1, value_str(m, "type"))
            // ObjectMetricSource: describedObject = 1, target = 2, metric = 3.
            .message(
                2,
                source("object", &|s| {
                    Gogo::default()
                        .message(1, reference(&s["describedObject"]))
                        .message(2, target(s))
                        .message(3, identifier(s))
                }),
            )
            // PodsMetricSource: metric = 1, target = 2.
            .message(
                3,
                source("pods", &|s| {
                    Gogo::default()
                        .message(1, identifier(s))
                        .message(2, target(s))
                }),
            )
            // ResourceMetricSource: name = 1, target = 2.
            .message(
                4,
                source("resource", &|s| {
                    Gogo::default()
                        .string(1, value_str(s, "name"))
                        .message(2, target(s))
                }),
            )
            // ExternalMetricSource: metric = 1, target = 2.
            .message(
                5,
                source("external", &|s| {
                    Gogo::default()
                        .message(1, identifier(s))
                        .message(2, target(s))
                }),
            )
            // ContainerResourceMetricSource: name = 1, target = 2, container = 3.
            .message(
                7,
                source("containerResource", &|s| {
                    Gogo::default()
                        .string(1, value_str(s, "name"))
                        .message(2, target(s))
                        .string(3, value_str(s, "container"))
                }),
            )
    };
    let metric_status = |m: &serde_json::Value| {
        let source = |key: &str, f: &dyn Fn(&serde_json::Value) -> Gogo| m.get(key).map(f);
        Gogo::default()
            .string(1, value_str(m, "type"))
            // ObjectMetricStatus: metric = 1, current = 2, describedObject = 3.
            .message(
                2,
                source("object", &|s| {
                    Gogo::default()
                        .message(1, identifier(s))
                        .message(2, current(s))
                        .message(3, reference(&s["describedObject"]))
                }),
            )
            // PodsMetricStatus and ExternalMetricStatus: metric = 1, current = 2.
            .message(
                3,
                source("pods", &|s| {
                    Gogo::default()
                        .message(1, identifier(s))
                        .message(2, current(s))
                }),
            )
            // ResourceMetricStatus: name = 1, current = 2.
            .message(
                4,
                source("resource", &|s| {
                    Gogo::default()
                        .string(1, value_str(s, "name"))
                        .message(2, current(s))
                }),
            )
            .message(
                5,
                source("external", &|s| {
                    Gogo::default()
                        .message(1, identifier(s))
                        .message(2, current(s))
                }),
            )
            // ContainerResourceMetricStatus: name = 1, current = 2, container = 3.
            .message(
                7,
                source("containerResource", &|s| {
                    Gogo::default()
                        .string(1, value_str(s, "name"))
                        .message(2, current(s))
                        .string(3, value_str(s, "container"))
                }),
            )
    };
    // HPAScalingRules: selectPolicy = 1, stabilizationWindowSeconds = 3, tolerance = 4.
    let rules = |r: &serde_json::Value| {
        Gogo::default()
            .string(1, pointer_str(r, "selectPolicy"))
            .int(3, pointer_int(r, "stabilizationWindowSeconds"))
            .message(4, quantity(r, "tolerance"))
    };
    let (spec, status) = (&v["spec"], &v["status"]);
    // Spec: scaleTargetRef = 1, minReplicas = 2, maxReplicas = 3, metrics = 4, behavior = 5
    // (scaleUp = 1, scaleDown = 2).
    let spec = Gogo::default()
        .message(1, reference(&spec["scaleTargetRef"]))
        .int(2, pointer_int(spec, "minReplicas"))
        .int(3, value_int(spec, "maxReplicas"))
        .messages(4, elements(spec, "metrics").map(metric_spec))
        .message(
            5,
            spec.get("behavior").map(|b| {
                Gogo::default()
                    .message(1, b.get("scaleUp").map(rules))
                    .message(2, b.get("scaleDown").map(rules))
            }),
        );
    // Status: currentReplicas = 3, desiredReplicas = 4, currentMetrics = 5, conditions = 6
    // (type = 1, status = 2, reason = 4).
    let status = Gogo::default()
        .int(3, value_int(status, "currentReplicas"))
        .int(4, value_int(status, "desiredReplicas"))
        .messages(5, elements(status, "currentMetrics").map(metric_status))
        .messages(
            6,
            elements(status, "conditions").map(|c| {
                Gogo::default()
                    .string(1, value_str(c, "type"))
                    .string(2, value_str(c, "status"))
                    .string(4, value_str(c, "reason"))
            }),
        );
    with_metadata(v)
        .message(2, Some(spec))
        .message(3, Some(status))
}

/// HorizontalPodAutoscaler is served at `autoscaling/v2` from 1.23. The golden cases cover
/// every metric source, in a spec and in a status, and targets without values.
#[test]
fn hand_encoded_golden_horizontalpodautoscalers_render_the_rows_of_their_json_twins() {
    assert_every_golden_case_hand_encoded::<wire::horizontalpodautoscaler::HorizontalPodAutoscaler>(
        &horizontalpodautoscaler::KIND,
        encode_horizontalpodautoscaler,
    );
}

/// `discovery/v1.EndpointSlice`.
fn encode_endpointslice(v: &serde_json::Value) -> Gogo {
    // Endpoint: addresses = 1, conditions = 2 (ready = 1, serving = 2, terminating = 3),
    // hostname = 3, targetRef = 4 (core/v1.ObjectReference: kind = 1, namespace = 2,
    // name = 3, uid = 4), nodeName = 6, zone = 7, hints = 8 (forZones = 1, name = 1).
    let endpoint = |e: &serde_json::Value| {
        let conditions = &e["conditions"];
        Gogo::default()
            .strings(1, strings(e, "addresses"))
            .message(
                2,
                Some(
                    Gogo::default()
                        .bool(1, pointer_bool(conditions, "ready"))
                        .bool(2, pointer_bool(conditions, "serving"))
                        .bool(3, pointer_bool(conditions, "terminating")),
                ),
            )
            .string(3, pointer_str(e, "hostname"))
            .message(
                4,
                e.get("targetRef").map(|r| {
                    Gogo::default()
                        .string(1, value_str(r, "kind"))
                        .string(2, value_str(r, "namespace"))
                        .string(3, value_str(r, "name"))
                        .string(4, value_str(r, "uid"))
                }),
            )
            .string(6, pointer_str(e, "nodeName"))
            .string(7, pointer_str(e, "zone"))
            .message(
                8,
                e.get("hints").map(|h| {
                    Gogo::default().messages(
                        1,
                        elements(h, "forZones")
                            .map(|z| Gogo::default().string(1, value_str(z, "name"))),
                    )
                }),
            )
    };
    // EndpointPort: name = 1, protocol = 2, port = 3 (all pointers).
    let port = |p: &serde_json::Value| {
        Gogo::default()
            .string(1, pointer_str(p, "name"))
            .string(2, pointer_str(p, "protocol"))
            .int(3, pointer_int(p, "port"))
    };
    // EndpointSlice: endpoints = 2, ports = 3, addressType = 4.
    with_metadata(v)
        .messages(2, elements(v, "endpoints").map(endpoint))
        .messages(3, elements(v, "ports").map(port))
        .string(4, value_str(v, "addressType"))
}

/// EndpointSlice is served at `discovery.k8s.io/v1` from 1.21.
#[test]
fn hand_encoded_golden_endpointslices_render_the_rows_of_their_json_twins() {
    assert_every_golden_case_hand_encoded::<wire::endpointslice::EndpointSlice>(
        &endpointslice::KIND,
        encode_endpointslice,
    );
}

/// A policy's `paramKind` (a pointer to `apiVersion` = 1, `kind` = 2, both values).
fn param_kind(spec: &serde_json::Value) -> Option<Gogo> {
    spec.get("paramKind").map(|k| {
        Gogo::default()
            .string(1, value_str(k, "apiVersion"))
            .string(2, value_str(k, "kind"))
    })
}

/// A binding's `paramRef` (a pointer to `name` = 1 and `namespace` = 2, values, and
/// `parameterNotFoundAction` = 4, a pointer).
fn param_ref(spec: &serde_json::Value) -> Option<Gogo> {
    spec.get("paramRef").map(|r| {
        Gogo::default()
            .string(1, value_str(r, "name"))
            .string(2, value_str(r, "namespace"))
            .string(4, pointer_str(r, "parameterNotFoundAction"))
    })
}

/// `admissionregistration/v1.ValidatingAdmissionPolicy`: spec = 2 (paramKind = 1,
/// failurePolicy = 4).
fn encode_validatingadmissionpolicy(v: &serde_json::Value) -> Gogo {
    let spec = &v["spec"];
    with_metadata(v).message(
        2,
        Some(
            Gogo::default()
                .message(1, param_kind(spec))
                .string(4, pointer_str(spec, "failurePolicy")),
        ),
    )
}

/// `admissionregistration/v1.ValidatingAdmissionPolicyBinding`: spec = 2 (policyName = 1,
/// paramRef = 2, validationActions = 4).
fn encode_validatingadmissionpolicybinding(v: &serde_json::Value) -> Gogo {
    let spec = &v["spec"];
    with_metadata(v).message(
        2,
        Some(
            Gogo::default()
                .string(1, value_str(spec, "policyName"))
                .message(2, param_ref(spec))
                .strings(4, strings(spec, "validationActions")),
        ),
    )
}

/// `admissionregistration/v1.MutatingAdmissionPolicy`: spec = 2 (paramKind = 1,
/// failurePolicy = 5, reinvocationPolicy = 7).
fn encode_mutatingadmissionpolicy(v: &serde_json::Value) -> Gogo {
    let spec = &v["spec"];
    with_metadata(v).message(
        2,
        Some(
            Gogo::default()
                .message(1, param_kind(spec))
                .string(5, pointer_str(spec, "failurePolicy"))
                .string(7, value_str(spec, "reinvocationPolicy")),
        ),
    )
}

/// `admissionregistration/v1.MutatingAdmissionPolicyBinding`: spec = 2 (policyName = 1,
/// paramRef = 2).
fn encode_mutatingadmissionpolicybinding(v: &serde_json::Value) -> Gogo {
    let spec = &v["spec"];
    with_metadata(v).message(
        2,
        Some(
            Gogo::default()
                .string(1, value_str(spec, "policyName"))
                .message(2, param_ref(spec)),
        ),
    )
}

/// The admission policies and their bindings are served at `admissionregistration.k8s.io/v1`
/// from 1.30 (the validating ones) and later (the mutating ones).
#[test]
fn hand_encoded_golden_admission_policies_and_bindings_render_the_rows_of_their_json_twins() {
    use wire::{
        mutatingadmissionpolicy as map, mutatingadmissionpolicybinding as mapb,
        validatingadmissionpolicy as vap, validatingadmissionpolicybinding as vapb,
    };
    assert_every_golden_case_hand_encoded::<vap::ValidatingAdmissionPolicy>(
        &validatingadmissionpolicy::KIND,
        encode_validatingadmissionpolicy,
    );
    assert_every_golden_case_hand_encoded::<vapb::ValidatingAdmissionPolicyBinding>(
        &validatingadmissionpolicybinding::KIND,
        encode_validatingadmissionpolicybinding,
    );
    assert_every_golden_case_hand_encoded::<map::MutatingAdmissionPolicy>(
        &mutatingadmissionpolicy::KIND,
        encode_mutatingadmissionpolicy,
    );
    assert_every_golden_case_hand_encoded::<mapb::MutatingAdmissionPolicyBinding>(
        &mutatingadmissionpolicybinding::KIND,
        encode_mutatingadmissionpolicybinding,
    );
}

/// Every built-in kind has a lean message: with `--api-encoding=protobuf` (the default) only
/// custom resources are read as JSON. (ConfigMaps and most Secrets are watched metadata-only,
/// as `PartialObjectMetadata`, which needs no message of theirs; their messages read the
/// whole objects of the other shapes and of `--lean-watches=false`.)
#[test]
fn every_kind_has_a_lean_message() {
    let without: Vec<&str> = registry::KINDS
        .iter()
        .filter(|k| !k.has_protobuf())
        .map(|k| k.resource())
        .collect();
    assert!(
        without.is_empty(),
        "kinds without a lean message: {without:?}"
    );
}
