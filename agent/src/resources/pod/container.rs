//! The container and init-container families of the pod kind: KSM's
//! `createPodContainer*` and `createPodInitContainer*` generators in `internal/store/pod.go`.
//!
//! Their rows sit in [`super::KIND`]'s table, in KSM's order; this file holds only the
//! functions and the helpers they share. Each regular-container family has an init-container
//! twin that reads `spec.initContainers` / `status.initContainerStatuses` instead.

use std::collections::BTreeMap;

use super::{Container, ContainerStatus, Pod, text};
use crate::exposition::{Series, sanitized_label_name};
use crate::resources::common::{
    Quantity, bool_value, convert_value_to_float64, is_attachable_volume, is_extended_resource,
    is_huge_page, unix_or_go_zero,
};

// ===== family functions =====

/// `createPodContainerInfoFamilyGenerator`: spec containers that have a status, in spec order.
pub(super) fn container_info(p: &Pod, out: &mut Series<'_>) {
    info_samples(&p.spec.containers, &p.status.container_statuses, false, out);
}

/// `createPodContainerResourceLimitsFamilyGenerator`; sorted by resource name.
pub(super) fn container_resource_limits(p: &Pod, out: &mut Series<'_>) {
    for c in &p.spec.containers {
        resource_samples(p, c, &c.resources.limits, out);
    }
}

/// `createPodContainerResourceRequestsFamilyGenerator`; sorted by resource name.
pub(super) fn container_resource_requests(p: &Pod, out: &mut Series<'_>) {
    for c in &p.spec.containers {
        resource_samples(p, c, &c.resources.requests, out);
    }
}

/// `createPodContainerStateStartedFamilyGenerator`.
pub(super) fn container_state_started(p: &Pod, out: &mut Series<'_>) {
    state_started_samples(&p.status.container_statuses, out);
}

/// `createPodContainerStatusLastTerminatedReasonFamilyGenerator`.
pub(super) fn container_status_last_terminated_reason(p: &Pod, out: &mut Series<'_>) {
    last_terminated_reason_samples(&p.status.container_statuses, out);
}

/// `createPodContainerStatusLastTerminatedExitCodeFamilyGenerator`.
pub(super) fn container_status_last_terminated_exitcode(p: &Pod, out: &mut Series<'_>) {
    last_terminated_exitcode_samples(&p.status.container_statuses, out);
}

/// `createPodContainerStatusLastTerminatedTimestampFamilyGenerator`.
pub(super) fn container_status_last_terminated_timestamp(p: &Pod, out: &mut Series<'_>) {
    last_terminated_timestamp_samples(&p.status.container_statuses, out);
}

/// `createPodContainerStatusReadyFamilyGenerator`.
pub(super) fn container_status_ready(p: &Pod, out: &mut Series<'_>) {
    per_container(&p.status.container_statuses, out, is_ready);
}

/// `createPodContainerStatusRestartsTotalFamilyGenerator`.
pub(super) fn container_status_restarts_total(p: &Pod, out: &mut Series<'_>) {
    per_container(&p.status.container_statuses, out, restarts);
}

/// `createPodContainerStatusRunningFamilyGenerator`.
pub(super) fn container_status_running(p: &Pod, out: &mut Series<'_>) {
    per_container(&p.status.container_statuses, out, is_running);
}

/// `createPodContainerStatusTerminatedFamilyGenerator`.
pub(super) fn container_status_terminated(p: &Pod, out: &mut Series<'_>) {
    per_container(&p.status.container_statuses, out, is_terminated);
}

/// `createPodContainerStatusTerminatedReasonFamilyGenerator`: terminated containers only, with
/// whatever reason they give.
pub(super) fn container_status_terminated_reason(p: &Pod, out: &mut Series<'_>) {
    terminated_reason_samples(&p.status.container_statuses, out);
}

