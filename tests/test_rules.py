"""Every rule in queries/: a valid header, its true-positive fixture matches, its true-negative fixture does not,
and normal cluster traffic raises nothing of severity high or critical."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import load_bytes

from loader.hunt import ParamError, literal, run_rule
from loader.rulecheck import check, fixture
from loader.rules import RuleError, load_rules, parse_rule, rule_files
from loader.warehouse import WarehouseError

FILES = rule_files()


def rule_id(path: Path) -> str:
    return path.stem


def fixture_ids(path: Path) -> set[str]:
    return {json.loads(line)["auditID"] for line in path.read_text().splitlines() if line.strip()}


def test_catalog_loads():
    rules = load_rules()  # also checks ids are unique
    assert rules and len(rules) == len(FILES)


@pytest.mark.parametrize("path", FILES, ids=rule_id)
def test_header(path: Path):
    rule = parse_rule(path)
    assert rule.id == path.stem
    assert fixture(path, "tp").is_file(), f"{rule.id}: no true-positive fixture"
    assert fixture(path, "tn").is_file(), f"{rule.id}: no true-negative fixture"


@pytest.mark.parametrize("path", FILES, ids=rule_id)
def test_fixtures(wh, path: Path):
    """Every true positive found (history before 2000 aside), eventIDs only from the fixture, nothing outside the
    window, the true negatives quiet: loader/rulecheck.py, which `loader rules test` runs on users' packs too."""
    assert check(wh, parse_rule(path)) == []


