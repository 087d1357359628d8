//! Property tests of every kind's decode and render, without a cluster: each kind's `full`
//! golden object (`agent/tests/golden/<resource>/full.yaml`) mutated at random — strings
//! replaced by strings full of quotes, backslashes, newlines and non-ASCII, numbers by extreme
//! ones, fields deleted or given another type — goes through the kind's JSON decode and render.
//! It must never panic; whatever renders must parse as a strict text exposition
//! ([`testkit::exposition`]); and a label value the object carries comes back from the
//! exposition exactly (escaping round-trips). The kinds' protobuf captures
//! (`agent/tests/data/protobuf/`) with bytes flipped or cut go through the protobuf decode, which
//! must answer an error or rows that parse, never panic.
//!
//! Bounded (256 cases per property; `PROPTEST_CASES` raises it) and deterministic per run
//! seed; a failure prints the mutations that caused it.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use kube_state_agent::config::KeyAllowlist;
use kube_state_agent::exposition::{Format, RenderContext};
use kube_state_agent::registry::{self, KindInfo};
use kube_state_agent::resources::{FamilySelection, Rows};
use proptest::prelude::*;
use serde_json::Value;
use testkit::exposition::Exposition;

fn agent_tests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent/tests")
}

/// Every kind with its `full` golden object as JSON.
fn golden_objects() -> Vec<(&'static dyn KindInfo, Value)> {
    registry::infos()
        .map(|kind| {
            let path = agent_tests()
                .join("golden")
                .join(kind.resource())
                .join("full.yaml");
            let yaml = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let value: Value =
                serde_norway::from_str(&yaml).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (kind, value)
        })
        .collect()
}

/// Everything enabled: every family, opt-ins included, every label and annotation key.
fn everything(kind: &dyn KindInfo) -> (FamilySelection, RenderContext) {
    let selection = FamilySelection::new(&kind.family_headers(), |_| true);
    let ctx = RenderContext {
        labels: KeyAllowlist::all(),
        annotations: KeyAllowlist::all(),
    };
    (selection, ctx)
}

/// `rows` as a scrape of that one object shows them: every family's header, then its samples.
fn exposition(kind: &dyn KindInfo, selection: &FamilySelection, rows: &Rows) -> String {
    let mut out = Vec::new();
    for (i, header) in kind.family_headers().iter().enumerate() {
        if selection.is_enabled(i) {
            header.write(&mut out, Format::Text);
            out.extend_from_slice(rows.family(i));
        }
    }
    String::from_utf8(out).expect("the exposition is UTF-8")
}

/// One change to a JSON document.
#[derive(Clone, Debug)]
enum Edit {
    Text(String),
    Number(f64),
    Integer(i64),
    Bool(bool),
    Null,
    EmptyObject,
    EmptyArray,
    Delete,
}

/// Strings an exposition must escape or carry unchanged.
fn awkward_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just('"'),
            Just('\\'),
            Just('\n'),
            Just('\t'),
            Just('{'),
            Just('}'),
            Just('='),
            Just(','),
            Just('é'),
            Just('\u{1F600}'),
            prop::char::range('a', 'z'),
            prop::char::range('0', '9'),
        ],
        0..16,
    )
    .prop_map(|c| c.into_iter().collect())
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => awkward_string().prop_map(Edit::Text),
        1 => prop_oneof![
            Just(0.0),
            Just(-1.0),
            Just(1e300),
            Just(-1e-300),
            Just(f64::from(u32::MAX) * 4.0),
        ]
        .prop_map(Edit::Number),
        1 => any::<i64>().prop_map(Edit::Integer),
        1 => any::<bool>().prop_map(Edit::Bool),
        1 => Just(Edit::Null),
        1 => Just(Edit::EmptyObject),
        1 => Just(Edit::EmptyArray),
        2 => Just(Edit::Delete),
    ]
}

/// Every place in `value` below its root, as JSON pointers, in document order.
fn places(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(here.clone());
                places(v, here, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let here = format!("{at}/{i}");
                out.push(here.clone());
                places(v, here, out);
            }
        }
        _ => {}
    }
}

