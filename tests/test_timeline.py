"""`loader timeline`: one actor's requests in order and in sessions (a gap over 30 minutes starts one), denied
requests marked, impersonation shown, exec commands decoded, and the findings of `loader detect` inline."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import load_bytes
from typer.testing import CliRunner

from loader.cli import app
from loader.detect import run_once
from loader.investigate.timeline import Subject, object_ref, timeline
from loader.rulecheck import reset
from loader.rules import load_rules

FIXTURE = Path(__file__).parent / "fixtures" / "investigate" / "session.jsonl"
START, END = datetime(2024, 5, 1, tzinfo=timezone.utc), datetime(2024, 5, 2, tzinfo=timezone.utc)
ALICE = "alice@example.com"


@pytest.fixture(scope="module")
def wh(_session_wh):
    """The fixture's events and what `loader detect` found in them (exec and privileged impersonation), loaded once
    for the module: its tests only read."""
    reset(_session_wh)
    assert load_bytes(_session_wh, FIXTURE.read_bytes()).events == 10
    rules = [r for r in load_rules() if r.id in ("k8s-pod-exec", "k8s-impersonation-privileged")]
    summary = run_once(_session_wh, rules, emit=lambda f: None, now=END, since=END - START)
    assert (summary.rules, summary.new) == (2, 2), summary
    return _session_wh


def requests(sessions) -> dict[str, dict]:
    return {r["eventID"]: r for s in sessions for r in s.requests}


def test_sessions_split_at_gaps_over_30_minutes(wh):
    sessions = timeline(wh, Subject(actor=ALICE), START, END)
    assert [[r["eventID"] for r in s.requests] for s in sessions] == [
        ["tl-01", "tl-02", "tl-03", "tl-04", "tl-05"],  # bob's tl-08 at 10:11 is not alice's
        ["tl-06", "tl-07"],                              # 33 minutes after tl-05; tl-07 exactly 30 after tl-06
    ]
    assert [s.summary()["start"] for s in sessions] == ["2024-05-01T10:00:00Z", "2024-05-01T10:45:00Z"]
    assert timeline(wh, Subject(actor=ALICE), START, END, gap_minutes=29)[-1].requests[0]["eventID"] == "tl-07"
    assert len(timeline(wh, Subject(actor=ALICE), START, END, gap_minutes=40)) == 1


def test_each_request_once_denied_marked_impersonation_shown(wh):
    rows = requests(timeline(wh, Subject(actor=ALICE), START, END))
    assert rows["tl-01"]["stage"] == "ResponseComplete"  # its RequestReceived stage collapsed into it
    assert [i for i, r in rows.items() if r["denied"]] == ["tl-02"]
    assert rows["tl-02"]["code"] == 403 and "cannot get resource" in rows["tl-02"]["deniedReason"]
    imp = rows["tl-03"]
    assert (imp["authenticatedUser"], imp["impersonatedUser"], imp["user"]) == (ALICE, "system:admin", "system:admin")
    assert rows["tl-01"]["impersonatedUser"] == ""


def test_exec_and_port_forward_decoded(wh):
    rows = requests(timeline(wh, Subject(actor=ALICE), START, END))
    exec_ = rows["tl-04"]
    assert (exec_["subresource"], exec_["namespace"], exec_["name"], exec_["container"]) == ("exec", "shop", "web-0", "app")
    assert exec_["command"] == ["cat", "/etc/passwd"]
    assert (rows["tl-05"]["subresource"], rows["tl-05"]["ports"]) == ("portforward", "8080")
    assert rows["tl-01"]["command"] == []


def test_findings_inline(wh):
    rows = requests(timeline(wh, Subject(actor=ALICE), START, END))
    found = {i: [f["rule"] for f in r["findings"]] for i, r in rows.items() if r["findings"]}
    assert found == {"tl-03": ["k8s-impersonation-privileged"], "tl-04": ["k8s-pod-exec"]}
    assert rows["tl-04"]["findings"][0] == {"rule": "k8s-pod-exec", "severity": "medium", "suppressedBy": ""}


def test_by_address_namespace_and_object(wh):
    by_ip = requests(timeline(wh, Subject(ip="192.168.10.22"), START, END))
    assert list(by_ip) == ["tl-08"]
    by_ns = requests(timeline(wh, Subject(namespace="shop"), START, END))
    assert set(by_ns) == {"tl-01", "tl-02", "tl-04", "tl-05", "tl-06", "tl-07", "tl-08"}  # tl-03 is in kube-system
    pod = [r["eventID"] for s in timeline(wh, Subject(object="Pod/shop/web-0"), START, END) for r in s.requests]
    assert pod == ["tl-04", "tl-08", "tl-05"]  # its exec and port-forward too, in time order
    deployment = requests(timeline(wh, Subject(object="deployments.apps/shop/web"), START, END))
    assert list(deployment) == ["tl-07"]
    assert timeline(wh, Subject(actor=ALICE), END, END + timedelta(days=1)) == []


@pytest.mark.parametrize("text, resource, namespace, name", [
    ("pods/shop/web-0", "pods", "shop", "web-0"),
    ("Pod/shop/web-0", "pods", "shop", "web-0"),
    ("Ingress/shop/web", "ingresses", "shop", "web"),
    ("networkpolicy/shop/deny", "networkpolicies", "shop", "deny"),
    ("deployments.apps/shop/web", "deployments", "shop", "web"),
    ("node/ip-10-0-1-7", "nodes", "", "ip-10-0-1-7"),
])
def test_object_ref(text, resource, namespace, name):
    resources, ns, n = object_ref(text)
    assert resource in resources and (ns, n) == (namespace, name)


@pytest.mark.parametrize("bad", ["web-0", "pods/shop/web-0/extra", "/shop/web-0", "pods/shop/"])
def test_object_ref_refuses(bad):
    with pytest.raises(ValueError, match="KIND/NAMESPACE/NAME"):
        object_ref(bad)


def cli(wh, *args: str):
    return CliRunner().invoke(app, ["timeline", *args, "--since", "2024-05-01", "--until", "2024-05-02", "--dsn", wh.dsn])


def test_cli_formats(wh):
    r = cli(wh, "--actor", ALICE, "--format", "json")
    assert r.exit_code == 0, r.output
    sessions = json.loads(r.stdout)
    assert [(s["session"], s["requests"], s["denied"], s["findings"]) for s in sessions] == [
        (1, 5, 1, ["k8s-impersonation-privileged", "k8s-pod-exec"]), (2, 2, 0, [])]
    assert "7 request(s) in 2 session(s), 1 denied" in r.stderr

    rows = list(csv.DictReader(io.StringIO(cli(wh, "--actor", ALICE, "--format", "csv").stdout)))
    assert [(row["session"], row["eventID"]) for row in rows][:2] == [("1", "tl-01"), ("1", "tl-02")]
    exec_ = next(row for row in rows if row["eventID"] == "tl-04")
    assert (exec_["command"], exec_["findings"]) == ("cat /etc/passwd", "k8s-pod-exec (medium)")

    table = CliRunner().invoke(app, ["timeline", "--actor", ALICE, "--since", "2024-05-01", "--until", "2024-05-02",
                                     "--dsn", wh.dsn], env={"COLUMNS": "250"}).stdout
    assert "session 1: 2024-05-01T10:00:00Z .. 2024-05-01T10:12:00Z, 5 request(s), 1 denied" in table
    assert "exec [app] cat /etc/passwd" in table and "DENIED 403" in table
    assert f"{ALICE} as system:admin" in table and "k8s-pod-exec (medium)" in table


@pytest.mark.parametrize("args, message", [
    ((), "give exactly one of --actor, --ip, --namespace, --object"),
    (("--actor", ALICE, "--ip", "10.0.0.1"), "(got --actor, --ip)"),
    (("--object", "web-0"), "--object: want KIND/NAMESPACE/NAME"),
    (("--actor", ALICE, "--format", "yaml"), "--format: table, json or csv"),
])
def test_cli_usage_errors(wh, args, message):
    r = cli(wh, *args)
    assert r.exit_code == 2 and message in r.stderr and "Traceback" not in r.output
    assert len(r.stderr.strip().splitlines()) == 1


def test_cli_window_errors(wh):
    r = CliRunner().invoke(app, ["timeline", "--actor", ALICE, "--since", "yesterday", "--dsn", wh.dsn])
    assert r.exit_code == 2 and "--since: not an ISO 8601 time" in r.stderr
    r = CliRunner().invoke(app, ["timeline", "--actor", ALICE, "--since", "2024-05-02", "--until", "2024-05-01",
                                 "--dsn", wh.dsn])
    assert r.exit_code == 2 and "the window must start before it ends" in r.stderr
