//! Pods (`v1/Pod`), scope [`Scope::NodeBound`]: every agent watches the pods bound to its node;
//! the leader also watches the unscheduled ones. Mirrors kube-state-metrics'
//! `internal/store/pod.go` (`podMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`Pod`]: no clock, no I/O, no globals. The
//! identity labels `namespace`, `pod`, `uid` are put in front by the writer, as `wrapPodFunc`
//! does. See [`KIND`].
//!
//! Where KSM follows Go's random map order (resource requests and limits, overhead) we sort by
//! key, which changes line order only: KSM's own tests compare outputs order-insensitively.
//!
//! This file holds the family table, the identity and the pod-level families. The container and
//! init-container families live in `container.rs`; the lean decode types in `decode.rs`,
//! re-exported here.

mod container;
mod decode;

pub use decode::{
    Container, ContainerState, ContainerStatus, PersistentVolumeClaimSource, Pod, PodCondition,
    PodIp, PodResourceClaim, PodResourceClaimStatus, PodSpec, PodStatus, ResourceRequirements,
    StateRunning, StateTerminated, StateWaiting, Toleration, Volume,
};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::common::{
    Quantity, bool_value, condition_samples_as, convert_value_to_float64,
    ip_family, kube_map_labels, timestamp,
    unix_or_go_zero,
};
use super::common::{metadata, text};
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::exposition::{Identity, MetricType, Series};
use crate::config::KeyAllowlist;
use container::{
    container_info, container_resource_limits, container_resource_requests,
    container_state_started, container_status_last_terminated_exitcode,
    container_status_last_terminated_reason, container_status_last_terminated_timestamp,
    container_status_ready, container_status_restarts_total, container_status_running,
    container_status_terminated, container_status_terminated_reason, container_status_waiting,
    container_status_waiting_reason, init_container_info, init_container_resource_limits,
    init_container_resource_requests, init_container_state_started,
    init_container_status_last_terminated_exitcode, init_container_status_last_terminated_reason,
    init_container_status_last_terminated_timestamp, init_container_status_ready,
    init_container_status_restarts_total, init_container_status_running,
    init_container_status_terminated, init_container_status_terminated_reason,
    init_container_status_waiting, init_container_status_waiting_reason,
};

// ===== family table =====

