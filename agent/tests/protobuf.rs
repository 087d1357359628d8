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
use kube_state_agent::config::KeyAllowlist;
use kube_state_agent::decode::{Decoded, Object};
use kube_state_agent::exposition::RenderContext;
use kube_state_agent::registry::{self, KindInfo};
use kube_state_agent::resources::{
    FamilySelection, Kind, certificatesigningrequest, clusterrole, clusterrolebinding, cronjob,
    daemonset, deployment, endpoint, ingress, ingressclass, job, lease, limitrange,
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

/// Kinds the 1.20 apiserver does not serve at the version read: checked on hand-encoded golden
/// objects below instead of captures.
const HAND_ENCODED: &[&str] = &["cronjobs"];

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

/// Rows from `message`'s bytes and from `json`, with every family, label and annotation.
fn assert_hand_encoded_renders_as_json<M: wire::Message>(
    kind: &Kind<M::Object>,
    message: &M,
    json: &str,
) {
    let ctx = RenderContext {
        labels: KeyAllowlist::all(),
        annotations: KeyAllowlist::all(),
    };
    let selection = FamilySelection::new(&kind.family_headers(), |_| true);
    let from_protobuf = match wire::decode::<M>(Bytes::from(message.encode_to_vec())) {
        Decoded::Object(o) => o,
        Decoded::Malformed { error, .. } => panic!("does not decode: {error}"),
    };
    let rows_json = kind.render_json(json, &ctx, &selection).unwrap();
    assert!(!rows_json.all().is_empty());
    assert_eq!(
        String::from_utf8_lossy(kind.render(&from_protobuf, &ctx, &selection).all()),
        String::from_utf8_lossy(rows_json.all()),
        "rows differ (protobuf left, JSON right)"
    );
}

/// The golden `full` object of `resource` as JSON.
fn golden_json(resource: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(resource)
        .join("full.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text).expect("golden YAML")
}

/// CronJob is served at `batch/v1` from 1.21: the golden object is encoded here as gogo would.
#[test]
fn a_hand_encoded_golden_cronjob_renders_the_rows_of_its_json_twin() {
    use k8s_openapi::api::batch::v1 as batch;
    let json = golden_json("cronjobs");
    let typed: batch::CronJob = serde_json::from_value(json.clone()).expect("a CronJob");
    let spec = typed.spec.unwrap_or_default();
    let status = typed.status.unwrap_or_default();
    let time = |t: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
        t.map(|t| wire::meta::Time {
            seconds: Some(t.0.as_second()),
            nanos: None,
        })
    };
    let message = wire::cronjob::CronJob {
        metadata: Some(meta_message(&typed.metadata)),
        spec: Some(wire::cronjob::CronJobSpec {
            schedule: Some(spec.schedule),
            starting_deadline_seconds: spec.starting_deadline_seconds,
            concurrency_policy: Some(spec.concurrency_policy.unwrap_or_default()),
            suspend: spec.suspend,
            successful_jobs_history_limit: spec.successful_jobs_history_limit,
            failed_jobs_history_limit: spec.failed_jobs_history_limit,
            time_zone: spec.time_zone,
        }),
        status: Some(wire::cronjob::CronJobStatus {
            active: status
                .active
                .iter()
                .flatten()
                .map(|_| wire::pod::Present {})
                .collect(),
            last_schedule_time: time(status.last_schedule_time),
            last_successful_time: time(status.last_successful_time),
        }),
    };
    assert!(!message.status.as_ref().unwrap().active.is_empty());
    assert_hand_encoded_renders_as_json(&cronjob::KIND, &message, &json.to_string());
}