/// `createPodContainerStatusWaitingFamilyGenerator`.
pub(super) fn container_status_waiting(p: &Pod, out: &mut Series<'_>) {
    per_container(&p.status.container_statuses, out, is_waiting);
}

/// `createPodContainerStatusWaitingReasonFamilyGenerator`: waiting containers only, with
/// whatever reason they give (no fixed list since KSM 2.0).
pub(super) fn container_status_waiting_reason(p: &Pod, out: &mut Series<'_>) {
    waiting_reason_samples(&p.status.container_statuses, out);
}

/// `createPodInitContainerInfoFamilyGenerator`: with `restart_policy` (`Always` for sidecars).
pub(super) fn init_container_info(p: &Pod, out: &mut Series<'_>) {
    info_samples(
        &p.spec.init_containers,
        &p.status.init_container_statuses,
        true,
        out,
    );
}

/// `createPodInitContainerResourceLimitsFamilyGenerator`; sorted by resource name.
pub(super) fn init_container_resource_limits(p: &Pod, out: &mut Series<'_>) {
    for c in &p.spec.init_containers {
        resource_samples(p, c, &c.resources.limits, out);
    }
}

/// `createPodInitContainerResourceRequestsFamilyGenerator`; sorted by resource name.
pub(super) fn init_container_resource_requests(p: &Pod, out: &mut Series<'_>) {
    for c in &p.spec.init_containers {
        resource_samples(p, c, &c.resources.requests, out);
    }
}

/// KSM #2997's init-container twin of `createPodContainerStateStartedFamilyGenerator` (not in
/// our stored pod.go; written from the PR's description).
pub(super) fn init_container_state_started(p: &Pod, out: &mut Series<'_>) {
    state_started_samples(&p.status.init_container_statuses, out);
}

/// `createPodInitContainerStatusLastTerminatedReasonFamilyGenerator`.
pub(super) fn init_container_status_last_terminated_reason(p: &Pod, out: &mut Series<'_>) {
    last_terminated_reason_samples(&p.status.init_container_statuses, out);
}

/// KSM #3000's init-container twin of `createPodContainerStatusLastTerminatedExitCodeFamily…`
/// (not in our stored pod.go; written from the PR's description).
pub(super) fn init_container_status_last_terminated_exitcode(p: &Pod, out: &mut Series<'_>) {
    last_terminated_exitcode_samples(&p.status.init_container_statuses, out);
}

/// KSM #2997's init-container twin of `createPodContainerStatusLastTerminatedTimestampFamily…`
/// (not in our stored pod.go; written from the PR's description).
pub(super) fn init_container_status_last_terminated_timestamp(p: &Pod, out: &mut Series<'_>) {
    last_terminated_timestamp_samples(&p.status.init_container_statuses, out);
}

/// `createPodInitContainerStatusReadyFamilyGenerator`.
pub(super) fn init_container_status_ready(p: &Pod, out: &mut Series<'_>) {
    per_container(&p.status.init_container_statuses, out, is_ready);
}

/// `createPodInitContainerStatusRestartsTotalFamilyGenerator`.
pub(super) fn init_container_status_restarts_total(p: &Pod, out: &mut Series<'_>) {
    per_container(&p.status.init_container_statuses, out, restarts);
}

/// `createPodInitContainerStatusRunningFamilyGenerator`.
pub(super) fn init_container_status_running(p: &Pod, out: &mut Series<'_>) {
    per_container(&p.status.init_container_statuses, out, is_running);
}

/// `createPodInitContainerStatusTerminatedFamilyGenerator`.
pub(super) fn init_container_status_terminated(p: &Pod, out: &mut Series<'_>) {
    per_container(&p.status.init_container_statuses, out, is_terminated);
}

/// `createPodInitContainerStatusTerminatedReasonFamilyGenerator`.
pub(super) fn init_container_status_terminated_reason(p: &Pod, out: &mut Series<'_>) {
    terminated_reason_samples(&p.status.init_container_statuses, out);
}