/// The pod kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `podMetricFamilies` order: it is the
/// exposition order. The five families added in KSM v2.20 (init `state_started`, init
/// `last_terminated_exitcode`/`_timestamp`, `status_disruption_reason`, `resourceclaim_info`)
/// are not in our stored copy of pod.go; they sit where their PRs describe them (next to their
/// container counterparts, after `status_reason`, and last).
pub static KIND: Kind<Pod> = Kind {
    resource: "pods",
    api: ApiType::new("", "v1", "Pod", "pods"),
    scope: Scope::NodeBound,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::pod::Pod>),
    identity,
    families: &[
        Family::stable(
            "kube_pod_completion_time",
            "Unix time (seconds) at which the last regular container of the pod finished.",
            MetricType::Gauge,
            completion_time,
        ),
        Family::stable(
            "kube_pod_container_info",
            "Image and runtime identifiers of each regular container that has a status.",
            MetricType::Gauge,
            container_info,
        ),
        Family::stable(
            "kube_pod_container_resource_limits",
            "Resource limits of each regular container, per resource and unit.",
            MetricType::Gauge,
            container_resource_limits,
        ),
        Family::stable(
            "kube_pod_container_resource_requests",
            "Resource requests of each regular container, per resource and unit.",
            MetricType::Gauge,
            container_resource_requests,
        ),
        Family::stable(
            "kube_pod_container_state_started",
            "Unix time (seconds) at which a running or terminated regular container started.",
            MetricType::Gauge,
            container_state_started,
        ),
        Family::experimental(
            "kube_pod_container_status_last_terminated_reason",
            "Reason a regular container gave when it last terminated.",
            MetricType::Gauge,
            container_status_last_terminated_reason,
        ),
        Family::experimental(
            "kube_pod_container_status_last_terminated_exitcode",
            "Exit code of the last termination of a regular container.",
            MetricType::Gauge,
            container_status_last_terminated_exitcode,
        ),
        Family::experimental(
            "kube_pod_container_status_last_terminated_timestamp",
            "Unix time (seconds) at which a regular container last terminated.",
            MetricType::Gauge,
            container_status_last_terminated_timestamp,
        ),
        Family::stable(
            "kube_pod_container_status_ready",
            "1 when a regular container passes its readiness check, else 0.",
            MetricType::Gauge,
            container_status_ready,
        ),
        Family::stable(
            "kube_pod_container_status_restarts_total",
            "Restarts of each regular container.",
            MetricType::Counter,
            container_status_restarts_total,
        ),
        Family::stable(
            "kube_pod_container_status_running",
            "1 when a regular container is running, else 0.",
            MetricType::Gauge,
            container_status_running,
        ),
        Family::stable(
            "kube_pod_container_status_terminated",
            "1 when a regular container has terminated, else 0.",
            MetricType::Gauge,
            container_status_terminated,
        ),
        Family::experimental(
            "kube_pod_container_status_terminated_reason",
            "Reason a terminated regular container gave.",
            MetricType::Gauge,
            container_status_terminated_reason,
        ),
        Family::stable(
            "kube_pod_container_status_waiting",
            "1 when a regular container is waiting, else 0.",
            MetricType::Gauge,
            container_status_waiting,
        ),
        Family::stable(
            "kube_pod_container_status_waiting_reason",
            "Reason a waiting regular container gave.",
            MetricType::Gauge,
            container_status_waiting_reason,
        ),
        Family::stable(
            "kube_pod_created",
            "Unix time (seconds) at which the pod object was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_pod_deletion_timestamp",
            "Unix time (seconds) at which the pod object was marked for deletion.",
            MetricType::Gauge,
            metadata::deletion_timestamp,
        ),
        Family::stable(
            "kube_pod_info",
            "Pod facts as labels: IPs, node, controlling owner, priority class, host network.",
            MetricType::Gauge,
            info,
        ),
        Family::experimental(
            "kube_pod_ips",
            "One series per IP address of the pod, with its IP family.",
            MetricType::Gauge,
            ips,
        ),
        Family::stable(
            "kube_pod_init_container_info",
            "Image, runtime identifiers and restart policy of each init container that has a status.",
            MetricType::Gauge,
            init_container_info,
        ),
        Family::experimental(
            "kube_pod_init_container_resource_limits",
            "Resource limits of each init container, per resource and unit.",
            MetricType::Gauge,
            init_container_resource_limits,
        ),
        Family::experimental(
            "kube_pod_init_container_resource_requests",
            "Resource requests of each init container, per resource and unit.",
            MetricType::Gauge,
            init_container_resource_requests,
        ),
        Family::experimental(
            "kube_pod_init_container_state_started",
            "Unix time (seconds) at which a running or terminated init container started.",
            MetricType::Gauge,
            init_container_state_started,
        ),
        Family::experimental(
            "kube_pod_init_container_status_last_terminated_reason",
            "Reason an init container gave when it last terminated.",
            MetricType::Gauge,
            init_container_status_last_terminated_reason,
        ),
        Family::experimental(
            "kube_pod_init_container_status_last_terminated_exitcode",
            "Exit code of the last termination of an init container.",
            MetricType::Gauge,
            init_container_status_last_terminated_exitcode,
        ),
        Family::experimental(
            "kube_pod_init_container_status_last_terminated_timestamp",
            "Unix time (seconds) at which an init container last terminated.",
            MetricType::Gauge,
            init_container_status_last_terminated_timestamp,
        ),
        Family::stable(
            "kube_pod_init_container_status_ready",
            "1 when an init container passes its readiness check, else 0.",
            MetricType::Gauge,
            init_container_status_ready,
        ),
        Family::stable(
            "kube_pod_init_container_status_restarts_total",
            "Restarts of each init container.",
            MetricType::Counter,
            init_container_status_restarts_total,
        ),
        Family::stable(
            "kube_pod_init_container_status_running",
            "1 when an init container is running, else 0.",
            MetricType::Gauge,
            init_container_status_running,
        ),
        Family::stable(
            "kube_pod_init_container_status_terminated",
            "1 when an init container has terminated, else 0.",
            MetricType::Gauge,
            init_container_status_terminated,
        ),
        Family::experimental(
            "kube_pod_init_container_status_terminated_reason",
            "Reason a terminated init container gave.",
            MetricType::Gauge,
            init_container_status_terminated_reason,
        ),
        Family::stable(
            "kube_pod_init_container_status_waiting",
            "1 when an init container is waiting, else 0.",
            MetricType::Gauge,
            init_container_status_waiting,
        ),
        Family::experimental(
            "kube_pod_init_container_status_waiting_reason",
            "Reason a waiting init container gave.",
            MetricType::Gauge,
            init_container_status_waiting_reason,
        ),
        Family::experimental(
            "kube_pod_annotations",
            "Pod annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::stable(
            "kube_pod_labels",
            "Pod labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::experimental(
            "kube_pod_overhead_cpu_cores",
            "CPU cores the pod's runtime class adds on top of its containers.",
            MetricType::Gauge,
            overhead_cpu_cores,
        ),
        Family::experimental(
            "kube_pod_overhead_memory_bytes",
            "Memory bytes the pod's runtime class adds on top of its containers.",
            MetricType::Gauge,
            overhead_memory_bytes,
        ),
        Family::stable(
            "kube_pod_owner",
            "One series per owner reference of the pod.",
            MetricType::Gauge,
            metadata::owners,
        ),
        Family::stable(
            "kube_pod_restart_policy",
            "The restart policy of the pod's containers.",
            MetricType::Gauge,
            restart_policy,
        ),
        Family::experimental(
            "kube_pod_runtimeclass_name_info",
            "The RuntimeClass the pod runs with.",
            MetricType::Gauge,
            runtimeclass_name_info,
        ),
        Family::stable(
            "kube_pod_spec_volumes_persistentvolumeclaims_info",
            "One series per volume backed by a persistent volume claim or a generic ephemeral volume.",
            MetricType::Gauge,
            spec_volumes_persistentvolumeclaims_info,
        ),
        Family::stable(
            "kube_pod_spec_volumes_persistentvolumeclaims_readonly",
            "1 when a claim-backed or ephemeral volume is mounted read-only, else 0.",
            MetricType::Gauge,
            spec_volumes_persistentvolumeclaims_readonly,
        ),
        Family::stable(
            "kube_pod_start_time",
            "Unix time (seconds) at which the kubelet acknowledged the pod.",
            MetricType::Gauge,
            start_time,
        ),
        Family::stable(
            "kube_pod_status_phase",
            "The pod's phase, one series per possible phase.",
            MetricType::Gauge,
            status_phase,
        ),
        Family::experimental(
            "kube_pod_status_qos_class",
            "The pod's QoS class, one series per possible class.",
            MetricType::Gauge,
            status_qos_class,
        ),
        Family::stable(
            "kube_pod_status_ready",
            "Status of the pod's Ready condition, one series per possible status.",
            MetricType::Gauge,
            status_ready,
        ),
        Family::experimental(
            "kube_pod_status_ready_time",
            "Unix time (seconds) at which the pod became Ready.",
            MetricType::Gauge,
            status_ready_time,
        ),
        Family::experimental(
            "kube_pod_status_initialized_time",
            "Unix time (seconds) at which the pod's init containers had all completed.",
            MetricType::Gauge,
            status_initialized_time,
        ),
        Family::experimental(
            "kube_pod_status_container_ready_time",
            "Unix time (seconds) at which all of the pod's containers became ready.",
            MetricType::Gauge,
            status_container_ready_time,
        ),
        Family::experimental(
            "kube_pod_status_reason",
            "Whether the pod shows each well-known status reason (1) or not (0).",
            MetricType::Gauge,
            status_reason,
        ),
        Family::experimental(
            "kube_pod_status_disruption_reason",
            "Why Kubernetes is disrupting the pod, from its DisruptionTarget condition.",
            MetricType::Gauge,
            status_disruption_reason,
        ),
        Family::stable(
            "kube_pod_status_scheduled",
            "Status of the pod's PodScheduled condition, one series per possible status.",
            MetricType::Gauge,
            status_scheduled,
        ),
        Family::stable(
            "kube_pod_status_scheduled_time",
            "Unix time (seconds) at which the pod was scheduled.",
            MetricType::Gauge,
            status_scheduled_time,
        ),
        Family::stable(
            "kube_pod_status_unschedulable",
            "1 while the scheduler cannot place the pod.",
            MetricType::Gauge,
            status_unschedulable,
        ),
        Family::experimental(
            "kube_pod_status_unscheduled_time",
            "Unix time (seconds) at which the pod was found unschedulable.",
            MetricType::Gauge,
            status_unscheduled_time,
        ),
        Family::experimental(
            "kube_pod_tolerations",
            "One series per distinct toleration of the pod.",
            MetricType::Gauge,
            tolerations,
        ),
        Family::experimental(
            "kube_pod_nodeselectors",
            "The pod's node selector, as Prometheus labels.",
            MetricType::Gauge,
            nodeselectors,
        )
        .opt_in(),
        Family::experimental(
            "kube_pod_service_account",
            "The service account the pod runs as.",
            MetricType::Gauge,
            service_account,
        ),
        Family::experimental(
            "kube_pod_scheduler",
            "The scheduler responsible for the pod.",
            MetricType::Gauge,
            scheduler,
        ),
        Family::experimental(
            "kube_pod_resourceclaim_info",
            "One series per Dynamic Resource Allocation claim the pod references.",
            MetricType::Gauge,
            resourceclaim_info,
        ),
    ],
};

