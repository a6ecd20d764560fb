"""loader sigma convert: SigmaHQ-style kubernetes/audit rules, one per mapped field, converted to rule files
and run against audit events; each must hit exactly the events it describes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import load_bytes
from loader.hunt import run_rule
from loader.rules import parse_rule
from loader.sigma import convert

START, END = datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc)


def event(aid, verb="get", resource="pods", ns="default", name="web", sub="", user="alice", groups=("system:authenticated",),
          code=200, ips=("10.0.0.1",), ua="kubectl/v1.29.0", body=None):
    e = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request" if body else "Metadata", "auditID": aid,
         "stage": "ResponseComplete", "requestURI": f"/api/v1/namespaces/{ns}/{resource}/{name}", "verb": verb,
         "user": {"username": user, "groups": list(groups)}, "sourceIPs": list(ips), "userAgent": ua,
         "objectRef": {"resource": resource, "namespace": ns, "name": name, **({"subresource": sub} if sub else {})},
         "responseStatus": {"code": code}, "requestReceivedTimestamp": "2024-02-01T10:00:00Z"}
    if body:
        e["requestObject"] = body
    return e


def pod(volumes=(), caps=()):
    return {"kind": "Pod", "spec": {"volumes": [{"name": f"v{i}", "hostPath": {"path": p}} for i, p in enumerate(volumes)],
                                    "containers": [{"name": "c", "image": "nginx",
                                                    "securityContext": {"capabilities": {"add": list(caps)}}}]}}


def spec(where="containers", image="nginx", privileged=None):
    """A pod spec whose `where` list (containers, initContainers, ephemeralContainers) holds one odd container
    next to a plain one."""
    odd = {"name": "odd", "image": image, **({"securityContext": {"privileged": privileged}} if privileged is not None else {})}
    s = {"containers": [{"name": "app", "image": "nginx"}]}
    s.setdefault(where, []).append(odd)
    return s


EVENTS = [
    event("delete-deploy", verb="delete", resource="deployments"),
    event("exec", verb="create", sub="exec"),
    event("kube-system-pod", verb="create", ns="kube-system"),
    event("named", name="coredns"),
    event("admin-user", user="kubernetes-admin"),
    event("masters", groups=("system:masters", "system:authenticated")),
    event("denied", code=403),
    event("spoofed", ips=("203.0.113.9", "10.0.0.1")),
    event("python", ua="python-requests/2.31"),
    event("mount-etc", verb="create", body=pod(volumes=["/etc/kubernetes"])),
    event("mount-data", verb="create", body=pod(volumes=["/data"])),
    event("caps", verb="create", body=pod(caps=["SYS_ADMIN"])),
    event("no-caps", verb="create", body=pod()),
    # every container of schema/080's k8sContainers: init and ephemeral ones, in a pod, a workload template, a
    # CronJob's job template, and the pre-1.25 EphemeralContainers body of the ephemeralcontainers subresource
    event("init-image", verb="create", body={"kind": "Pod", "spec": spec("initContainers", "evil/miner:1")}),
    event("ephemeral-image", verb="patch", sub="ephemeralcontainers",
          body={"kind": "Pod", "spec": spec("ephemeralContainers", "evil/miner")}),
    event("legacy-ephemeral-image", verb="update", sub="ephemeralcontainers",
          body={"kind": "EphemeralContainers", "ephemeralContainers": [{"name": "debug", "image": "evil/miner"}]}),
    event("cronjob-image", verb="create", resource="cronjobs", body={"kind": "CronJob", "spec": {
        "jobTemplate": {"spec": {"template": {"spec": spec("initContainers", "evil/miner")}}}}}),
    event("init-privileged", verb="create", resource="deployments", body={"kind": "Deployment", "spec": {
        "template": {"spec": spec("initContainers", privileged=True)}}}),
    event("debug-privileged", verb="patch", sub="ephemeralcontainers",
          body={"kind": "Pod", "spec": spec("ephemeralContainers", "busybox", privileged=True)}),
    event("unprivileged", verb="create", body={"kind": "Pod", "spec": spec("initContainers", privileged=False)}),
    # a read whose response carries the image: Sigma rules look at the request only
    {**event("read-image"), "level": "RequestResponse",
     "responseObject": {"kind": "Pod", "spec": spec("initContainers", "evil/miner", privileged=True)}},
]

SIGMA = {
    "verb": ("verb: delete\n        objectRef.resource: deployments", {"delete-deploy"}),
    "subresource": ("verb: create\n        objectRef.resource: pods\n        objectRef.subresource: exec", {"exec"}),
    "namespace": ("verb: create\n        objectRef.namespace: kube-system", {"kube-system-pod"}),
    "name": ("objectRef.name|startswith: core", {"named"}),
    "username": ("user.username|contains: admin", {"admin-user"}),
    "groups": ("user.groups: system:masters", {"masters"}),
    "code": ("responseStatus.code:\n            - 401\n            - 403", {"denied"}),
    "sourceIPs": ("sourceIPs|cidr: 203.0.113.0/24", {"spoofed"}),
    "userAgent": ("userAgent|startswith: 'python-'", {"python"}),
    "hostPath": ("hostPath|startswith: /etc", {"mount-etc"}),
    "hostPath-any": ("hostPath: '*'", {"mount-etc", "mount-data"}),
    "capabilities": ("capabilities:\n            - SYS_ADMIN\n            - NET_ADMIN", {"caps"}),
    "image": ("image|contains: evil/miner",
              {"init-image", "ephemeral-image", "legacy-ephemeral-image", "cronjob-image"}),
    "privileged": ("privileged: true", {"init-privileged", "debug-privileged"}),
}
BODY_FIELDS = ("hostPath", "hostPath-any", "capabilities", "image", "privileged")


def sigma_yaml(key: str, selection: str) -> str:
    return f"""title: Test {key}
