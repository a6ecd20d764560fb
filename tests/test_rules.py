"""Every rule in queries/: a valid header, its true-positive fixture matches, its true-negative fixture does not,
and normal cluster traffic raises nothing of severity high or critical."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import load_bytes
from loader.hunt import run_rule
from loader.rules import RuleError, load_rules, parse_rule, rule_files

START = datetime(2000, 1, 1, tzinfo=timezone.utc)
END = datetime(2100, 1, 1, tzinfo=timezone.utc)
FILES = rule_files()


def rule_id(path: Path) -> str:
    return path.stem


def fixture_ids(path: Path) -> set[str]:
    return {json.loads(line)["auditID"] for line in path.read_text().splitlines() if line.strip()}


def fixture(rule_path: Path, kind: str) -> Path:
    return rule_path.with_name(f"{rule_path.stem}.{kind}.jsonl")


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
def test_true_positives_match(wh, path: Path):
    rule = parse_rule(path)
    tp = fixture(path, "tp")
    r = load_bytes(wh, tp.read_bytes(), tp.name)
    assert r.rejects == 0 and r.events > 0, r
    hits = run_rule(wh, rule, START, END)
    assert hits.rows, f"{rule.id}: no row for its true-positive fixture"
    loaded = fixture_ids(tp)
    for row in hits.rows:
        assert isinstance(row["eventTime"], datetime)
        assert row["eventIDs"], f"{rule.id}: empty eventIDs in {row}"
        assert set(row["eventIDs"]) <= loaded, f"{rule.id}: eventIDs not from the fixture: {row['eventIDs']}"
        assert len(row["eventIDs"]) <= 100


    # a window that holds none of the fixture's events finds nothing: every branch of the WHERE
    # clause is bound by {start} and {end} (an unparenthesised OR would escape them)
    far = datetime(1971, 1, 1, tzinfo=timezone.utc)
    assert run_rule(wh, rule, far, far + timedelta(days=1)).rows == [], f"{rule.id} ignores its time window"


@pytest.mark.parametrize("path", FILES, ids=rule_id)
def test_true_negatives_stay_quiet(wh, path: Path):
    rule = parse_rule(path)
    tn = fixture(path, "tn")
    r = load_bytes(wh, tn.read_bytes(), tn.name)
    assert r.rejects == 0 and r.events > 0, r
    hits = run_rule(wh, rule, START, END)
    assert hits.rows == [], f"{rule.id} matched its true-negative fixture: {hits.rows[:3]}"


def quiet_traffic(start: datetime, minutes: int = 30) -> list[dict]:
    """An hour-ish of a healthy cluster: controllers list/watch, kubelets renew leases, probes hit
    /healthz anonymously, the replicaset-controller creates ordinary pods, the scheduler binds them."""
    events, n = [], 0

    def ev(t, verb, user, groups, ip, ua, resource="", ns="", name="", sub="", uri=None, code=200, req=None):
        nonlocal n
        n += 1
        e = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request" if req else "Metadata",
             "auditID": f"00000000-0000-4000-8000-{n:012d}", "stage": "ResponseComplete",
             "requestURI": uri or f"/api/v1/{'namespaces/' + ns + '/' if ns else ''}{resource}{'/' + name if name else ''}",
             "verb": verb, "user": {"username": user, "groups": groups}, "sourceIPs": [ip], "userAgent": ua,
             "responseStatus": {"metadata": {}, "code": code},
             "requestReceivedTimestamp": t.isoformat().replace("+00:00", "Z"),
             "stageTimestamp": t.isoformat().replace("+00:00", "Z"),
             "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""}}
        if resource:
            e["objectRef"] = {"resource": resource, "namespace": ns, "name": name, "apiVersion": "v1",
                              **({"subresource": sub} if sub else {})}
        if req:
            e["requestObject"] = req
        events.append(e)

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
    return events


def test_quiet_traffic_raises_nothing_high(wh):
    start = datetime(2024, 6, 3, 9, 0, tzinfo=timezone.utc)
    events = quiet_traffic(start)
    data = "".join(json.dumps(e) + "\n" for e in events).encode()
    assert load_bytes(wh, data, "quiet.jsonl").events == len(events)
    loud = {}
    for rule in load_rules():
        if rule.severity in ("high", "critical"):
            hits = run_rule(wh, rule, start - timedelta(days=1), start + timedelta(days=1))
            if hits.rows:
                loud[rule.id] = hits.rows[:2]
    assert loud == {}, f"high/critical rules fire on normal traffic: {loud}"


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