/// `namespace`, `pod`, `uid`, like `wrapPodFunc`.
fn identity(p: &Pod) -> Identity {
    let m = &p.metadata;
    Identity::new([
        ("namespace", m.namespace.as_deref().unwrap_or("")),
        ("pod", m.name.as_deref().unwrap_or("")),
        ("uid", m.uid.as_deref().unwrap_or("")),
    ])
}

// ===== family functions =====

/// `createPodCompletionTimeFamilyGenerator`: the latest `finishedAt` of the terminated regular
/// containers, only when positive.
fn completion_time(p: &Pod, out: &mut Series<'_>) {
    let mut last = 0.0;
    for t in p
        .status
        .container_statuses
        .iter()
        .filter_map(|cs| cs.state.terminated.as_ref())
    {
        let finished = unix_or_go_zero(t.finished_at.as_ref());
        // KSM's exact test: a missing finishedAt (Go's zero time, negative) can be taken first
        // and then replaced by any later one.
        if last == 0.0 || last < finished {
            last = finished;
        }
    }
    if last > 0.0 {
        out.value(last);
    }
}

/// `createPodInfoFamilyGenerator`: `created_by_*` come from the controlling owner reference and
/// are empty without one.
fn info(p: &Pod, out: &mut Series<'_>) {
    let controller = controller_of(&p.metadata);
    out.sample(
        [
            ("host_ip", text(p.status.host_ip.as_ref())),
            ("pod_ip", text(p.status.pod_ip.as_ref())),
            ("node", text(p.spec.node_name.as_ref())),
            (
                "created_by_kind",
                controller.map_or("", |o| o.kind.as_str()),
            ),
            (
                "created_by_name",
                controller.map_or("", |o| o.name.as_str()),
            ),
            ("priority_class", text(p.spec.priority_class_name.as_ref())),
            (
                "host_network",
                go_bool(p.spec.host_network.unwrap_or(false)),
            ),
        ],
        1.0,
    );
}