def _ts(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def audit_event(audit_id: str, t: datetime, verb: str, user: str, groups: list[str], ip: str, ua: str,
                resource: str = "", ns: str = "", name: str = "", sub: str = "", uri: str | None = None,
                code: int = 200, req: dict | None = None, resp: dict | None = None, group: str = "",
                level: str | None = None) -> dict:
    """One audit.k8s.io/v1 event at stage ResponseComplete (level Request when it carries a body)."""
    path = f"{'namespaces/' + ns + '/' if ns else ''}{resource}{'/' + name if name else ''}"
    e = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level or ("Request" if req else "Metadata"),
         "auditID": audit_id, "stage": "ResponseComplete",
         "requestURI": uri or (f"/apis/{group}/v1/{path}" if group else f"/api/v1/{path}"),
         "verb": verb, "user": {"username": user, "groups": groups}, "sourceIPs": [ip], "userAgent": ua,
         "responseStatus": {"metadata": {}, "code": code},
         "requestReceivedTimestamp": _ts(t), "stageTimestamp": _ts(t),
         "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""}}
    if resource:
        e["objectRef"] = {"resource": resource, "namespace": ns, "name": name, "apiVersion": "v1",
                          **({"apiGroup": group} if group else {}), **({"subresource": sub} if sub else {})}
    if req:
        e["requestObject"] = req
    if resp:
        e["responseObject"] = resp
    return e


# The add-ons every managed cluster runs, as their manifests write them (trimmed to what matters here).
ECR = "602401143452.dkr.ecr.us-west-2.amazonaws.com"


def _host(name: str, path: str, kind: str = "") -> dict:
    return {"name": name, "hostPath": {"path": path, **({"type": kind} if kind else {})}}


def aws_node_spec() -> dict:
    """The Amazon VPC CNI (EKS add-on vpc-cni): privileged init container, NET_ADMIN, hostNetwork, CNI host paths."""
    cni_mounts = [{"mountPath": "/host/opt/cni/bin", "name": "cni-bin-dir"}]
    return {"priorityClassName": "system-node-critical", "serviceAccountName": "aws-node", "hostNetwork": True,
            "terminationGracePeriodSeconds": 10, "tolerations": [{"operator": "Exists"}],
            "initContainers": [{"name": "aws-vpc-cni-init", "image": f"{ECR}/amazon-k8s-cni-init:v1.18.3-eksbuild.1",
                                "env": [{"name": "DISABLE_TCP_EARLY_DEMUX", "value": "false"},
                                        {"name": "ENABLE_IPv6", "value": "false"}],
                                "securityContext": {"privileged": True}, "volumeMounts": cni_mounts}],
            "containers": [
                {"name": "aws-node", "image": f"{ECR}/amazon-k8s-cni:v1.18.3-eksbuild.1",
                 "ports": [{"containerPort": 61678, "name": "metrics"}],
                 "env": [{"name": "AWS_VPC_K8S_CNI_LOGLEVEL", "value": "DEBUG"},
                         {"name": "MY_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                 "livenessProbe": {"exec": {"command": ["/app/grpc-health-probe", "-addr=:50051"]}, "timeoutSeconds": 10},
                 "resources": {"requests": {"cpu": "25m"}},
                 "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
                 "volumeMounts": cni_mounts + [{"mountPath": "/host/etc/cni/net.d", "name": "cni-net-dir"},
                                               {"mountPath": "/host/var/log/aws-routed-eni", "name": "log-dir"},
                                               {"mountPath": "/var/run/aws-node", "name": "run-dir"},
                                               {"mountPath": "/run/xtables.lock", "name": "xtables-lock"}]},
                {"name": "aws-eks-nodeagent", "image": f"{ECR}/amazon/aws-network-policy-agent:v1.1.2-eksbuild.1",
                 "args": ["--enable-network-policy=false", "--metrics-bind-addr=:8162", "--health-probe-bind-addr=:8163"],
                 "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}, "privileged": True},
                 "volumeMounts": cni_mounts + [{"mountPath": "/sys/fs/bpf", "name": "bpf-pin-path"},
                                               {"mountPath": "/var/log/aws-routed-eni", "name": "log-dir"},
                                               {"mountPath": "/var/run/aws-node", "name": "run-dir"}]}],
            "volumes": [_host("bpf-pin-path", "/sys/fs/bpf"), _host("cni-bin-dir", "/opt/cni/bin"),
                        _host("cni-net-dir", "/etc/cni/net.d"),
                        _host("log-dir", "/var/log/aws-routed-eni", "DirectoryOrCreate"),
                        _host("run-dir", "/var/run/aws-node", "DirectoryOrCreate"),
                        _host("xtables-lock", "/run/xtables.lock", "FileOrCreate")]}


def kube_proxy_spec() -> dict:
    return {"priorityClassName": "system-node-critical", "serviceAccountName": "kube-proxy", "hostNetwork": True,
            "tolerations": [{"operator": "Exists"}],
            "containers": [{"name": "kube-proxy", "image": f"{ECR}/eks/kube-proxy:v1.29.3-minimal-eksbuild.2",
                            "command": ["kube-proxy", "--v=2", "--config=/var/lib/kube-proxy-config/config",
                                        "--hostname-override=$(NODE_NAME)"],
                            "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                            "securityContext": {"privileged": True},
                            "volumeMounts": [{"mountPath": "/var/log", "name": "varlog"},
                                             {"mountPath": "/run/xtables.lock", "name": "xtables-lock"},
                                             {"mountPath": "/lib/modules", "name": "lib-modules", "readOnly": True}]}],
            "volumes": [_host("varlog", "/var/log"), _host("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
                        _host("lib-modules", "/lib/modules")]}


def ebs_csi_node_spec() -> dict:
    """The EBS CSI node plugin (EKS add-on aws-ebs-csi-driver): root, privileged, /var/lib/kubelet and /dev."""
    return {"priorityClassName": "system-node-critical", "serviceAccountName": "ebs-csi-node-sa",
            "securityContext": {"runAsNonRoot": False, "runAsUser": 0, "runAsGroup": 0, "fsGroup": 0},
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {"name": "ebs-plugin", "image": f"{ECR}/eks/aws-ebs-csi-driver:v1.32.0",
                 "args": ["node", "--endpoint=$(CSI_ENDPOINT)", "--logging-format=text", "--v=2"],
                 "env": [{"name": "CSI_ENDPOINT", "value": "unix:/csi/csi.sock"}],
                 "securityContext": {"privileged": True, "readOnlyRootFilesystem": True},
                 "volumeMounts": [{"mountPath": "/var/lib/kubelet", "mountPropagation": "Bidirectional",
                                   "name": "kubelet-dir"},
                                  {"mountPath": "/csi", "name": "plugin-dir"}, {"mountPath": "/dev", "name": "device-dir"}]},
                {"name": "node-driver-registrar", "image": f"{ECR}/eks/csi-node-driver-registrar:v2.11.0-eks-1-30-8",
                 "args": ["--csi-address=$(ADDRESS)", "--kubelet-registration-path=$(DRIVER_REG_SOCK_PATH)", "--v=2"],
                 "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
                 "volumeMounts": [{"mountPath": "/csi", "name": "plugin-dir"},
                                  {"mountPath": "/registration", "name": "registration-dir"}]}],
            "volumes": [_host("kubelet-dir", "/var/lib/kubelet", "Directory"),
                        _host("plugin-dir", "/var/lib/kubelet/plugins/ebs.csi.aws.com/", "DirectoryOrCreate"),
                        _host("registration-dir", "/var/lib/kubelet/plugins_registry/", "Directory"),
                        _host("device-dir", "/dev", "Directory")]}


def node_exporter_spec() -> dict:
    """prometheus-community/prometheus-node-exporter: hostPID, hostNetwork, '/', /proc and /sys read-only."""
    return {"automountServiceAccountToken": False, "serviceAccountName": "prometheus-node-exporter",
            "securityContext": {"fsGroup": 65534, "runAsGroup": 65534, "runAsNonRoot": True, "runAsUser": 65534},
            "hostNetwork": True, "hostPID": True, "tolerations": [{"effect": "NoSchedule", "operator": "Exists"}],
            "containers": [{"name": "node-exporter", "image": "quay.io/prometheus/node-exporter:v1.8.1",
                            "args": ["--path.procfs=/host/proc", "--path.sysfs=/host/sys", "--path.rootfs=/host/root",
                                     "--path.udev.data=/host/root/run/udev/data", "--web.listen-address=[$(HOST_IP)]:9100"],
                            "env": [{"name": "HOST_IP", "value": "0.0.0.0"}],
                            "ports": [{"containerPort": 9100, "name": "http-metrics", "protocol": "TCP"}],
                            "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False},
                            "volumeMounts": [{"mountPath": "/host/proc", "name": "proc", "readOnly": True},
                                             {"mountPath": "/host/sys", "name": "sys", "readOnly": True},
                                             {"mountPath": "/host/root", "mountPropagation": "HostToContainer",
                                              "name": "root", "readOnly": True}]}],
            "volumes": [_host("proc", "/proc"), _host("sys", "/sys"), _host("root", "/")]}


def daemonset(ns: str, name: str, spec: dict, labels: dict | None = None) -> dict:
    labels = {"k8s-app": name, **(labels or {})}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"selector": {"matchLabels": {"k8s-app": name}},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
                     "template": {"metadata": {"labels": {"k8s-app": name}}, "spec": spec}}}


def daemonset_pod(ds: dict, node: str, owner: str | None = None) -> dict:
    """The pod the daemon-set-controller creates from a DaemonSet's template for one node."""
    name = owner or ds["metadata"]["name"]
    spec = {**ds["spec"]["template"]["spec"], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}}}}
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"generateName": f"{name}-", "namespace": ds["metadata"]["namespace"],
                         "labels": {**ds["spec"]["template"]["metadata"]["labels"], "controller-revision-hash": "6d4f8b7c9"},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": name,
                                              "uid": "4b1c2a9e-0c0e-4b7a-9d1e-5f6a7b8c9d0e", "controller": True,
                                              "blockOwnerDeletion": True}]},
            "spec": spec}


