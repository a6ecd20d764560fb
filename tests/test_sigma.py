"""loader sigma convert: Sigma kubernetes/audit rules to rule files, run against audit events.

- one SigmaHQ-style rule per mapped field, value type and escaping case, each must hit exactly its events;
- what cannot convert (an unmapped field, a value the column cannot hold) is an error naming it and the rule;
- every SigmaHQ kubernetes/audit rule, pinned in tests/sigma/rules, finds its tp fixtures and none of its tn;
- `loader sigma convert DIR -o PACK` writes a pack load_rules parses whole, and says what it skipped."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from conftest import load_bytes
from loader.hunt import run_rule
from loader.rules import load_rules, parse_rule
from loader.sigma import ARRAYS, FIELDS, NUMBERS, Converted, convert

START, END = datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc)
PINNED = Path(__file__).resolve().parent / "sigma"
PINNED_RULES = sorted((PINNED / "rules").glob("*.yml"))


def event(aid, verb="get", resource="pods", ns="default", name="web", sub="", user="alice", groups=("system:authenticated",),
          code=200, ips=("10.0.0.1",), ua="kubectl/v1.29.0", body=None, group=""):
    e = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request" if body else "Metadata", "auditID": aid,
         "stage": "ResponseComplete", "requestURI": f"/api/v1/namespaces/{ns}/{resource}/{name}", "verb": verb,
         "user": {"username": user, "groups": list(groups)}, "sourceIPs": list(ips), "userAgent": ua,
         "objectRef": {"resource": resource, "namespace": ns, "name": name, **({"subresource": sub} if sub else {}),
                       **({"apiGroup": group} if group else {})},
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
    event("no-ip", ips=()),  # srcIP '': a cidr condition must not fail on it
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
    # body values that are not strings: compared as JSON writes them
    event("scale", verb="patch", resource="deployments", group="apps", body={"spec": {"replicas": 3}}),
    event("hostnet", verb="create", body={"kind": "Pod", "spec": {"hostNetwork": True, "containers": []}}),
    event("numeric-name", name="1234"),
    # escaping: \ % _ ' * are ordinary characters of these user agents
    event("ua-backslash", ua="a\\b"),
    event("ua-percent", ua="a%b"),
    event("ua-underscore", ua="a_b"),
    event("ua-x", ua="axb"),
    event("ua-star", ua="a*b"),
    event("ua-quote", ua="it's"),
    event("ua-sale", ua="50%_off\\"),
    event("ua-upper", ua="Python-urllib/3.11"),
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
    "srcIP": ("srcIP|cidr: 203.0.113.0/24", {"spoofed"}),
    "userAgent": ("userAgent|startswith: 'python-'", {"python", "ua-upper"}),  # Sigma strings ignore case
    "hostPath": ("hostPath|startswith: /etc", {"mount-etc"}),
    "hostPath-any": ("hostPath: '*'", {"mount-etc", "mount-data"}),
    "capabilities": ("capabilities:\n            - SYS_ADMIN\n            - NET_ADMIN", {"caps"}),
    "image": ("image|contains: evil/miner",
              {"init-image", "ephemeral-image", "legacy-ephemeral-image", "cronjob-image"}),
    "privileged": ("privileged: true", {"init-privileged", "debug-privileged"}),
    "apiGroup-alias": ("apiGroup: apps", {"scale"}),
    "body-number": ("requestObject.spec.replicas: 3", {"scale"}),
    "body-bool": ("requestObject.spec.hostNetwork: true", {"hostnet"}),
    # typed by the column: a quoted number for the numeric code, a number for a text column
    "code-text": ("responseStatus.code: '403'", {"denied"}),
    "code-pattern": ("responseStatus.code|startswith: '40'", {"denied"}),
    "code-compare": ("responseStatus.code|gte: 400", {"denied"}),
    "name-number": ("objectRef.name: 1234", {"numeric-name"}),
    # escaping
    "startswith-backslash": ("userAgent|startswith: 'a\\'", {"ua-backslash"}),
    "endswith-backslash": ("userAgent|endswith: '\\'", {"ua-sale"}),
    "contains-percent": ("userAgent|contains: '%'", {"ua-percent", "ua-sale"}),
    "contains-underscore": ("userAgent|contains: '_'", {"ua-underscore", "ua-sale"}),
    "endswith-quote": ("userAgent|endswith: \"'s\"", {"ua-quote"}),
    "plain-percent": ("userAgent: 'a%b'", {"ua-percent"}),
    "single-wildcard": ("userAgent: 'a?b'", {"ua-backslash", "ua-percent", "ua-underscore", "ua-x", "ua-star"}),
    "escaped-star": ("userAgent: 'a\\*b'", {"ua-star"}),
    "cased": ("userAgent|cased|startswith: 'Python'", {"ua-upper"}),
    "regex-quote": ("userAgent|re: \"^it's$\"", {"ua-quote"}),
    "keyword-quote": ("- \"it's\"", {"ua-quote"}),
}
BODY_FIELDS = ("hostPath", "hostPath-any", "capabilities", "image", "privileged", "body-number", "body-bool")


def sigma_yaml(key: str, selection: str, tags: str = "- attack.t1609", logsource: str = "product: kubernetes") -> str:
    return f"""title: Test {key}