/// `createPodIPFamilyGenerator`: addresses that do not parse are skipped (KSM #3059).
fn ips(p: &Pod, out: &mut Series<'_>) {
    for ip in p.status.pod_ips.iter().filter_map(|i| i.ip.as_deref()) {
        if let Some(family) = ip_family(ip) {
            out.sample([("ip", ip), ("ip_family", family)], 1.0);
        }
    }
}

/// `createPodOverheadCPUCoresFamilyGenerator`.
fn overhead_cpu_cores(p: &Pod, out: &mut Series<'_>) {
    if let Some(q) = p.spec.overhead.get("cpu").and_then(|v| Quantity::parse(v)) {
        out.value(convert_value_to_float64(&q));
    }
}

/// `createPodOverheadMemoryBytesFamilyGenerator`.
fn overhead_memory_bytes(p: &Pod, out: &mut Series<'_>) {
    if let Some(q) = p
        .spec
        .overhead
        .get("memory")
        .and_then(|v| Quantity::parse(v))
    {
        out.value(q.value());
    }
}

/// `createPodRestartPolicyFamilyGenerator`: always one series, `type` empty when unset.
fn restart_policy(p: &Pod, out: &mut Series<'_>) {
    out.sample([("type", text(p.spec.restart_policy.as_ref()))], 1.0);
}

/// `createPodRuntimeClassNameInfoFamilyGenerator`.
fn runtimeclass_name_info(p: &Pod, out: &mut Series<'_>) {
    if let Some(name) = &p.spec.runtime_class_name {
        out.sample([("runtimeclass_name", name.as_str())], 1.0);
    }
}