SA = ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]
KCM_UA = "kube-controller-manager/v1.29.3 (linux/amd64) kubernetes/abc/system:serviceaccount:kube-system:daemon-set-controller"


def addon_events(t: datetime) -> list[dict]:
    """The add-ons kept up to date: the EKS add-on manager applies aws-node (server-side apply, logged at
    RequestResponse) and creates ebs-csi-node, an operator replaces kube-proxy with kubectl, a human upgrades
    prometheus-node-exporter with Helm (a strategic-merge patch), and the daemon-set-controller creates their pods."""
    aws_node = daemonset("kube-system", "aws-node", aws_node_spec(),
                         {"app.kubernetes.io/name": "aws-node", "app.kubernetes.io/instance": "aws-vpc-cni"})
    kube_proxy = daemonset("kube-system", "kube-proxy", kube_proxy_spec(), {"eks.amazonaws.com/component": "kube-proxy"})
    ebs = daemonset("kube-system", "ebs-csi-node", ebs_csi_node_spec(), {"app.kubernetes.io/name": "aws-ebs-csi-driver"})
    exporter = daemonset("monitoring", "prometheus-node-exporter", node_exporter_spec(),
                         {"app.kubernetes.io/managed-by": "Helm", "helm.sh/chart": "prometheus-node-exporter-4.37.0"})
    exporter_patch = {"metadata": {"labels": exporter["metadata"]["labels"]},
                      "spec": {"template": {"spec": exporter["spec"]["template"]["spec"]}}}
    applied = {**aws_node, "metadata": {**aws_node["metadata"], "uid": "4b1c2a9e-0c0e-4b7a-9d1e-5f6a7b8c9d0e",
                                        "generation": 7, "resourceVersion": "18446"}}
    ids = iter(f"00000000-0000-4000-a000-{i:012d}" for i in range(1, 100))
    apps = {"group": "apps", "resource": "daemonsets"}
    return [
        audit_event(next(ids), t, "patch", "eks:addon-manager", ["system:authenticated"], "10.0.112.5",
                    "Go-http-client/2.0", ns="kube-system", name="aws-node", req=aws_node, resp=applied,
                    uri="/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node?fieldManager=eks&force=true",
                    level="RequestResponse", **apps),
        audit_event(next(ids), t + timedelta(seconds=3), "create", "system:serviceaccount:kube-system:daemon-set-controller",
                    SA, "10.0.0.10", KCM_UA, "pods", "kube-system", code=201,
                    req=daemonset_pod(aws_node, "ip-10-0-1-0.ec2.internal")),
        audit_event(next(ids), t + timedelta(minutes=1), "create", "eks:addon-manager", ["system:authenticated"],
                    "10.0.112.5", "Go-http-client/2.0", ns="kube-system", code=201, req=ebs,
                    uri="/apis/apps/v1/namespaces/kube-system/daemonsets", **apps),
        audit_event(next(ids), t + timedelta(minutes=1, seconds=2), "create",
                    "system:serviceaccount:kube-system:daemon-set-controller", SA, "10.0.0.10", KCM_UA, "pods",
                    "kube-system", code=201, req=daemonset_pod(ebs, "ip-10-0-1-1.ec2.internal")),
        audit_event(next(ids), t + timedelta(minutes=2), "update", "kubernetes-admin",
                    ["system:masters", "system:authenticated"], "203.0.113.7",
                    "kubectl/v1.29.3 (darwin/arm64) kubernetes/6813625", ns="kube-system", name="kube-proxy",
                    req=kube_proxy, **apps),
        audit_event(next(ids), t + timedelta(minutes=3), "patch", "ops@example.com", ["system:authenticated"],
                    "203.0.113.8", "Helm/3.14.0", ns="monitoring", name="prometheus-node-exporter",
                    req=exporter_patch, **apps),
        audit_event(next(ids), t + timedelta(minutes=3, seconds=2), "create",
                    "system:serviceaccount:kube-system:daemon-set-controller", SA, "10.0.0.10", KCM_UA, "pods",
                    "monitoring", code=201, req=daemonset_pod(exporter, "ip-10-0-1-2.ec2.internal")),
    ]