id: 00000000-0000-4000-8000-{sum(map(ord, key)) * 7919 % 10**12:012d}
status: test
description: SigmaHQ-style rule on {key}
author: test
tags:
    {tags}
logsource:
    {logsource}
    service: audit
detection:
    selection:
        {selection}
    condition: selection
falsepositives:
    - Unknown
level: medium
"""


def write_rule(out: Path, c: Converted) -> Path:
    path = out / c.tactic / f"{c.id}.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(c.text)
    return path


def hits(wh, path: Path) -> set[str]:
    return {i for row in run_rule(wh, parse_rule(path), START, END).rows for i in row["eventIDs"]}


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict[str, Path]:
    src, out = tmp_path_factory.mktemp("sigma"), tmp_path_factory.mktemp("rules")
    for key, (sel, _) in SIGMA.items():
        (src / f"{key}.yml").write_text(sigma_yaml(key, sel))
    result = convert(src)
    assert not result.errors and not result.skipped
    return {c.source.stem: write_rule(out, c) for c in result.converted}


def test_every_rule_converts_to_a_valid_rule_file(converted):
    assert set(converted) == set(SIGMA)
    for key, path in converted.items():
        rule = parse_rule(path)
        assert rule.mitre == ["T1609"] and rule.severity == "medium" and rule.tactic == "sigma"
        assert rule.level == ("Request" if key in BODY_FIELDS else "Metadata"), key
    assert parse_rule(converted["subresource"]).operations == ["create-pods-exec"]
    assert parse_rule(converted["verb"]).operations == ["delete-deployments"]
    assert parse_rule(converted["username"]).operations == ["*"]


def test_converted_rules_hit_exactly_their_events(wh, converted):
    data = "".join(json.dumps(e) + "\n" for e in EVENTS).encode()
    assert load_bytes(wh, data, "sigma.jsonl").events == len(EVENTS)
    got = {key: hits(wh, path) for key, path in converted.items()}
    assert got == {key: want for key, (_, want) in SIGMA.items()}


def test_mapped_expressions_have_the_types_the_backend_assumes(wh):
    load_bytes(wh, (json.dumps(EVENTS[0]) + "\n").encode())
    exprs = {**{e: "String" for e in FIELDS.values()}, **{e: "Int64" for e in NUMBERS.values()},
             **{e: "Array(String)" for e in ARRAYS.values()}}
    types = wh.rows("SELECT " + ", ".join(f"toTypeName({e})" for e in exprs) + " FROM kubernetes_audit_logs LIMIT 1")[0]
    assert dict(zip(exprs, types)) == exprs


@pytest.mark.parametrize("selection, says", [
    ("foo.bar: x", ["field 'foo.bar'", "rule 'Test bad'", "not mapped"]),
    ("objectRef.apigroup: apps", ["field 'objectRef.apigroup'", "rule 'Test bad'"]),
    ("responseStatus.code: 'ALLOW'", ["responseStatus.code", "'ALLOW'", "not a whole number", "rule 'Test bad'"]),
    ("responseStatus.code: 4.5", ["responseStatus.code", "4.5", "not a whole number"]),
    ("responseStatus.code:\n            - 401\n            - forbidden", ["responseStatus.code", "'forbidden'"]),
    ("responseStatus.code|cidr: 10.0.0.0/8", ["responseStatus.code", "CIDR"]),
    ("verb|gt: 3", ["verb", "numeric column"]),
    ("userAgent|fieldref: verb", ["fieldref"]),
])
def test_what_cannot_convert_is_an_error_naming_it(tmp_path, selection, says):
    (tmp_path / "bad.yml").write_text(sigma_yaml("bad", selection))
    result = convert(tmp_path / "bad.yml")
    assert not result.converted and len(result.errors) == 1
    assert result.errors[0].startswith(f"{tmp_path / 'bad.yml'}: ")
    for text in says:
        assert text in result.errors[0], result.errors[0]


# --- the pinned SigmaHQ rules -----------------------------------------------------------------------------

def fixture_events(stem: str, kind: str) -> list[dict]:
    return [json.loads(line) for line in (PINNED / "fixtures" / f"{stem}.{kind}.jsonl").read_text().splitlines()]


def test_all_sigmahq_kubernetes_audit_rules_are_pinned_and_convert():
    assert len(PINNED_RULES) == 16
    assert "8eaafff1f2845a696050e05e72ba1140ee190698" in (PINNED / "README.md").read_text()
    assert "Detection Rule License (DRL) 1.1" in (PINNED / "LICENSE.Detection.Rules.md").read_text()
    result = convert(PINNED / "rules")
    assert not result.errors and not result.skipped
    assert len(result.converted) == 16
    assert len({c.id for c in result.converted}) == 16
    # the one published defect we correct, said aloud
    assert len(result.notes) == 1 and "'ALLOW' read as annotations.authorization.k8s.io/decision" in result.notes[0]
    for f in PINNED_RULES:
        tp, tn = fixture_events(f.stem, "tp"), fixture_events(f.stem, "tn")
        assert tp and tn, f"{f.name}: write tests/sigma/fixtures/{f.stem}.tp.jsonl and .tn.jsonl"
        assert len({e["auditID"] for e in tp + tn}) == len(tp + tn)


@pytest.mark.parametrize("sigma_file", PINNED_RULES, ids=lambda p: p.stem.removeprefix("kubernetes_audit_"))
def test_pinned_rule_finds_its_tp_events_and_no_tn_event(wh, tmp_path, sigma_file):
    result = convert(sigma_file)
    assert not result.errors and len(result.converted) == 1
    path = write_rule(tmp_path, result.converted[0])
    tp, tn = fixture_events(sigma_file.stem, "tp"), fixture_events(sigma_file.stem, "tn")
    data = "".join(json.dumps(e) + "\n" for e in tp + tn).encode()
    assert load_bytes(wh, data, f"{sigma_file.stem}.jsonl").events == len(tp) + len(tn)
    assert hits(wh, path) == {e["auditID"] for e in tp}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loader", "sigma", "convert", *args], capture_output=True, text=True,
                          timeout=300)


def test_cli_writes_a_pack_that_loads_and_runs(wh, tmp_path):
    pack = tmp_path / "pack"
    p = run_cli(str(PINNED / "rules"), "-o", str(pack))
    assert p.returncode == 0, p.stderr
    assert f"converted 16 Sigma rule(s) into {pack}" in p.stderr
    assert "note: " in p.stderr and "'ALLOW' read as" in p.stderr
    rules = load_rules(pack)  # every file parses: every required header key, id = file name
    assert len(rules) == 16
    assert {r.path.relative_to(pack).parts[0] for r in rules} <= {
        "initial-access", "execution", "persistence", "privilege-escalation", "defense-evasion", "credential-access",
        "discovery", "lateral-movement", "collection", "impact", "sigma"}
    by_id = {r.id: r for r in rules}
    exec_rule = by_id["sigma-potential-remote-command-execution-in-pod-container"]
    assert (exec_rule.tactic, exec_rule.mitre, exec_rule.operations, exec_rule.severity, exec_rule.level) == (
        "execution", ["T1609"], ["create-pods-exec"], "medium", "Metadata")
    assert exec_rule.references == ["https://microsoft.github.io/Threat-Matrix-for-Kubernetes/techniques/Exec%20into%20container/"]
    assert "a1b0ca4e-7835-413e-8471-3ff2b8a66be6" in exec_rule.description and "Leo Tsaousis" in exec_rule.description
    assert by_id["sigma-container-with-a-hostpath-mount-created"].level == "Request"
    assert by_id["sigma-kubernetes-unauthorized-or-unauthenticated-access"].operations == ["*"]

    # every rule runs on the warehouse holding all fixtures: it finds its own tp events, none of its tn
    sigma_ids = {yaml.safe_load(f.read_text())["id"]: f.stem for f in PINNED_RULES}
    tp = {stem: {e["auditID"] for e in fixture_events(stem, "tp")} for stem in sigma_ids.values()}
    tn = {stem: {e["auditID"] for e in fixture_events(stem, "tn")} for stem in sigma_ids.values()}
    events = [e for stem in sigma_ids.values() for kind in ("tp", "tn") for e in fixture_events(stem, kind)]
    assert load_bytes(wh, "".join(json.dumps(e) + "\n" for e in events).encode()).events == len(events)
    for rule in rules:
        stem = next(s for sid, s in sigma_ids.items() if sid in rule.description)
        found = {i for row in run_rule(wh, rule, START, END).rows for i in row["eventIDs"]}
        assert tp[stem] <= found and not tn[stem] & found, rule.id


def test_cli_skips_other_logsources_and_fails_when_nothing_converts(tmp_path):
    (tmp_path / "exec.yml").write_text(sigma_yaml("exec", SIGMA["subresource"][0], tags="- attack.execution\n    - attack.t1609"))
    (tmp_path / "other.yml").write_text(sigma_yaml("x", "verb: get", logsource="product: windows"))
    p = run_cli(str(tmp_path), "--out", str(tmp_path / "q"))
    assert p.returncode == 0, p.stderr
    assert f"skipped {tmp_path / 'other.yml'}: rule 'Test x': logsource product: windows, service: audit is not " \
           "product: kubernetes, service: audit" in p.stderr
    assert "converted 1 Sigma rule(s)" in p.stderr
    assert [str(f.relative_to(tmp_path / "q")) for f in (tmp_path / "q").rglob("*.sql")] == ["execution/sigma-test-exec.sql"]

    p = run_cli(str(tmp_path / "other.yml"), "-o", str(tmp_path / "none"))
    assert p.returncode == 1
    assert "skipped " in p.stderr and "error: sigma: " in p.stderr and "no Sigma rule with logsource" in p.stderr
    assert not (tmp_path / "none").exists()


def test_cli_conversion_errors_name_field_and_rule_and_write_nothing(tmp_path):
    (tmp_path / "exec.yml").write_text(sigma_yaml("exec", SIGMA["subresource"][0]))
    (tmp_path / "bad.yml").write_text(sigma_yaml("bad", "verb: create\n        spec.hostPID: 'true'"))
    p = run_cli(str(tmp_path), "-o", str(tmp_path / "q"))
    assert p.returncode == 1
    errors = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "field 'spec.hostPID' of rule 'Test bad'" in errors[0], p.stderr
    assert not (tmp_path / "q").exists()