id: 00000000-0000-4000-8000-{abs(hash(key)) % 10**12:012d}
status: test
description: SigmaHQ-style rule on {key}
tags:
    - attack.t1609
logsource:
    product: kubernetes
    service: audit
detection:
    selection:
        {selection}
    condition: selection
falsepositives:
    - Unknown
level: medium
"""


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict[str, Path]:
    src, out = tmp_path_factory.mktemp("sigma"), tmp_path_factory.mktemp("rules")
    for key, (sel, _) in SIGMA.items():
        (src / f"{key}.yml").write_text(sigma_yaml(key, sel))
    rules = {}
    for f, text in convert(src):
        path = out / f"{text.splitlines()[0].split(':', 1)[1].strip()}.sql"
        path.write_text(text)
        rules[f.stem] = path
    return rules


def test_every_rule_converts_to_a_valid_rule_file(converted):
    assert set(converted) == set(SIGMA)
    for key, path in converted.items():
        rule = parse_rule(path)
        assert rule.mitre == ["T1609"] and rule.severity == "medium"
        assert rule.level == ("Request" if key in BODY_FIELDS else "Metadata")


def test_converted_rules_hit_exactly_their_events(wh, converted):
    data = "".join(json.dumps(e) + "\n" for e in EVENTS).encode()
    assert load_bytes(wh, data, "sigma.jsonl").events == len(EVENTS)
    got = {key: {i for row in run_rule(wh, parse_rule(path), START, END).rows for i in row["eventIDs"]}
           for key, path in converted.items()}
    assert got == {key: want for key, (_, want) in SIGMA.items()}


def test_cli_converts_a_directory(tmp_path):
    (tmp_path / "exec.yml").write_text(sigma_yaml("exec", SIGMA["subresource"][0]))
    (tmp_path / "other.yml").write_text(sigma_yaml("x", "verb: get").replace("product: kubernetes", "product: windows"))
    out = subprocess.run([sys.executable, "-m", "loader", "sigma", "convert", str(tmp_path), "--out", str(tmp_path / "q")],
                         capture_output=True, text=True, check=True)
    assert "converted 1 Sigma rule(s)" in out.stderr
    assert [p.name for p in (tmp_path / "q").iterdir()] == ["sigma-test-exec.sql"]