/// `createPodInitContainerStatusWaitingFamilyGenerator`.
pub(super) fn init_container_status_waiting(p: &Pod, out: &mut Series<'_>) {
    per_container(&p.status.init_container_statuses, out, is_waiting);
}

/// `createPodInitContainerStatusWaitingReasonFamilyGenerator`.
pub(super) fn init_container_status_waiting_reason(p: &Pod, out: &mut Series<'_>) {
    waiting_reason_samples(&p.status.init_container_statuses, out);
}

// ===== helpers =====

/// `kube_pod_container_info` and `kube_pod_init_container_info`: one series per spec container
/// and status of the same name, spec order first.
fn info_samples(
    containers: &[Container],
    statuses: &[ContainerStatus],
    with_restart_policy: bool,
    out: &mut Series<'_>,
) {
    for c in containers {
        for cs in statuses.iter().filter(|cs| cs.name == c.name) {
            let labels = [
                ("container", text(cs.name.as_ref())),
                ("image_spec", text(c.image.as_ref())),
                ("image", text(cs.image.as_ref())),
                ("image_id", text(cs.image_id.as_ref())),
                ("container_id", text(cs.container_id.as_ref())),
                ("restart_policy", text(c.restart_policy.as_ref())),
            ];
            let n = if with_restart_policy {
                labels.len()
            } else {
                labels.len() - 1
            };
            out.sample(labels.into_iter().take(n), 1.0);
        }
    }
}

/// The `resource`/`unit` split of the container resource families, as pod.go's switch has it:
/// `cpu` → `core`; `storage`, `ephemeral-storage`, `memory` → `byte`; otherwise hugepages and
/// attachable volumes → `byte` and extended resources → `integer` (tested one by one, as KSM
/// does); anything else, `pods` included, is not exported. A quantity that does not parse skips
/// its resource (KSM could not have decoded the object at all).
fn resource_samples(p: &Pod, c: &Container, list: &BTreeMap<String, String>, out: &mut Series<'_>) {
    let container = text(c.name.as_ref());
    let node = text(p.spec.node_name.as_ref());
    for (name, raw) in list {
        let Some(q) = Quantity::parse(raw) else {
            continue;
        };
        let resource = sanitized_label_name(name);
        let mut emit = |unit: &str, value: f64| {
            out.sample(
                [
                    ("container", container),
                    ("node", node),
                    ("resource", &*resource),
                    ("unit", unit),
                ],
                value,
            );
        };
        match name.as_str() {
            "cpu" => emit("core", convert_value_to_float64(&q)),
            "storage" | "ephemeral-storage" | "memory" => emit("byte", q.value()),
            _ => {
                if is_huge_page(name) {
                    emit("byte", q.value());
                }
                if is_attachable_volume(name) {
                    emit("byte", q.value());
                }
                if is_extended_resource(name) {
                    emit("integer", q.value());
                }
            }
        }
    }
}

/// One series per container status, labelled `container`, valued by `value`.
fn per_container(
    statuses: &[ContainerStatus],
    out: &mut Series<'_>,
    value: fn(&ContainerStatus) -> f64,
) {
    for cs in statuses {
        out.sample([("container", text(cs.name.as_ref()))], value(cs));
    }
}

fn is_ready(cs: &ContainerStatus) -> f64 {
    bool_value(cs.ready.unwrap_or(false))
}

#[allow(
    clippy::cast_precision_loss,
    reason = "restart counts are far below 2^53"
)]
fn restarts(cs: &ContainerStatus) -> f64 {
    cs.restart_count.unwrap_or(0) as f64
}

fn is_running(cs: &ContainerStatus) -> f64 {
    bool_value(cs.state.running.is_some())
}

fn is_terminated(cs: &ContainerStatus) -> f64 {
    bool_value(cs.state.terminated.is_some())
}

fn is_waiting(cs: &ContainerStatus) -> f64 {
    bool_value(cs.state.waiting.is_some())
}

