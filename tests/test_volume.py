"""`loader volume`: what the log holds, and a proposed audit Policy whose drops and lowered levels leave the
catalog's findings unchanged: on a generated day, the catalog finds the same before and after the policy is
applied to the events (dropped ones deleted, lowered ones stripped of their bodies)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from conftest import load_bytes
from typer.testing import CliRunner

from loader import generate
from loader.cli import app
from loader.detect import fingerprint
from loader.hunt import run_rule
from loader.investigate import sql
from loader.investigate.volume import LEVELS, PolicyRule, Proposal, policy_params, propose, rank, split
from loader.rulecheck import reset
from loader.rules import load_rules
from loader.warehouse import Warehouse

DAY = datetime(2024, 5, 1, tzinfo=timezone.utc)
START, END = DAY, DAY + timedelta(days=1)
EVENTS = 3000
RULES = load_rules()  # every rule, the disabled ones too: a hunter may run them


@pytest.fixture(scope="module")
def wh(_session_wh):
    reset(_session_wh)
    assert load_bytes(_session_wh, b"\n".join(generate.events(EVENTS, seed=16, day=DAY))).events == EVENTS
    return _session_wh


@pytest.fixture(scope="module")
def proposal(wh) -> Proposal:
    return propose(wh, RULES, START, END)


def findings(wh: Warehouse) -> set[tuple[str, str]]:
    """(rule, fingerprint) of every rule's findings over the day, as `loader detect` keys them."""
    return {(r.id, fingerprint(r.id, row["eventIDs"])) for r in RULES for row in run_rule(wh, r, START, END).rows}


def apply(wh: Warehouse, p: Proposal) -> None:
    """What the API server would have logged under the policy: dropped events deleted (level None, omitted stage),
    lowered ones stripped of the bodies their new level leaves out."""
    rows = wh.rows(f"SELECT id, target, level, omitted FROM ({sql('policy_match')})", policy_params(p))
    gone = [i for i, target, _, omitted in rows if omitted or target == "None"]
    wh.command("ALTER TABLE kubernetes_audit_logs DELETE WHERE id IN {ids:Array(String)} SETTINGS mutations_sync = 1",
               {"ids": gone})
    for target, bodies in (("Metadata", ["requestObject", "responseObject"]), ("Request", ["responseObject"])):
        ids = [i for i, t, level, omitted in rows if t == target and rank(level) > rank(target) and not omitted]
        wh.command("ALTER TABLE kubernetes_audit_logs UPDATE level = {level:String}, rawLog = concat('{', "
                   "arrayStringConcat(arrayMap(kv -> concat(toJSONString(kv.1), ':', kv.2), arrayFilter(kv -> "
                   "NOT has({bodies:Array(String)}, kv.1), JSONExtractKeysAndValuesRaw(rawLog))), ','), '}') "
                   "WHERE id IN {ids:Array(String)} SETTINGS mutations_sync = 1",
                   {"level": target, "bodies": bodies, "ids": ids})


def test_breakdowns_and_monthly_estimate(proposal):
    p = proposal
    assert p.events == EVENTS and p.bytes > 1_000_000
    assert {"user", "verb", "resource", "level", "stage"} <= p.by.keys()
    for rows in p.by.values():
        assert sum(r["events"] for r in rows) <= EVENTS and rows == sorted(rows, key=lambda r: -r["bytes"])
    assert p.by["resource"][0]["key"] == "leases.coordination.k8s.io"  # kubelets renewing leases: the noisiest
    assert sum(r["events"] for r in p.by["level"]) == EVENTS
    assert timedelta(hours=23) < p.span <= timedelta(days=1)
    assert p.monthly(p.bytes) == pytest.approx(p.bytes * 30 * 86400 / p.span.total_seconds())


def test_the_policy_drops_noisy_system_streams_and_keeps_what_rules_name(proposal):
    actions = {(s.principal, s.operation): s.action for s in proposal.streams}
    assert actions[("system:nodes", "update-leases")] == "drop"
    assert actions[("system:anonymous", "get-/healthz")] == "drop"
    assert actions[("system:kube-controller-manager", "list-endpointslices")] == "drop"
    # named by rules' headers: kept, at the level they ask for
    assert actions[("system:nodes", "patch-nodes-status")] == "keep"
    create_pods = next(s for s in proposal.streams if s.operation == "create-pods")
    assert (create_pods.action, create_pods.target) == ("keep", "Request") and "k8s-privileged-container" in create_pods.needs
    assert proposal.kept < proposal.bytes * 0.5  # most of a day's bytes are that noise


