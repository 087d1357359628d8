//! The protobuf and JSON forms of the same objects, as the 1.20 apiserver sent them
//! (`tests/data/protobuf/<resource>-<case>.{pb,json}`, golden objects captured by the live test
//! `protobuf::the_golden_full_objects_of_every_kind_with_a_message_render_the_same_rows` with
//! `KSA_CAPTURE_PROTOBUF`), decode into the same lean object and render the same rows.
//!
//! Every kind with a lean message has at least its `full` pair: the list comes from the
//! registry, so a kind given a message without a capture fails here, by name. Kinds the 1.20
//! apiserver does not serve are checked on hand-encoded messages in their `wire` files.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use kube_state_agent::decode::{Decoded, Object};
use kube_state_agent::exposition::{KeyAllowlist, RenderContext};
use kube_state_agent::registry::{self, KindInfo};
use kube_state_agent::resources::{
    FamilySelection, Kind, certificatesigningrequest, clusterrole, clusterrolebinding, daemonset,
    deployment, endpoint, ingress, ingressclass, job, lease, limitrange,
    mutatingwebhookconfiguration, namespace, networkpolicy, node, persistentvolume,
    persistentvolumeclaim, pod, replicaset, replicationcontroller, resourcequota, role,
    rolebinding, service, serviceaccount, statefulset, storageclass,
    validatingwebhookconfiguration, volumeattachment,
};
use kube_state_agent::wire;

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/protobuf")
        .join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
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

/// [`assert_same`] on the capture `name` of `resource` with the kind's lean message; `false`
/// for a resource this test does not know a message for.
fn assert_capture_renders_as_json(resource: &str, name: &str) -> bool {
    match resource {
        "pods" => assert_same::<wire::pod::Pod>(&pod::KIND, name),
        "nodes" => assert_same::<wire::node::Node>(&node::KIND, name),
        "deployments" => assert_same::<wire::deployment::Deployment>(&deployment::KIND, name),
        "replicasets" => assert_same::<wire::replicaset::ReplicaSet>(&replicaset::KIND, name),
        "statefulsets" => assert_same::<wire::statefulset::StatefulSet>(&statefulset::KIND, name),
        "daemonsets" => assert_same::<wire::daemonset::DaemonSet>(&daemonset::KIND, name),
        "replicationcontrollers" => {
            assert_same::<wire::replicationcontroller::ReplicationController>(
                &replicationcontroller::KIND,
                name,
            )
        }
        "jobs" => assert_same::<wire::job::Job>(&job::KIND, name),
        "services" => assert_same::<wire::service::Service>(&service::KIND, name),
        "endpoints" => assert_same::<wire::endpoint::Endpoints>(&endpoint::KIND, name),
        "persistentvolumeclaims" => {
            assert_same::<wire::persistentvolumeclaim::PersistentVolumeClaim>(
                &persistentvolumeclaim::KIND,
                name,
            )
        }
        "persistentvolumes" => {
            assert_same::<wire::persistentvolume::PersistentVolume>(&persistentvolume::KIND, name)
        }
        "namespaces" => assert_same::<wire::namespace::Namespace>(&namespace::KIND, name),
        "resourcequotas" => {
            assert_same::<wire::resourcequota::ResourceQuota>(&resourcequota::KIND, name)
        }
        "limitranges" => assert_same::<wire::limitrange::LimitRange>(&limitrange::KIND, name),
        "serviceaccounts" => {
            assert_same::<wire::serviceaccount::ServiceAccount>(&serviceaccount::KIND, name)
        }
        "leases" => assert_same::<wire::lease::Lease>(&lease::KIND, name),
        "ingresses" => assert_same::<wire::ingress::Ingress>(&ingress::KIND, name),
        "ingressclasses" => {
            assert_same::<wire::ingressclass::IngressClass>(&ingressclass::KIND, name)
        }
        "networkpolicies" => {
            assert_same::<wire::networkpolicy::NetworkPolicy>(&networkpolicy::KIND, name)
        }
        "storageclasses" => {
            assert_same::<wire::storageclass::StorageClass>(&storageclass::KIND, name)
        }
        "volumeattachments" => {
            assert_same::<wire::volumeattachment::VolumeAttachment>(&volumeattachment::KIND, name)
        }
        "certificatesigningrequests" => assert_same::<
            wire::certificatesigningrequest::CertificateSigningRequest,
        >(&certificatesigningrequest::KIND, name),
        "roles" => assert_same::<wire::role::Role>(&role::KIND, name),
        "rolebindings" => assert_same::<wire::rolebinding::RoleBinding>(&rolebinding::KIND, name),
        "clusterroles" => assert_same::<wire::clusterrole::ClusterRole>(&clusterrole::KIND, name),
        "clusterrolebindings" => assert_same::<wire::clusterrolebinding::ClusterRoleBinding>(
            &clusterrolebinding::KIND,
            name,
        ),
        "mutatingwebhookconfigurations" => assert_same::<
            wire::mutatingwebhookconfiguration::MutatingWebhookConfiguration,
        >(&mutatingwebhookconfiguration::KIND, name),
        "validatingwebhookconfigurations" => assert_same::<
            wire::validatingwebhookconfiguration::ValidatingWebhookConfiguration,
        >(&validatingwebhookconfiguration::KIND, name),
        _ => return false,
    }
    true
}

#[test]
fn every_kind_with_a_message_renders_its_captures_as_their_json_twins() {
    let mut checked = Vec::new();
    for kind in registry::KINDS.iter().filter(|k| k.has_protobuf()) {
        let resource = kind.resource();
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
            assert!(
                assert_capture_renders_as_json(resource, name),
                "{resource} has a lean message but no case in this test"
            );
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
