//! Fixtures shared by the benchmarks: realistic objects as the apiserver sends them.

use serde_json::{Value, json};

/// A pod as a kubelet-managed cluster shows it: two containers and an init container with
/// probes, resources and volume mounts, a status with conditions and container states, and the
/// `managedFields` that make up much of a real pod's bytes (about 8 KiB of JSON).
pub fn pod_json(i: usize, node: &str) -> String {
    let name = format!("web-{i}");
    let container = |name: &str, image: &str| {
        json!({
            "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 8080, "protocol": "TCP", "name": "http"}],
            "env": [{"name": "MODE", "value": "production"}, {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10, "failureThreshold": 3},
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 5},
            "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}, {"name": "data", "mountPath": "/var/lib/app"}],
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
        })
    };
    let status = |name: &str, restarts: u32| {
        json!({
            "name": name, "ready": true, "restartCount": restarts, "started": true,
            "image": "registry.local/app:1.4.2", "imageID": "registry.local/app@sha256:3f4e8a1c2b9d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f",
            "containerID": format!("containerd://{:064x}", i),
            "state": {"running": {"startedAt": "2026-11-20T10:00:00Z"}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": "2026-11-20T09:00:00Z", "finishedAt": "2026-11-20T09:59:00Z"}}
        })
    };
    let managed = json!([
        {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": "2026-11-20T10:00:00Z", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}}, "f:ownerReferences": {".": {}, "k:{\"uid\":\"6c1f\"}": {}}},
                      "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:ports": {}, "f:resources": {}, "f:volumeMounts": {}},
                                                  "k:{\"name\":\"sidecar\"}": {".": {}, "f:image": {}, "f:name": {}, "f:resources": {}}},
                                 "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}, "f:volumes": {}}}},
        {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": "2026-11-20T10:00:05Z", "fieldsType": "FieldsV1", "subresource": "status",
         "fieldsV1": {"f:status": {"f:conditions": {"k:{\"type\":\"ContainersReady\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}},
                                                    "k:{\"type\":\"Initialized\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}},
                                                    "k:{\"type\":\"Ready\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}},
                                   "f:containerStatuses": {}, "f:hostIP": {}, "f:initContainerStatuses": {}, "f:phase": {}, "f:podIP": {}, "f:podIPs": {".": {}, "k:{\"ip\":\"10.244.1.17\"}": {".": {}, "f:ip": {}}}, "f:startTime": {}}}}
    ]);
    let pod: Value = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": format!("team-{}", i % 20), "uid": format!("{:08x}-5d4f-4c1a-9b7e-{:012x}", i, i),
            "resourceVersion": format!("{}", 100_000 + i), "creationTimestamp": "2026-11-20T09:58:00Z",
            "generateName": "web-5d4f8c-", "labels": {"app": "web", "pod-template-hash": "5d4f8c", "team": "payments"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-01T00:00:00Z", "prometheus.io/scrape": "true"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d4f8c", "uid": "6c1f", "controller": true, "blockOwnerDeletion": true}],
            "managedFields": managed
        },
        "spec": {
            "nodeName": node, "serviceAccountName": "web", "schedulerName": "default-scheduler", "priorityClassName": "high", "priority": 1000,
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
            "initContainers": [container("migrate", "registry.local/migrate:1.4.2")],
            "containers": [container("app", "registry.local/app:1.4.2"), container("sidecar", "registry.local/proxy:2.0")],
            "volumes": [{"name": "config", "configMap": {"name": "web-config"}}, {"name": "data", "persistentVolumeClaim": {"claimName": format!("data-web-{i}")}},
                        {"name": "kube-api-access", "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}]}}],
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]
        },
        "status": {
            "phase": "Running", "qosClass": "Burstable", "hostIP": "192.0.2.17", "podIP": "10.244.1.17",
            "podIPs": [{"ip": "10.244.1.17"}, {"ip": "fd00::17"}], "startTime": "2026-11-20T09:58:01Z",
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": "2026-11-20T09:58:30Z"},
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-20T10:00:05Z"},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": "2026-11-20T10:00:05Z"},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-20T09:58:00Z"}
            ],
            "initContainerStatuses": [{"name": "migrate", "ready": true, "restartCount": 0, "image": "registry.local/migrate:1.4.2", "imageID": "registry.local/migrate@sha256:aa",
                                       "containerID": "containerd://init", "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2026-11-20T09:58:02Z", "finishedAt": "2026-11-20T09:58:29Z"}}}],
            "containerStatuses": [status("app", (i % 5) as u32), status("sidecar", 0)]
        }
    });
    pod.to_string()
}

/// A Node as a kubelet reports it.
pub fn node_json(name: &str) -> String {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": format!("uid-{name}"), "resourceVersion": "42", "creationTimestamp": "2026-11-01T00:00:00Z",
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "node-role.kubernetes.io/worker": "", "topology.kubernetes.io/zone": "zone-a"}},
        "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24", "fd00:1::/64"], "providerID": "metal://rack-3/17",
                 "taints": [{"key": "dedicated", "value": "payments", "effect": "NoSchedule"}]},
        "status": {
            "capacity": {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "500Gi", "hugepages-2Mi": "0"},
            "allocatable": {"cpu": "15800m", "memory": "62Gi", "pods": "110", "ephemeral-storage": "450Gi", "hugepages-2Mi": "0"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}, {"type": "MemoryPressure", "status": "False"},
                           {"type": "DiskPressure", "status": "False"}, {"type": "PIDPressure", "status": "False"}],
            "addresses": [{"type": "InternalIP", "address": "192.0.2.17"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kernelVersion": "6.1.0-18-amd64", "osImage": "Debian GNU/Linux 12 (bookworm)", "containerRuntimeVersion": "containerd://1.7.13",
                         "kubeletVersion": "v1.30.2", "kubeProxyVersion": "v1.30.2", "systemUUID": "4c4c4544", "machineID": "m", "bootID": "b",
                         "operatingSystem": "linux", "architecture": "amd64"}
        }
    })
    .to_string()
}