def test_no_rule_loses_an_operation_or_a_level_it_needs(wh, proposal):
    """Replayed over the day, every event of an operation a header names is logged at the level the header asks."""
    need: dict[str, str] = {}
    for r in RULES:
        for op in r.operations:
            if op != "*":
                need[op] = max(need.get(op, "Metadata"), r.level, key=rank)
    matched = wh.rows("SELECT eventName, target FROM kubernetes_audit_logs "
                      f"INNER JOIN ({sql('policy_match')}) AS m USING id WHERE eventName IN {{ops:Array(String)}}",
                      {**policy_params(proposal), "ops": list(need)})
    assert len(matched) > 100
    for op, target in matched:
        assert rank(target) >= rank(need[op]), (op, target)


def test_the_yaml_is_the_policy_and_says_why(proposal):
    text = proposal.yaml()
    doc = yaml.safe_load(text)
    assert doc == proposal.policy()
    assert (doc["apiVersion"], doc["kind"], doc["omitStages"]) == ("audit.k8s.io/v1", "Policy", ["RequestReceived"])
    allowed = {"level", "users", "userGroups", "verbs", "resources", "nonResourceURLs"}
    for rule in doc["rules"]:
        assert rule["level"] in LEVELS and set(rule) <= allowed
    assert doc["rules"][-1] == {"level": "Metadata"}  # whatever no rule above names: who did what stays
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("- level:"):
            assert lines[i - 1].startswith("#"), f"rule without its reason: {line}"
    assert "# drop: update leases.coordination.k8s.io by group system:nodes: no rule's operations name update-leases" in text
    assert "# keep at Metadata: patch nodes/status by group system:nodes: k8s-node-credential-non-kubelet-action needs" in text


def test_strict_drops_nothing(wh):
    p = propose(wh, RULES, START, END, strict=True)
    assert [r for r in p.rules if r.level == "None"] == []
    assert {s.action for s in p.streams} <= {"keep", "lower", "last rule"}


def test_policy_match_follows_the_api_servers_rules(wh):
    """users, userGroups, verbs, resources (a subresource only by its own name or */sub, res/*) and URL prefixes."""
    p = Proposal(START, END, strict=False, rules=[
        PolicyRule("None", "", verbs=["create"], resources=[("", "pods")]),
        PolicyRule("None", "", resources=[("", "*/exec")]),
        PolicyRule("None", "", users=["system:anonymous"], urls=["/heal*"]),
        PolicyRule("None", "", groups=["system:nodes"], resources=[("coordination.k8s.io", "")]),
        PolicyRule("Metadata", "")])
    rows = dict(wh.rows(f"SELECT eventName, groupUniqArray(rule) FROM kubernetes_audit_logs INNER JOIN "
                        f"({sql('policy_match')}) AS m USING id GROUP BY eventName", policy_params(p)))
    assert rows["create-pods"] == [1]
    assert rows["create-pods-exec"] == [2]
    assert rows["get-/healthz"] == [3] and rows["get-/readyz"] == [5]
    assert sorted(rows["update-leases"]) == [4, 5]  # the kubelets' and the scheduler's (not in system:nodes)


@pytest.mark.parametrize("op, want", [("create-pods-exec", ("create", "pods/exec", "")),
                                      ("get-/healthz", ("get", "", "/healthz")), ("list-secrets", ("list", "secrets", ""))])
def test_split(op, want):
    assert split(op) == want


def test_cli(wh):
    r = CliRunner().invoke(app, ["volume", "--since", "2024-05-01", "--until", "2024-05-02", "--format", "yaml",
                                 "--dsn", wh.dsn])
    assert r.exit_code == 0, r.output
    assert yaml.safe_load(r.stdout)["kind"] == "Policy"
    assert "/month today" in r.stderr
    out = json.loads(CliRunner().invoke(app, ["volume", "--since", "2024-05-01", "--until", "2024-05-02", "--format",
                                              "json", "--top", "5", "--dsn", wh.dsn]).stdout)
    assert len(out["streams"]) == 5 and out["policy"]["kind"] == "Policy"
    text = CliRunner().invoke(app, ["volume", "--since", "2024-05-01", "--until", "2024-05-02", "--dsn", wh.dsn],
                              env={"COLUMNS": "200"}).stdout
    assert "noisiest streams" in text and "apiVersion: audit.k8s.io/v1" in text
    bad = CliRunner().invoke(app, ["volume", "--format", "xml", "--dsn", wh.dsn])
    assert bad.exit_code == 2 and bad.stderr.strip() == "error: --format: text, yaml or json, not 'xml'"


def test_the_catalog_finds_the_same_before_and_after_the_policy(wh, proposal):
    """Last in the module: it rewrites the events."""
    before = findings(wh)
    assert len(before) > 20  # the generated day's attack story
    apply(wh, proposal)
    left = wh.rows("SELECT count(), sum(length(rawLog)) FROM kubernetes_audit_logs")[0]
    assert left[0] == sum(r.events for r in proposal.rules if r.level != "None") < EVENTS / 2
    assert left[1] == pytest.approx(proposal.kept, rel=0.01)  # the saving estimated is the saving made
    assert findings(wh) == before
