//! The protobuf and JSON forms of the same objects, as the 1.20 apiserver sent them
//! (`tests/data/protobuf/<kind>-full.{pb,json}`, the golden `full` objects captured by the live
//! test `protobuf::the_golden_full_pod_and_node_render_the_same_rows_from_protobuf_as_from_json`
//! with `KSA_CAPTURE_PROTOBUF`), decode into the same lean object and render the same rows.

use std::path::Path;

use bytes::Bytes;
use kube_state_agent::config::KeyAllowlist;
use kube_state_agent::decode::{Decoded, Object};
use kube_state_agent::exposition::RenderContext;
use kube_state_agent::registry::KindInfo;
use kube_state_agent::resources::{FamilySelection, Kind, node, pod};
use kube_state_agent::wire;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/protobuf")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Decodes `<name>.pb` and `<name>.json`, and asserts equal lean objects and equal rows with
/// every family, label and annotation.
fn assert_same<M>(kind: &Kind<M::Object>, name: &str)
where
    M: wire::Message,
{
    let protobuf = Bytes::from(fixture(&format!("{name}.pb")));
    let json = String::from_utf8(fixture(&format!("{name}.json"))).unwrap();
    let raw = wire::envelope::open(protobuf)
        .and_then(|env| env.into_raw(&wire::api_version::<M::Object>(), M::Object::KIND.api.kind))
        .expect("the capture is an enveloped object of its kind");
    let from_protobuf = match wire::decode::<M>(raw) {
        Decoded::Object(o) => o,
        Decoded::Malformed { error, .. } => panic!("{name}.pb does not decode: {error}"),
    };
    let from_json: M::Object = serde_json::from_str(&json).expect("the JSON decodes");
    assert_eq!(
        format!("{from_protobuf:#?}"),
        format!("{from_json:#?}"),
        "{name}: the lean objects differ (protobuf left, JSON right)"
    );
    let ctx = RenderContext {
        labels: KeyAllowlist::all(),
        annotations: KeyAllowlist::all(),
    };
    let selection = FamilySelection::new(&kind.family_headers(), |_| true);
    let rows_json = kind.render_json(&json, &ctx, &selection).unwrap();
    let rows_protobuf = kind.render(&from_protobuf, &ctx, &selection);
    assert_eq!(
        String::from_utf8_lossy(rows_protobuf.all()),
        String::from_utf8_lossy(rows_json.all()),
        "{name}: rows differ (protobuf left, JSON right)"
    );
}

#[test]
fn the_captured_full_pod_renders_the_rows_of_its_json_twin() {
    assert_same::<wire::pod::Pod>(&pod::KIND, "pod-full");
}

#[test]
fn the_captured_full_node_renders_the_rows_of_its_json_twin() {
    assert_same::<wire::node::Node>(&node::KIND, "node-full");
}

#[test]
fn the_captured_pod_is_much_smaller_as_protobuf() {
    let (pb, json) = (fixture("pod-full.pb"), fixture("pod-full.json"));
    assert!(
        pb.len() * 10 < json.len() * 6,
        "{} B against {} B",
        pb.len(),
        json.len()
    );
}