/// `createPodSpecVolumesPersistentVolumeClaimsInfoFamilyGenerator`: claim-backed volumes, and
/// generic ephemeral volumes with the claim name Kubernetes derives (`<pod>-<volume>`).
fn spec_volumes_persistentvolumeclaims_info(p: &Pod, out: &mut Series<'_>) {
    for (volume, claim, _) in claim_volumes(p) {
        out.sample(
            [
                ("volume", volume),
                ("persistentvolumeclaim", claim.as_str()),
            ],
            1.0,
        );
    }
}

/// `createPodSpecVolumesPersistentVolumeClaimsReadonlyFamilyGenerator`: ephemeral volumes are
/// always 0.
fn spec_volumes_persistentvolumeclaims_readonly(p: &Pod, out: &mut Series<'_>) {
    for (volume, claim, read_only) in claim_volumes(p) {
        out.sample(
            [
                ("volume", volume),
                ("persistentvolumeclaim", claim.as_str()),
            ],
            bool_value(read_only),
        );
    }
}

/// `createPodStartTimeFamilyGenerator`.
fn start_time(p: &Pod, out: &mut Series<'_>) {
    if let Some(t) = &p.status.start_time {
        out.value(timestamp(t));
    }
}

/// `createPodStatusPhaseFamilyGenerator`: nothing while the phase is empty, else all five
/// phases. Current KSM reports the phase as is; it no longer turns a terminating pod with
/// reason `NodeLost` into `Unknown` (1.x did).
fn status_phase(p: &Pod, out: &mut Series<'_>) {
    enumerated_samples(out, "phase", &POD_PHASES, p.status.phase.as_deref());
}

/// `createPodStatusQosClassFamilyGenerator`: nothing while unset, else all three classes.
fn status_qos_class(p: &Pod, out: &mut Series<'_>) {
    enumerated_samples(
        out,
        "qos_class",
        &QOS_CLASSES,
        p.status.qos_class.as_deref(),
    );
}

/// `createPodStatusReadyFamilyGenerator`: three series per `Ready` condition.
fn status_ready(p: &Pod, out: &mut Series<'_>) {
    condition_state_samples(p, "Ready", out);
}

/// `createPodStatusReadyTimeFamilyGenerator`.
fn status_ready_time(p: &Pod, out: &mut Series<'_>) {
    condition_time_samples(p, "Ready", "True", out);
}

/// `createPodStatusInitializedTimeFamilyGenerator`.
fn status_initialized_time(p: &Pod, out: &mut Series<'_>) {
    condition_time_samples(p, "Initialized", "True", out);
}

/// `createPodStatusContainerReadyTimeFamilyGenerator`.
fn status_container_ready_time(p: &Pod, out: &mut Series<'_>) {
    condition_time_samples(p, "ContainersReady", "True", out);
}

/// `createPodStatusReasonFamilyGenerator` as in our stored pod.go: every known reason, 1 when
/// `getPodStatusReasonValue` finds it. Deliberately not KSM v2.20's sparse form (#3089), whose
/// code we could not read.
fn status_reason(p: &Pod, out: &mut Series<'_>) {
    for reason in POD_STATUS_REASONS {
        out.sample(
            [("reason", reason)],
            bool_value(has_status_reason(p, reason)),
        );
    }
}

/// KSM #3088's `kube_pod_status_disruption_reason` (not in our stored pod.go; written from the
/// PR): one series, value 1, for a `DisruptionTarget` condition whose reason is a known one.
fn status_disruption_reason(p: &Pod, out: &mut Series<'_>) {
    for c in conditions_of(p, "DisruptionTarget") {
        if let Some(reason) = DISRUPTION_REASONS
            .iter()
            .find(|r| c.reason.as_deref() == Some(**r))
        {
            out.sample([("reason", *reason)], 1.0);
        }
    }
}

/// `createPodStatusScheduledFamilyGenerator`: three series per `PodScheduled` condition.
fn status_scheduled(p: &Pod, out: &mut Series<'_>) {
    condition_state_samples(p, "PodScheduled", out);
}

/// `createPodStatusScheduledTimeFamilyGenerator`.
fn status_scheduled_time(p: &Pod, out: &mut Series<'_>) {
    condition_time_samples(p, "PodScheduled", "True", out);
}

/// `createPodStatusUnschedulableFamilyGenerator`: 1 per `PodScheduled=False` condition.
fn status_unschedulable(p: &Pod, out: &mut Series<'_>) {
    for _ in conditions_of(p, "PodScheduled").filter(|c| c.status.as_deref() == Some("False")) {
        out.value(1.0);
    }
}

/// `createPodStatusUnscheduledTimeFamilyGenerator`.
fn status_unscheduled_time(p: &Pod, out: &mut Series<'_>) {
    condition_time_samples(p, "PodScheduled", "False", out);
}