/// Applies `edit` at the place `pick` selects (modulo the number of places).
fn apply(doc: &mut Value, pick: usize, edit: &Edit) {
    let mut all = Vec::new();
    places(doc, String::new(), &mut all);
    let Some(pointer) = all.get(pick % all.len().max(1)).cloned() else {
        return;
    };
    let replacement = match edit {
        Edit::Text(s) => Value::from(s.as_str()),
        Edit::Number(n) => Value::from(*n),
        Edit::Integer(n) => Value::from(*n),
        Edit::Bool(b) => Value::from(*b),
        Edit::Null => Value::Null,
        Edit::EmptyObject => Value::Object(Default::default()),
        Edit::EmptyArray => Value::Array(Vec::new()),
        Edit::Delete => {
            let (parent, last) = pointer.rsplit_once('/').expect("below the root");
            match doc.pointer_mut(parent) {
                Some(Value::Object(map)) => {
                    map.remove(&last.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(items)) => {
                    if let Ok(i) = last.parse::<usize>()
                        && i < items.len()
                    {
                        items.remove(i);
                    }
                }
                _ => {}
            }
            return;
        }
    };
    if let Some(place) = doc.pointer_mut(&pointer) {
        *place = replacement;
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_mutation_of_a_golden_object_renders_a_strict_exposition_or_a_decode_error(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<usize>(), edit()), 1..8),
        label in awkward_string(),
    ) {
        let objects = golden_objects();
        let (kind, golden) = &objects[which.index(objects.len())];
        let mut doc = golden.clone();
        for (pick, e) in &edits {
            apply(&mut doc, *pick, e);
        }
        // A label the `_labels` family must carry back exactly, wherever the edits left
        // `metadata` an object.
        let carried = match doc.pointer_mut("/metadata") {
            Some(Value::Object(meta)) => {
                meta.insert("labels".into(), serde_json::json!({"prop": label}));
                true
            }
            _ => false,
        };
        let (selection, ctx) = everything(*kind);
        let json = serde_json::to_string(&doc).expect("JSON");
        let Ok(rows) = kind.render_json(&json, &ctx, &selection) else {
            // Counted as a decode error by a watch; nothing else to check.
            return Ok(());
        };
        let text = exposition(*kind, &selection, &rows);
        let parsed = Exposition::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("{}: {e}\n{text}", kind.resource())))?;
        let labels_family = kind
            .family_headers()
            .iter()
            .map(|h| h.name)
            .find(|name| name.ends_with("_labels"));
        if let (true, Some(family)) = (carried, labels_family)
            && let Some(sample) = parsed.samples.iter().find(|s| s.name == family)
        {
            prop_assert_eq!(sample.label("label_prop"), Some(label.as_str()), "{}", text);
        }
    }

    #[test]
    fn damaged_protobuf_captures_decode_to_an_error_or_a_strict_exposition(
        which in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let kinds: Vec<_> = registry::infos().filter(|k| k.has_protobuf()).collect();
        let kind = kinds[which.index(kinds.len())];
        let path = agent_tests()
            .join("data/protobuf")
            .join(format!("{}-full.pb", kind.resource()));
        let Ok(mut bytes) = std::fs::read(&path) else {
            // A kind the 1.20 apiserver does not serve has no capture.
            return Ok(());
        };
        // The envelope's magic stays, so the damage reaches the decoder.
        for (at, b) in &flips {
            let i = 4 + at.index(bytes.len() - 4);
            bytes[i] ^= b | 1;
        }
        bytes.truncate(4 + cut.index(bytes.len() - 3));
        let (selection, ctx) = everything(kind);
        if let Ok(rows) = kind.render_protobuf(Bytes::from(bytes), &ctx, &selection) {
            let text = exposition(kind, &selection, &rows);
            Exposition::parse(&text)
                .map_err(|e| TestCaseError::fail(format!("{}: {e}\n{text}", kind.resource())))?;
        }
    }
}

#[test]
fn a_mebibyte_annotation_of_every_escape_comes_back_exactly_from_every_kind() {
    let value = testkit::objects::text_of_every_escape(1 << 20);
    let mut checked = 0;
    for (kind, mut doc) in golden_objects() {
        let Some(family) = kind
            .family_headers()
            .iter()
            .map(|h| h.name)
            .find(|name| name.ends_with("_annotations"))
        else {
            continue;
        };
        doc["metadata"]["annotations"] = serde_json::json!({ "big": value });
        let (selection, ctx) = everything(kind);
        let json = serde_json::to_string(&doc).expect("JSON");
        let rows = kind
            .render_json(&json, &ctx, &selection)
            .unwrap_or_else(|e| panic!("{}: {e}", kind.resource()));
        let text = exposition(kind, &selection, &rows);
        let parsed =
            Exposition::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", kind.resource()));
        let sample = parsed
            .samples
            .iter()
            .find(|s| s.name == family)
            .unwrap_or_else(|| panic!("{family} has no sample"));
        assert!(
            sample.label("annotation_big") == Some(value.as_str()),
            "{family}: the annotation does not come back exactly"
        );
        checked += 1;
    }
    assert!(
        checked >= 20,
        "only {checked} kinds have an annotations family"
    );
}
