"""`loader hunt`, `loader detect` and `loader sigma convert` as a user runs them (subprocesses): a bad value is
one `error:` line and exit code 2, a failure exit code 1, never a traceback; detect's --since, --reset,
--overlap and --once do what --help says."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

EXEC = "k8s-pod-exec"  # a 1h window: events days old are outside it


def run(*args: str, dsn: str | None = None, env: dict[str, str] | None = None,
        stdin: str | None = None) -> subprocess.CompletedProcess:
    extra = ["--dsn", dsn] if dsn else []
    return subprocess.run([sys.executable, "-m", "loader", *args, *extra], input=stdin, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def one_line_error(p: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    return lines[0]


def summary(p: subprocess.CompletedProcess) -> tuple[int, int]:
    """(findings, new) from detect's summary line."""
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    m = re.search(r"^detect: \d+ rule\(s\), (\d+) finding\(s\), (\d+) new", p.stderr, re.M)
    assert m, p.stderr
    return int(m.group(1)), int(m.group(2))


@pytest.fixture(scope="module")
def old_day(tmp_path_factory) -> str:
    """A warehouse holding a generated day of events three days ago (its attack story execs into pods)."""
    d = tmp_path_factory.mktemp("hunt")
    day = (datetime.now(timezone.utc) - timedelta(days=3)).strftime("%Y-%m-%d")
    assert run("generate", "-n", "300", "--seed", "1", "--day", day, "-o", str(d / "day.jsonl")).returncode == 0
    dsn = f"chdb://{d / 'wh'}"
    p = run("load", str(d / "day.jsonl"), dsn=dsn)
    assert p.returncode == 0, p.stderr
    return dsn


def exec_event(n: int, at: datetime) -> str:
    ts = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"exec-{n}",
                       "stage": "ResponseComplete", "requestURI": f"/api/v1/namespaces/prod/pods/web-{n}/exec?command=sh",
                       "verb": "create", "user": {"username": "mallory@example.com"}, "sourceIPs": ["203.0.113.5"],
                       "objectRef": {"resource": "pods", "namespace": "prod", "name": f"web-{n}", "subresource": "exec"},
                       "responseStatus": {"code": 101}, "requestReceivedTimestamp": ts, "stageTimestamp": ts}) + "\n"


ARRAY = "k8s-dns-configmap-changed"  # -- param names: Array(String)


@pytest.mark.parametrize("args, code, says", [
    (["hunt", "run", ARRAY, "-p", "names=[a,b]"], 2,
     f"--param names: '[a,b]' is not a valid Array(String) for rule {ARRAY}; write a literal such as ['a', 'b'], "
     "quotes included"),
    (["hunt", "run", "k8s-secret-enumeration", "-p", "threshold=ten"], 2,
     "--param threshold: 'ten' is not a valid UInt32 for rule k8s-secret-enumeration"),
    (["hunt", "run", "k8s-secret-enumeration", "-p", "treshold=5"], 2,
     "--param treshold: none of the rules takes it (their parameters: loader hunt show RULE)"),
    (["hunt", "run", "--all", "-p", "agents=curl"], 2,  # a String in one rule, an Array(String) in another
     "--param agents: 'curl' is not a valid Array(String) for rule k8s-offensive-tool-user-agent; "
     "write a literal such as ['a', 'b'], quotes included"),
    (["detect", "-p", "names=['a'"], 2,
     f"--param names: \"['a'\" is not a valid Array(String) for rule {ARRAY}; write a literal such as ['a', 'b'], "
     "quotes included"),
    (["hunt", "run", "k8s-nope"], 2, "unknown rule id(s): k8s-nope (see loader hunt list)"),
    (["hunt", "show", "k8s-nope"], 2, "unknown rule id 'k8s-nope' (see `loader hunt list`)"),
    (["hunt", "run", EXEC, "--since", "3x"], 2, "--since: not a duration (<n>s|m|h|d|w): '3x'"),
    (["hunt", "run", EXEC, "--since", "99999999d"], 2, "--since: too long: '99999999d'"),
    (["hunt", "run", EXEC, "--start", "yesterday"], 2,
     "--start: not an ISO 8601 time such as 2024-05-01 or 2024-05-01T10:00:00Z: 'yesterday'"),
    (["hunt", "run", EXEC, "--start", "2024-05-02", "--end", "2024-05-01"], 2,
     "--start: 2024-05-02T00:00:00Z is not before the end of the window, 2024-05-01T00:00:00Z"),
    (["hunt", "run", EXEC, "--format", "yaml"], 2, "--format: table, json, jsonl or csv, not 'yaml'"),
    (["hunt", "list", "--format", "jsonl"], 2, "--format: table or json, not 'jsonl'"),
    (["detect", "--rule", "k8s-nope"], 2, "unknown rule id(s): k8s-nope (see loader hunt list)"),
    (["detect", "--reset", "k8s-nope"], 2, "unknown rule id(s): k8s-nope (see loader hunt list)"),
    (["detect", "--since", "a week"], 2, "--since: not a duration (<n>s|m|h|d|w): 'a week'"),
    (["detect", "--overlap", "5"], 2, "--overlap: not a duration (<n>s|m|h|d|w): '5'"),
    (["detect", "--every", "0s"], 2, "--every: at least 1s, not 0s"),  # it would spin
    (["detect", "--once", "--every", "5m"], 2, "--once and --every exclusive"),
    (["detect", "--retries", "0"], 2, "--retries: at least 1, not 0"),  # no attempt would count as delivered
    (["detect", "--min-severity", "severe"], 2,
     "severity 'severe' not one of informational, low, medium, high, critical"),
])
def test_bad_values_are_one_line(old_day, args, code, says):
    p = run(*args, env={"LOADER_DSN": old_day})
    assert p.returncode == code
    assert one_line_error(p) == f"error: {says}"