/// `state_started`: `running.startedAt`, else `terminated.startedAt`; waiting containers have
/// no series.
fn state_started_samples(statuses: &[ContainerStatus], out: &mut Series<'_>) {
    for cs in statuses {
        let started = match (&cs.state.running, &cs.state.terminated) {
            (Some(r), _) => r.started_at.as_ref(),
            (None, Some(t)) => t.started_at.as_ref(),
            (None, None) => continue,
        };
        out.sample([("container", text(cs.name.as_ref()))], unix_or_go_zero(started));
    }
}

/// `waiting_reason`: waiting containers only, with their reason (possibly empty).
fn waiting_reason_samples(statuses: &[ContainerStatus], out: &mut Series<'_>) {
    for cs in statuses {
        if let Some(w) = &cs.state.waiting {
            out.sample(
                [("container", text(cs.name.as_ref())), ("reason", text(w.reason.as_ref()))],
                1.0,
            );
        }
    }
}

/// `terminated_reason`: terminated containers only, with their reason (possibly empty).
fn terminated_reason_samples(statuses: &[ContainerStatus], out: &mut Series<'_>) {
    for cs in statuses {
        if let Some(t) = &cs.state.terminated {
            out.sample(
                [("container", text(cs.name.as_ref())), ("reason", text(t.reason.as_ref()))],
                1.0,
            );
        }
    }
}

/// `last_terminated_reason`: containers with a previous termination, with its reason.
fn last_terminated_reason_samples(statuses: &[ContainerStatus], out: &mut Series<'_>) {
    for cs in statuses {
        if let Some(t) = &cs.last_state.terminated {
            out.sample(
                [("container", text(cs.name.as_ref())), ("reason", text(t.reason.as_ref()))],
                1.0,
            );
        }
    }
}

/// `last_terminated_exitcode`: the exit code of the previous termination.
fn last_terminated_exitcode_samples(statuses: &[ContainerStatus], out: &mut Series<'_>) {
    for cs in statuses {
        if let Some(t) = &cs.last_state.terminated {
            #[allow(clippy::cast_precision_loss, reason = "exit codes are 32-bit")]
            out.sample(
                [("container", text(cs.name.as_ref()))],
                t.exit_code.unwrap_or(0) as f64,
            );
        }
    }
}

/// `last_terminated_timestamp`: `finishedAt` of the previous termination.
fn last_terminated_timestamp_samples(statuses: &[ContainerStatus], out: &mut Series<'_>) {
    for cs in statuses {
        if let Some(t) = &cs.last_state.terminated {
            out.sample(
                [("container", text(cs.name.as_ref()))],
                unix_or_go_zero(t.finished_at.as_ref()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::pod::tests::{pod, render};

    #[test]
    fn waiting_reasons_are_the_containers_own_not_an_enumeration() {
        let p = pod(r#"{"status":{"containerStatuses":[
            {"name":"a","state":{"waiting":{"reason":"SomethingNew"}}},
            {"name":"b","state":{"waiting":{}}},
            {"name":"c","state":{"running":{}}}]}}"#);
        assert_eq!(
            render(&p, container_status_waiting_reason),
            "m{pod=\"\",container=\"a\",reason=\"SomethingNew\"} 1\n\
             m{pod=\"\",container=\"b\",reason=\"\"} 1\n"
        );
    }

    #[test]
    fn numeric_quantities_and_null_collections_decode() {
        let p = pod(
            r#"{"spec":{"tolerations":null,"containers":[{"name":"c","resources":
            {"requests":{"cpu":1,"memory":1.5e9},"limits":null}}]}}"#,
        );
        assert_eq!(
            render(&p, container_resource_requests),
            "m{pod=\"\",container=\"c\",node=\"\",resource=\"cpu\",unit=\"core\"} 1\n\
             m{pod=\"\",container=\"c\",node=\"\",resource=\"memory\",unit=\"byte\"} 1.5e+09\n"
        );
        assert!(p.spec.tolerations.is_empty());
    }
}