/// `createPodTolerationsFamilyGenerator`: spec order, duplicates (same key, operator, value,
/// effect and seconds) dropped as `getUniqueTolerations` does.
fn tolerations(p: &Pod, out: &mut Series<'_>) {
    for t in unique_tolerations(&p.spec.tolerations) {
        let seconds = t
            .toleration_seconds
            .map(|s| s.to_string())
            .unwrap_or_default();
        out.sample(
            [
                ("key", text(t.key.as_ref())),
                ("operator", text(t.operator.as_ref())),
                ("value", text(t.value.as_ref())),
                ("effect", text(t.effect.as_ref())),
                ("toleration_seconds", seconds.as_str()),
            ],
            1.0,
        );
    }
}

/// `createPodNodeSelectorsFamilyGenerator` (opt-in): always one sample, every selector key.
fn nodeselectors(p: &Pod, out: &mut Series<'_>) {
    let pairs = kube_map_labels(
        "nodeselector",
        p.spec.node_selector.as_ref(),
        &KeyAllowlist::all(),
    );
    out.sample(pairs, 1.0);
}

/// `createPodServiceAccountFamilyGenerator`: always one series.
fn service_account(p: &Pod, out: &mut Series<'_>) {
    out.sample(
        [("service_account", text(p.spec.service_account_name.as_ref()))],
        1.0,
    );
}

/// `createPodSchedulerNameFamilyGenerator`: always one series.
fn scheduler(p: &Pod, out: &mut Series<'_>) {
    out.sample([("name", text(p.spec.scheduler_name.as_ref()))], 1.0);
}

/// KSM #3005's `kube_pod_resourceclaim_info` (not in our stored pod.go; written from the PR):
/// one series per `spec.resourceClaims` entry naming a claim or a template; a template's claim
/// name comes from `status.resourceClaimStatuses`, empty until the claim is generated.
fn resourceclaim_info(p: &Pod, out: &mut Series<'_>) {
    for c in &p.spec.resource_claims {
        let template = c.resource_claim_template_name.as_deref();
        let claim = match (c.resource_claim_name.as_deref(), template) {
            (Some(claim), _) => claim,
            (None, Some(_)) => generated_claim_name(p, c.name.as_deref()),
            (None, None) => continue,
        };
        out.sample(
            [
                ("claim_name", text(c.name.as_ref())),
                ("resourceclaim_name", claim),
                ("resourceclaim_template_name", template.unwrap_or("")),
            ],
            1.0,
        );
    }
}

// ===== helpers =====

/// `v1.PodPhase` values, in KSM's order.
const POD_PHASES: [&str; 5] = ["Pending", "Succeeded", "Failed", "Unknown", "Running"];

/// `v1.PodQOSClass` values, in KSM's order.
const QOS_CLASSES: [&str; 3] = ["BestEffort", "Burstable", "Guaranteed"];

/// pod.go's `podStatusReasons`.
const POD_STATUS_REASONS: [&str; 8] = [
    "Evicted",
    "NodeAffinity",
    "NodeLost",
    "PreemptionByScheduler",
    "SchedulingGated",
    "Shutdown",
    "TerminationByKubelet",
    "UnexpectedAdmissionError",
];

/// The `DisruptionTarget` reasons Kubernetes documents, as KSM #3088 lists them.
const DISRUPTION_REASONS: [&str; 5] = [
    "DeletionByPodGC",
    "DeletionByTaintManager",
    "EvictionByEvictionAPI",
    "PreemptionByScheduler",
    "TerminationByKubelet",
];


/// `strconv.FormatBool`.
fn go_bool(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// `metav1.GetControllerOf`: the first owner reference with `controller: true`.
fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_deref()?
        .iter()
        .find(|o| o.controller == Some(true))
}

/// `(volume, claim, read-only)` for each claim-backed or generic ephemeral volume, spec order.
fn claim_volumes(p: &Pod) -> impl Iterator<Item = (&str, String, bool)> + '_ {
    let pod = p.metadata.name.as_deref().unwrap_or("");
    p.spec.volumes.iter().filter_map(move |v| {
        let volume = text(v.name.as_ref());
        if let Some(pvc) = &v.persistent_volume_claim {
            Some((
                volume,
                text(pvc.claim_name.as_ref()).to_owned(),
                pvc.read_only.unwrap_or(false),
            ))
        } else if v.ephemeral.is_some() {
            Some((volume, format!("{pod}-{volume}"), false))
        } else {
            None
        }
    })
}