def test_an_array_parameter_is_a_clickhouse_literal(old_day):
    p = run("hunt", "run", ARRAY, "--since", "7d", "-p", "names=['coredns']", "--format", "json", dsn=old_day)
    assert p.returncode == 0 and "ran 1 rule(s)" in p.stderr, p.stderr
    assert isinstance(json.loads(p.stdout), list)


SIGMA = """title: Exec into a pod
logsource:
    product: kubernetes
    service: audit
detection:
    selection:
        objectRef.subresource: exec
    condition: selection
level: medium
"""


@pytest.mark.parametrize("name, text, code, says", [
    ("missing.yml", None, 2, "{path}: no such file or directory"),
    ("broken.yml", "title: x\n  bad: [\n", 1, "sigma: {path}: mapping values are not allowed here"),
    ("latin1.yml", b"title: caf\xe9\n", 1, "sigma: {path}: 'utf-8' codec can't decode byte 0xe9"),
    ("list.yml", "- a\n- b\n", 1, "sigma: {path}: not a Sigma rule (a YAML mapping with title, logsource and detection)"),
    ("condition.yml", SIGMA.replace("condition: selection", "condition: selection and"), 1,
     "sigma: {path}: Expected"),
])
def test_sigma_files_it_cannot_convert_are_one_line(tmp_path, name, text, code, says):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    p = run("sigma", "convert", str(path))
    assert p.returncode == code
    assert one_line_error(p).startswith(f"error: {says.format(path=path)}")


def test_sigma_out_must_be_a_folder(tmp_path):
    (tmp_path / "exec.yml").write_text(SIGMA)
    (tmp_path / "taken").write_text("")
    p = run("sigma", "convert", str(tmp_path / "exec.yml"), "--out", str(tmp_path / "taken"))
    assert p.returncode == 2
    assert one_line_error(p) == f"error: --out {tmp_path / 'taken'}: not a folder"


def test_hunt_list_fits_80_columns():
    catalog = json.loads(run("hunt", "list", "--format", "json").stdout)
    p = run("hunt", "list", env={"COLUMNS": "80"})
    assert p.returncode == 0 and p.stderr == f"{len(catalog)} rules\n"
    header, *lines = p.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert header.split() == ["id", "severity", "title"]
    col, rows = header.index("title"), []
    for line in lines:  # a rule's first line holds its id and severity whole; the title wraps by words
        if line[:col].strip():
            rows.append([*line[:col].split(), line[col:].strip()])
        else:
            rows[-1][-1] += " " + line[col:].strip()
    assert rows == [[r["id"], r["severity"], r["title"]] for r in catalog]

    wide = run("hunt", "list", env={"COLUMNS": "200"}).stdout.splitlines()
    assert wide[0].split() == ["id", "severity", "tactic", "mitre", "mode", "level", "title"]


def test_detect_since_reads_before_the_checkpoint(old_day):
    """The day is three days old: outside the rule's 1h window, inside --since 7d, checkpoint or not."""
    assert summary(run("detect", "--rule", EXEC, dsn=old_day)) == (0, 0)  # sets the checkpoint
    p = run("detect", "--rule", EXEC, "--since", "7d", dsn=old_day)
    found, new = summary(p)
    assert found == new > 0 and len(p.stdout.splitlines()) == new
    assert {json.loads(line)["rule"] for line in p.stdout.splitlines()} == {EXEC}
    assert summary(run("detect", "--rule", EXEC, "--since", "7d", dsn=old_day)) == (found, 0)  # alerted once
    assert summary(run("detect", "--rule", EXEC, dsn=old_day)) == (0, 0)  # back to the checkpoint