def quiet_traffic(start: datetime, minutes: int = 30) -> list[dict]:
    """An hour-ish of a healthy cluster: controllers list/watch, kubelets renew leases, probes hit
    /healthz anonymously, the replicaset-controller creates ordinary pods, the scheduler binds them, and
    the add-ons are maintained (addon_events)."""
    events, n = [], 0

    def ev(t, verb, user, groups, ip, ua, resource="", ns="", name="", sub="", uri=None, code=200, req=None):
        nonlocal n
        n += 1
        events.append(audit_event(f"00000000-0000-4000-8000-{n:012d}", t, verb, user, groups, ip, ua, resource, ns,
                                  name, sub, uri, code, req))

    sa = ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]
    for m in range(minutes):
        t = start + timedelta(minutes=m)
        for c in ("replicaset-controller", "deployment-controller", "endpointslice-controller", "namespace-controller"):
            for res in ("pods", "replicasets", "deployments", "endpoints", "secrets", "configmaps"):
                ev(t, "list" if m % 10 == 0 else "watch", f"system:serviceaccount:kube-system:{c}", sa, "10.0.0.10",
                   f"kube-controller-manager/v1.29.0 (linux/amd64) kubernetes/abc/{c}", res)
        for node in range(3):
            name = f"ip-10-0-1-{node}.ec2.internal"
            ev(t, "update", f"system:node:{name}", ["system:nodes", "system:authenticated"], f"10.0.1.{node}",
               "kubelet/v1.29.0 (linux/amd64) kubernetes/abc", "leases", "kube-node-lease", name,
               uri=f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}")
            ev(t, "get", f"system:node:{name}", ["system:nodes", "system:authenticated"], f"10.0.1.{node}",
               "kubelet/v1.29.0 (linux/amd64) kubernetes/abc", "secrets", "web", "web-tls")
        for path in ("/healthz", "/livez", "/readyz"):
            ev(t, "get", "system:anonymous", ["system:unauthenticated"], "10.0.0.2", "kube-probe/1.29", uri=path)
        if m % 5 == 0:
            pod = {"kind": "Pod", "apiVersion": "v1",
                   "metadata": {"generateName": "web-7d9c-", "namespace": "web",
                                "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7d9c", "controller": True}]},
                   "spec": {"containers": [{"name": "web", "image": "registry.example.com/web:1.4.2",
                                            "ports": [{"containerPort": 8080}],
                                            "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False}}],
                            "serviceAccountName": "web"}}
            ev(t, "create", "system:serviceaccount:kube-system:replicaset-controller", sa, "10.0.0.10",
               "kube-controller-manager/v1.29.0 (linux/amd64) kubernetes/abc/system:serviceaccount:kube-system:replicaset-controller",
               "pods", "web", uri="/api/v1/namespaces/web/pods", code=201, req=pod)
            ev(t, "create", "system:kube-scheduler", ["system:authenticated"], "10.0.0.10",
               "kube-scheduler/v1.29.0 (linux/amd64) kubernetes/abc/scheduler", "pods", "web", f"web-7d9c-{m:05d}",
               "binding", code=201)
    return events + addon_events(start + timedelta(minutes=7))


def test_quiet_traffic_raises_nothing_high(wh):
    start = datetime(2024, 6, 3, 9, 0, tzinfo=timezone.utc)
    events = quiet_traffic(start)
    data = "".join(json.dumps(e) + "\n" for e in events).encode()
    assert load_bytes(wh, data, "quiet.jsonl").events == len(events)
    loud, noisy = {}, {}
    for rule in load_rules():
        if rule.severity in ("high", "critical") or rule.id in POD_SPEC_RULES + ADDON_INSTALL_RULES:
            hits = run_rule(wh, rule, start - timedelta(days=1), start + timedelta(days=1))
            if hits.rows:
                (loud if rule.severity in ("high", "critical") else noisy)[rule.id] = hits.rows[:2]
    assert loud == {}, f"high/critical rules fire on normal traffic: {loud}"
    # the add-ons (addon_events) are quiet in the pod-spec and add-on install rules at any severity
    assert noisy == {}, f"rules fire on normal add-on traffic: {noisy}"


# The rules that read pod specs; they take the same exclusion parameters (queries/README.md, Exclusions).
POD_SPEC_RULES = ("k8s-privileged-container", "k8s-sensitive-hostpath-mount", "k8s-host-namespace-pod",
                  "k8s-dangerous-capabilities", "k8s-sidecar-injection-patch", "k8s-attack-tool-image",
                  "k8s-root-or-privilege-escalation", "k8s-security-profile-disabled")
EXCLUSIONS = ("exclude_identities", "exclude_workloads", "exclude_workload_names")
# rules on workloads installed in system namespaces: the managed services' add-on managers are excluded by identity
ADDON_INSTALL_RULES = ("k8s-workload-in-kube-namespace", "k8s-daemonset-created")


def pod_spec_rules() -> list:
    by_id = {r.id: r for r in load_rules()}
    assert set(POD_SPEC_RULES) <= by_id.keys(), set(POD_SPEC_RULES) - by_id.keys()
    return [by_id[i] for i in POD_SPEC_RULES]


def test_addons_are_quiet_because_of_the_exclusions(wh):
    """With the exclusions emptied the add-on events fire the pod-spec rules: the fixtures are the real thing,
    and it is the exclusion lists, not a blind spot, that keep them quiet."""
    start = datetime(2024, 6, 3, 9, 0, tzinfo=timezone.utc)
    events = addon_events(start)
    assert load_bytes(wh, "".join(json.dumps(e) + "\n" for e in events).encode(), "addons.jsonl").events == len(events)
    window = (start - timedelta(days=1), start + timedelta(days=1))
    rows = {r.id: run_rule(wh, r, *window, {name: "[]" for name in EXCLUSIONS}).rows for r in pod_spec_rules()}
    fired = {rid for rid, found in rows.items() if found}
    assert fired >= {"k8s-privileged-container", "k8s-sensitive-hostpath-mount", "k8s-host-namespace-pod",
                     "k8s-dangerous-capabilities", "k8s-sidecar-injection-patch", "k8s-root-or-privilege-escalation"}
    # paths compare by component: the CNI's lock file and run directory are no sensitive path, excluded or not
    paths = {p for row in rows["k8s-sensitive-hostpath-mount"] for p in row["detail"]}
    assert not paths & {"/run/xtables.lock", "/var/run/aws-node", "/opt/cni/bin", "/lib/modules"}, paths
    assert {"/", "/proc", "/sys", "/etc/cni/net.d", "/var/log", "/var/lib/kubelet", "/dev"} <= paths, paths


def test_pod_spec_rules_share_their_exclusions():
    rules = pod_spec_rules()
    for rule in rules:
        for name in EXCLUSIONS:
            assert name in rule.params and rule.params[name].type == "Array(String)", (rule.id, name)
    for name in ("exclude_identities", "exclude_workloads"):  # one list of system components, not eight drifting
        defaults = {rule.id: literal("Array(String)", rule.params[name].default) for rule in rules}
        assert len({tuple(v) for v in defaults.values()}) == 1, f"{name} differs between rules: {defaults}"
    identities = literal("Array(String)", rules[0].params["exclude_identities"].default)
    workloads = literal("Array(String)", rules[0].params["exclude_workloads"].default)
    assert {"eks:addon-manager", "system:addon-manager", "aksService"} <= set(identities)
    # namespace/name pairs: a bare 'aws-node' would exempt a look-alike in any namespace
    assert all(re.fullmatch(r"[a-z0-9-]+/[a-z0-9.-]+", w) for w in workloads), workloads
    assert {"kube-system/aws-node", "kube-system/kube-proxy", "kube-system/coredns", "kube-system/ebs-csi-node",
            "kube-system/efs-csi-node", "kube-system/gke-metadata-server", "kube-system/fluentbit-gke",
            "kube-system/pdcsi-node", "kube-system/netd", "kube-system/anetd", "kube-system/azure-cns",
            "kube-system/cloud-node-manager", "kube-system/csi-azuredisk-node", "kube-system/ama-logs",
            "kube-system/calico-node", "kube-system/cilium", "kube-system/kube-flannel-ds",
            "kube-system/weave-net"} <= set(workloads)


def test_path_and_workload_functions(wh):
    under = [("/run/xtables.lock", ["/run/containerd"], 0), ("/run/xtables.lock", ["/run"], 1),
             ("/var/run/docker.sock", ["/var/run"], 1), ("/etcd-backup", ["/etc"], 0), ("/etc", ["/etc/"], 1),
             ("//etc/./kubernetes/", ["/etc"], 1), ("/etc", ["/"], 0), ("/", ["/"], 1), ("/", ["/etc"], 0)]
    for path, prefixes, want in under:
        got = wh.rows("SELECT k8sPathUnder({p:String}, {s:Array(String)})", {"p": path, "s": prefixes})[0][0]
        assert got == want, (path, prefixes)
    owner = ('{"requestObject": {"metadata": {"labels": {"pod-template-hash": "5d78c9869d"}, "ownerReferences": '
             '[{"kind": "%s", "name": "%s", "controller": true}]}}}')
    kcm = "system:serviceaccount:kube-system:"
    cases = [("pods", "", kcm + "daemon-set-controller", owner % ("DaemonSet", "aws-node"), "aws-node"),
             ("pods", "", kcm + "replicaset-controller", owner % ("ReplicaSet", "coredns-5d78c9869d"), "coredns"),
             ("replicasets", "coredns-5d78c9869d", kcm + "deployment-controller", owner % ("Deployment", "coredns"),
              "coredns"),
             # anyone else: a pod's own name or owner reference proves nothing
             ("pods", "", "alice@example.com", owner % ("DaemonSet", "aws-node"), ""),
             ("pods", "aws-node", "alice@example.com", "{}", ""),
             ("daemonsets", "aws-node", "eks:addon-manager", "{}", "aws-node")]
    for resource, name, user, raw, want in cases:
        got = wh.rows("SELECT k8sWorkloadName({r:String}, {n:String}, {u:String}, {raw:String})",
                      {"r": resource, "n": name, "u": user, "raw": raw})[0][0]
        assert got == want, (resource, name, user, raw)


# where a parameter must be a list: `x IN {p:T}`, has({p:T}, x), hasAny/hasAll with it as either argument
_IN_PARAM = re.compile(r"\bIN\s*\{(\w+)\s*:", re.I)
_PARAM_ARG = re.compile(r"^\{(\w+)\s*:")


def _call_args(sql: str, fn: str):
    """The top-level arguments of every call of fn in sql."""
    for m in re.finditer(rf"\b{fn}\s*\(", sql):
        depth, args, cur = 1, [], ""
        for c in sql[m.end():]:
            depth += (c in "([") - (c in ")]")
            if depth == 0:
                break
            if depth == 1 and c == ",":
                args, cur = args + [cur.strip()], ""
            else:
                cur += c
        yield args + [cur.strip()]


def list_params(sql: str) -> set[str]:
    names = set(_IN_PARAM.findall(sql))
    for fn, positions in (("has", (0,)), ("hasAny", (0, 1)), ("hasAll", (0, 1))):
        for args in _call_args(sql, fn):
            names |= {m.group(1) for i in positions if i < len(args) and (m := _PARAM_ARG.match(args[i]))}
    return names


def param_problems(wh, rule) -> list[str]:
    """Array parameters whose default is no array literal, and list-matching parameters that are no Array."""
    problems = []
    for p in rule.params.values():
        if p.type.startswith("Array("):
            try:
                wh.rows(f"SELECT CAST({p.default} AS {p.type})")
            except WarehouseError as exc:
                problems.append(f"param {p.name}: default {p.default!r} is not a {p.type} literal ({str(exc)[:120]})")
                continue
            try:
                assert isinstance(literal(p.type, p.default), list)
            except (ParamError, AssertionError):
                problems.append(f"param {p.name}: the runner cannot pass default {p.default!r} as a list")
    for name in sorted(list_params(rule.sql)):
        if name in rule.params and not rule.params[name].type.startswith("Array("):
            problems.append(f"param {name}: matched as a list (IN / has / hasAny) but declared {rule.params[name].type}")
    return problems


@pytest.mark.parametrize("path", FILES, ids=rule_id)
def test_list_parameters_are_arrays(wh, path: Path):
    rule = parse_rule(path)
    assert param_problems(wh, rule) == [], rule.id


def test_list_parameter_check_catches_mistakes(wh, tmp_path: Path):
    bad = tmp_path / "k8s-bad-lists.sql"
    header = "".join(f"-- {k}: x\n" for k in ("title", "description", "false_positives", "operations"))
    bad.write_text("-- id: k8s-bad-lists\n" + header + "-- severity: low\n-- mitre: T1609\n-- mode: event\n"
                   "-- level: Metadata\n-- window: 1h\n"
                   "-- param users: String = alice\n"
                   "-- param groups: Array(String) = system:masters\n"
                   "-- param verbs: String = get\n"
                   "-- param names: Array(String) = ['a', 'b']\n"
                   "SELECT eventTime, [eventID] AS eventIDs FROM kubernetes_audit_logs\n"
                   "WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}\n"
                   "  AND actor['username'] NOT IN {users:String}\n"
                   "  AND hasAny(splitByChar(',', actor['groups']), {groups:Array(String)})\n"
                   "  AND has({verbs:String}, verb) AND has({names:Array(String)}, `objectRef.name`)\n")
    problems = " | ".join(param_problems(wh, parse_rule(bad)))
    assert "param users: matched as a list" in problems
    assert "param groups: default 'system:masters' is not a Array(String) literal" in problems
    assert "param verbs: matched as a list" in problems
    assert "param names" not in problems


def test_header_errors_are_reported(tmp_path: Path):
    bad = tmp_path / "k8s-bad.sql"
    bad.write_text("-- id: k8s-other\n-- title: t\n-- severity: severe\n-- mode: event\n-- colour: red\n"
                   "-- param n: UInt32 = 3\nSELECT eventTime, [eventID] AS eventIDs FROM kubernetes_audit_logs "
                   "WHERE eventTime >= {start:DateTime64(6)} AND cnt > {limit:UInt8}\n")
    with pytest.raises(RuleError) as info:
        parse_rule(bad)
    text = str(info.value)
    for needle in ("differs from the file name", "severity 'severe'", "unknown header key 'colour'",
                   "missing header key 'mitre'", "{end:DateTime64(6)}", "{limit:UInt8} is not declared",
                   "param n is declared but not used"):
        assert needle in text, needle