/// The state-set shape of `status_phase` and `status_qos_class`: nothing when `current` is
/// unset or empty, else one series per candidate, 1 for the one equal to `current`.
fn enumerated_samples(
    out: &mut Series<'_>,
    label: &str,
    candidates: &[&str],
    current: Option<&str>,
) {
    let Some(current) = current.filter(|c| !c.is_empty()) else {
        return;
    };
    for candidate in candidates {
        out.sample([(label, *candidate)], bool_value(current == *candidate));
    }
}

/// The pod conditions of type `type_`, in status order.
fn conditions_of<'a>(p: &'a Pod, type_: &'a str) -> impl Iterator<Item = &'a PodCondition> + 'a {
    p.status
        .conditions
        .iter()
        .filter(move |c| c.type_.as_deref() == Some(type_))
}

/// `addConditionMetrics` with pod.go's label name: `condition` = `true`, `false`, `unknown`.
fn condition_state_samples(p: &Pod, type_: &str, out: &mut Series<'_>) {
    for c in conditions_of(p, type_) {
        condition_samples_as(out, &[], "condition", text(c.status.as_ref()));
    }
}

/// `lastTransitionTime` of each condition of type `type_` whose status is `status`.
fn condition_time_samples(p: &Pod, type_: &str, status: &str, out: &mut Series<'_>) {
    for c in conditions_of(p, type_).filter(|c| c.status.as_deref() == Some(status)) {
        out.value(unix_or_go_zero(c.last_transition_time.as_ref()));
    }
}

/// `getPodStatusReasonValue`: `reason` is the pod's status reason, the reason of any condition,
/// or the reason of any terminated regular container.
fn has_status_reason(p: &Pod, reason: &str) -> bool {
    let s = &p.status;
    s.reason.as_deref() == Some(reason)
        || s.conditions
            .iter()
            .any(|c| c.reason.as_deref() == Some(reason))
        || s.container_statuses.iter().any(|cs| {
            cs.state
                .terminated
                .as_ref()
                .is_some_and(|t| t.reason.as_deref() == Some(reason))
        })
}

/// `getUniqueTolerations`: first occurrence of each (key, operator, value, effect, seconds),
/// compared as Go compares them (an absent string equals an empty one).
fn unique_tolerations(all: &[Toleration]) -> Vec<&Toleration> {
    let identity = |t: &Toleration| {
        (
            text(t.key.as_ref()).to_owned(),
            text(t.operator.as_ref()).to_owned(),
            text(t.value.as_ref()).to_owned(),
            text(t.effect.as_ref()).to_owned(),
            t.toleration_seconds,
        )
    };
    let mut seen = Vec::with_capacity(all.len());
    let mut unique = Vec::with_capacity(all.len());
    for t in all {
        let id = identity(t);
        if !seen.contains(&id) {
            seen.push(id);
            unique.push(t);
        }
    }
    unique
}