def test_detect_overlap_0s_and_reset(tmp_path):
    dsn = f"chdb://{tmp_path / 'wh'}"
    assert run("load", "-", dsn=dsn, stdin=exec_event(1, datetime.now(timezone.utc) - timedelta(minutes=30))).returncode == 0
    assert summary(run("detect", "--rule", EXEC, dsn=dsn)) == (1, 1)
    # arrives late: its time is before the checkpoint just written (the run took far less than 4 minutes)
    late = exec_event(2, datetime.now(timezone.utc) - timedelta(minutes=4))
    assert run("load", "-", dsn=dsn, stdin=late).returncode == 0
    assert summary(run("detect", "--rule", EXEC, "--overlap", "0s", dsn=dsn)) == (0, 0)  # not 5 minutes

    p = run("detect", "--rule", EXEC, "--reset", EXEC, "--reset", "k8s-exec-shell", dsn=dsn)
    assert p.stderr.startswith(f"reset 1 checkpoint(s): {EXEC}\n")  # k8s-exec-shell had none
    assert summary(p) == (2, 1)  # the rule's 1h window again: the late event is new, the other not alerted twice
    p = run("detect", "--rule", EXEC, "--reset-all", dsn=dsn)
    assert p.stderr.startswith("reset 1 checkpoint(s)\n") and summary(p) == (2, 0)


def test_detect_once_wins_over_the_interval_of_the_environment(tmp_path):
    p = run("detect", "--once", "--rule", EXEC, dsn=f"chdb://{tmp_path / 'wh'}", env={"LOADER_DETECT_EVERY": "1s"})
    assert summary(p) == (0, 0) and p.stderr.count("detect:") == 1


def test_detect_suppress_list_and_remove(tmp_path):
    dsn = f"chdb://{tmp_path / 'wh'}"
    typo = run("detect", "suppress", EXEC, "--where", "usr = 'ci'", "--reason", "CI", dsn=dsn)
    assert typo.returncode == 2 and "--where" in one_line_error(typo) and "usr" in typo.stderr
    assert run("detect", "suppress", "k8s-nope", "--where", "1", "--reason", "x", dsn=dsn).returncode == 2
    past = run("detect", "suppress", EXEC, "--where", "1", "--reason", "x", "--until", "2001-01-01", dsn=dsn)
    assert past.returncode == 2 and "in the past" in one_line_error(past)
    made = run("detect", "suppress", EXEC, "--where", "user = 'ci-bot'", "--reason", "CI smoke tests", "--until", "7d",
               dsn=dsn)
    assert made.returncode == 0, made.stderr
    sid = made.stdout.strip()
    listed = run("detect", "suppressions", "--format", "json", dsn=dsn)
    assert [(s["id"], s["rule"], s["condition"], s["reason"]) for s in json.loads(listed.stdout)] == [
        (sid, EXEC, "user = 'ci-bot'", "CI smoke tests")]
    assert run("detect", "unsuppress", sid, dsn=dsn).returncode == 0
    again = run("detect", "unsuppress", sid, dsn=dsn)
    assert again.returncode == 2 and sid in one_line_error(again)
    assert json.loads(run("detect", "suppressions", "--format", "json", dsn=dsn).stdout) == []
    assert summary(run("detect", "--once", "--rule", EXEC, dsn=dsn)) == (0, 0)  # detect itself still runs


def test_hunt_coverage_maps_every_enabled_rule_to_its_tactic_and_techniques():
    from loader.rules import load_rules

    out = run("hunt", "coverage", "--format", "json")
    assert out.returncode == 0, out.stderr
    cover = json.loads(out.stdout)
    for rule in (r for r in load_rules() if r.enabled):
        for technique in rule.mitre:
            assert rule.id in cover[rule.tactic][technique], (rule.id, technique)
    assert list(cover)[0] == "initial-access"  # ATT&CK's order, not the alphabet
    table = run("hunt", "coverage")
    assert table.returncode == 0 and "T1609" in table.stdout and "techniques in" in table.stderr


def test_a_disable_typo_is_refused_not_ignored():
    out = run("detect", "--disable", "k8s-pod-exce")
    assert out.returncode == 2 and "k8s-pod-exce" in one_line_error(out)