/// The claim generated for the pod-local claim `name`, from `status.resourceClaimStatuses`.
fn generated_claim_name<'a>(p: &'a Pod, name: Option<&str>) -> &'a str {
    p.status
        .resource_claim_statuses
        .iter()
        .find(|s| s.name.as_deref() == name)
        .map_or("", |s| text(s.resource_claim_name.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    pub(super) fn pod(json: &str) -> Pod {
        serde_json::from_str(json).unwrap()
    }

    pub(super) fn render(p: &Pod, f: fn(&Pod, &mut Series<'_>)) -> String {
        let ident = Identity::new([("pod", p.metadata.name.as_deref().unwrap_or(""))]);
        let ctx = RenderContext::default();
        let mut buf = Vec::new();
        f(p, &mut Series::new(&mut buf, "m", &ident, &ctx));
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn a_pod_without_owners_gets_one_series_with_empty_owner_labels() {
        let p = pod(r#"{"metadata":{"name":"p"}}"#);
        assert_eq!(
            render(&p, metadata::owners),
            "m{pod=\"p\",owner_kind=\"\",owner_name=\"\",owner_is_controller=\"\"} 1\n"
        );
        let p = pod(r#"{"metadata":{"name":"p","ownerReferences":[
            {"apiVersion":"v1","kind":"A","name":"a","uid":"1"},
            {"apiVersion":"v1","kind":"B","name":"b","uid":"2","controller":true}]}}"#);
        assert_eq!(
            render(&p, metadata::owners),
            "m{pod=\"p\",owner_kind=\"A\",owner_name=\"a\",owner_is_controller=\"false\"} 1\n\
             m{pod=\"p\",owner_kind=\"B\",owner_name=\"b\",owner_is_controller=\"true\"} 1\n"
        );
        assert_eq!(
            controller_of(&p.metadata).map(|o| o.name.as_str()),
            Some("b")
        );
    }

    #[test]
    fn status_reason_lists_every_known_reason_and_matches_conditions_and_terminated_containers() {
        let p = pod(
            r#"{"status":{"conditions":[{"type":"PodScheduled","status":"False","reason":"SchedulingGated"}],
            "containerStatuses":[{"name":"c","state":{"terminated":{"reason":"Evicted"}}}],
            "initContainerStatuses":[{"name":"i","state":{"terminated":{"reason":"Shutdown"}}}]}}"#,
        );
        let got = render(&p, status_reason);
        let ones: Vec<&str> = got.lines().filter(|l| l.ends_with(" 1")).collect();
        assert_eq!(got.lines().count(), POD_STATUS_REASONS.len());
        // Init containers are not consulted, as in getPodStatusReasonValue.
        assert_eq!(
            ones,
            [
                "m{pod=\"\",reason=\"Evicted\"} 1",
                "m{pod=\"\",reason=\"SchedulingGated\"} 1"
            ]
        );
    }

    #[test]
    fn unset_timestamps_read_as_go_zero_time_where_ksm_reads_a_value_type() {
        let p = pod(r#"{"status":{"containerStatuses":[{"name":"a","state":{"running":{}}}]}}"#);
        assert_eq!(
            render(&p, container_state_started),
            "m{pod=\"\",container=\"a\"} -6.21355968e+10\n"
        );
        // completion_time keeps KSM's rule: only a positive latest finish time is reported.
        let p = pod(r#"{"status":{"containerStatuses":[
            {"name":"a","state":{"terminated":{}}},
            {"name":"b","state":{"terminated":{"finishedAt":"2017-08-03T16:16:58Z"}}}]}}"#);
        assert_eq!(render(&p, completion_time), "m{pod=\"\"} 1.501777018e+09\n");
        let p = pod(r#"{"status":{"containerStatuses":[{"name":"a","state":{"terminated":{}}}]}}"#);
        assert_eq!(render(&p, completion_time), "");
    }

    #[test]
    fn tolerations_are_deduplicated_by_value_including_seconds() {
        let p = pod(r#"{"spec":{"tolerations":[
            {"key":"k","operator":"Exists","tolerationSeconds":300},
            {"key":"k","operator":"Exists","tolerationSeconds":300},
            {"key":"k","operator":"Exists"},
            {"key":"","operator":"","value":"","effect":""},
            {}]}}"#);
        assert_eq!(
            render(&p, tolerations),
            "m{pod=\"\",key=\"k\",operator=\"Exists\",value=\"\",effect=\"\",toleration_seconds=\"300\"} 1\n\
             m{pod=\"\",key=\"k\",operator=\"Exists\",value=\"\",effect=\"\",toleration_seconds=\"\"} 1\n\
             m{pod=\"\",key=\"\",operator=\"\",value=\"\",effect=\"\",toleration_seconds=\"\"} 1\n"
        );
    }

    #[test]
    fn resource_claims_resolve_template_claims_from_status_and_skip_empty_entries() {
        let p = pod(r#"{"spec":{"resourceClaims":[
            {"name":"gpu","resourceClaimTemplateName":"tpl"},
            {"name":"new","resourceClaimTemplateName":"tpl2"},
            {"name":"shared","resourceClaimName":"shared-claim"},
            {"name":"neither"}]},
            "status":{"resourceClaimStatuses":[{"name":"gpu","resourceClaimName":"p-gpu-abcde"}]}}"#);
        assert_eq!(
            render(&p, resourceclaim_info),
            "m{pod=\"\",claim_name=\"gpu\",resourceclaim_name=\"p-gpu-abcde\",resourceclaim_template_name=\"tpl\"} 1\n\
             m{pod=\"\",claim_name=\"new\",resourceclaim_name=\"\",resourceclaim_template_name=\"tpl2\"} 1\n\
             m{pod=\"\",claim_name=\"shared\",resourceclaim_name=\"shared-claim\",resourceclaim_template_name=\"\"} 1\n"
        );
    }
}
