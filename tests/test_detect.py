"""loader detect: checkpoints per rule, findings deduplicated per rule and matched events, webhook
delivery with retry, and failed deliveries kept (delivered = 0) until a later run gets them through."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import load_bytes
from loader.detect import checkpoints, reset_checkpoints, run_once, suppress, suppressions, unsuppress
from loader.rules import load_rules
from loader.warehouse import QueryError

NOW = datetime(2024, 6, 3, 12, 0, tzinfo=timezone.utc)


def exec_event(n: int, at: datetime) -> bytes:
    ts = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return (json.dumps({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"exec-{n}",
                        "stage": "ResponseComplete", "requestURI": f"/api/v1/namespaces/prod/pods/web-{n}/exec?command=sh",
                        "verb": "create", "user": {"username": "mallory@example.com", "groups": ["system:authenticated"]},
                        "sourceIPs": ["203.0.113.5"], "userAgent": "kubectl/v1.29.0",
                        "objectRef": {"resource": "pods", "namespace": "prod", "name": f"web-{n}", "subresource": "exec"},
                        "responseStatus": {"code": 101}, "requestReceivedTimestamp": ts, "stageTimestamp": ts}) + "\n").encode()


def secret_read(n: int, at: datetime) -> bytes:
    ts = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return (json.dumps({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"get-{n}",
                        "stage": "ResponseComplete", "requestURI": f"/api/v1/namespaces/ns{n}/secrets/s{n}",
                        "verb": "get", "user": {"username": "system:serviceaccount:web:default"},
                        "sourceIPs": ["203.0.113.7"], "userAgent": "python-requests/2.31",
                        "objectRef": {"resource": "secrets", "namespace": f"ns{n}", "name": f"s{n}", "apiVersion": "v1"},
                        "responseStatus": {"code": 200}, "requestReceivedTimestamp": ts, "stageTimestamp": ts}) + "\n").encode()


@pytest.fixture
def exec_rule():
    return [r for r in load_rules() if r.id == "k8s-pod-exec"]


class Receiver:
    """A local webhook that answers 503 to the first `fail` POSTs, then 200."""

    def __init__(self, fail: int = 0):
        self.fail, self.received, self.attempts = fail, [], 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.attempts += 1
                if outer.attempts <= outer.fail:
                    self.send_response(503)
                else:
                    outer.received.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_checkpoint_overlap_and_dedup(wh, exec_rule):
    load_bytes(wh, exec_event(1, NOW - timedelta(minutes=30)))
    emitted = []
    s = run_once(wh, exec_rule, emit=emitted.append, now=NOW)
    assert (s.findings, s.new) == (1, 1)
    assert emitted[0]["rule"] == "k8s-pod-exec" and emitted[0]["eventIDs"] == ["exec-1"]
    assert emitted[0]["severity"] == "medium"
    assert checkpoints(wh)["k8s-pod-exec"] == NOW

    # a late event (eventTime before the checkpoint, inside the overlap) is found; the old one is not repeated
    load_bytes(wh, exec_event(2, NOW - timedelta(minutes=2)))
    s = run_once(wh, exec_rule, emit=emitted.append, now=NOW + timedelta(minutes=5))
    assert (s.findings, s.new) == (1, 1)
    assert [e["eventIDs"] for e in emitted] == [["exec-1"], ["exec-2"]]

    # same window again: everything is known
    s = run_once(wh, exec_rule, emit=emitted.append, now=NOW + timedelta(minutes=5))
    assert s.new == 0 and len(emitted) == 2
    rows = wh.rows("SELECT rule, eventIDs, delivered FROM detections FINAL ORDER BY eventTime")
    assert rows == [("k8s-pod-exec", ["exec-1"], True), ("k8s-pod-exec", ["exec-2"], True)]


def test_webhook_retries_with_backoff(wh, exec_rule):
    hook = Receiver(fail=2)
    try:
        load_bytes(wh, exec_event(3, NOW - timedelta(minutes=10)))
        s = run_once(wh, exec_rule, emit=lambda f: None, webhook=hook.url, now=NOW, tries=3, backoff=0.01)
        assert (s.delivered, s.failed) == (1, 0)
        assert hook.attempts == 3 and hook.received[0]["eventIDs"] == ["exec-3"]
    finally:
        hook.close()


def test_failed_delivery_is_retried_next_run(wh, exec_rule):
    hook = Receiver(fail=100)
    load_bytes(wh, exec_event(4, NOW - timedelta(minutes=10)))
    s = run_once(wh, exec_rule, emit=lambda f: None, webhook=hook.url, now=NOW, tries=2, backoff=0.01)
    assert (s.new, s.delivered, s.failed) == (1, 0, 1)
    assert wh.rows("SELECT delivered, attempts FROM detections FINAL") == [(False, 1)]

    hook.fail = 0  # the receiver recovers
    s = run_once(wh, exec_rule, emit=lambda f: None, webhook=hook.url, now=NOW + timedelta(minutes=5), backoff=0.01)
    hook.close()
    assert (s.new, s.delivered, s.failed) == (0, 1, 0)
    assert [f["eventIDs"] for f in hook.received] == [["exec-4"]]
    assert wh.rows("SELECT delivered, attempts FROM detections FINAL") == [(True, 2)]


def test_since_looks_back_past_the_checkpoint(wh, exec_rule):
    load_bytes(wh, exec_event(7, NOW - timedelta(days=3)))
    assert run_once(wh, exec_rule, emit=lambda f: None, now=NOW).findings == 0  # default window: 1h
    s = run_once(wh, exec_rule, emit=lambda f: None, now=NOW, since=timedelta(days=7))  # checkpoint or not
    assert (s.findings, s.new) == (1, 1)
    s = run_once(wh, exec_rule, emit=lambda f: None, now=NOW + timedelta(hours=1), since=timedelta(days=7))
    assert (s.findings, s.new) == (1, 0)  # found again, alerted once
    assert run_once(wh, exec_rule, emit=lambda f: None, now=NOW + timedelta(hours=1)).findings == 0


def test_overlap_0_starts_at_the_checkpoint(wh, exec_rule):
    assert run_once(wh, exec_rule, emit=lambda f: None, now=NOW).findings == 0
    load_bytes(wh, exec_event(8, NOW - timedelta(minutes=2)))  # late: before the checkpoint
    assert run_once(wh, exec_rule, emit=lambda f: None, now=NOW + timedelta(minutes=5), overlap=timedelta(0)).findings == 0


def test_reset_checkpoints(wh, exec_rule):
    run_once(wh, exec_rule, emit=lambda f: None, now=NOW)
    run_once(wh, [r for r in load_rules() if r.id == "k8s-exec-shell"], emit=lambda f: None, now=NOW)
    assert reset_checkpoints(wh, ["k8s-pod-exec", "k8s-nope"]) == ["k8s-pod-exec"]
    assert list(checkpoints(wh)) == ["k8s-exec-shell"]
    assert reset_checkpoints(wh) == ["k8s-exec-shell"] and checkpoints(wh) == {}
    load_bytes(wh, exec_event(9, NOW - timedelta(minutes=30)))  # within the rule's window, before the checkpoint
    assert run_once(wh, exec_rule, emit=lambda f: None, now=NOW + timedelta(minutes=1)).findings == 1
    assert checkpoints(wh)["k8s-pod-exec"] == NOW + timedelta(minutes=1)


def test_a_burst_that_grows_across_runs_alerts_once(wh):
    """An aggregate re-matched by the overlapping window with more events is the same incident."""
    rule = [r for r in load_rules() if r.id == "k8s-secret-enumeration"]  # >= 10 distinct secrets in 10 min
    bucket = NOW - timedelta(minutes=9)
    load_bytes(wh, b"".join(secret_read(n, bucket + timedelta(seconds=10 * n)) for n in range(10)))
    emitted = []
    s = run_once(wh, rule, emit=emitted.append, now=NOW - timedelta(minutes=7))
    assert (s.findings, s.new, s.updates) == (1, 1, 0) and len(emitted[0]["eventIDs"]) == 10

    load_bytes(wh, b"".join(secret_read(n, bucket + timedelta(seconds=10 * n)) for n in range(10, 14)))
    s = run_once(wh, rule, emit=emitted.append, now=NOW)
    assert (s.findings, s.new, s.updates) == (1, 0, 1) and len(emitted) == 1
    assert wh.rows("SELECT length(eventIDs) FROM detections FINAL") == [(10,)]

    # a later burst shares no event with the first: a new finding
    later = NOW + timedelta(minutes=30)
    load_bytes(wh, b"".join(secret_read(n, later + timedelta(seconds=n)) for n in range(20, 30)))
    s = run_once(wh, rule, emit=emitted.append, now=later + timedelta(minutes=5))
    assert (s.new, s.updates) == (1, 0)
    assert sorted(emitted[1]["eventIDs"]) == [f"get-{n}" for n in range(20, 30)]


def exec_by(n: int, at: datetime, user: str) -> bytes:
    return exec_event(n, at).replace(b"mallory@example.com", user.encode())


def test_suppressed_findings_are_recorded_not_alerted(wh, exec_rule):
    [rule] = exec_rule
    s = suppress(wh, rule, "user = 'ci-bot@example.com'", NOW + timedelta(days=1), "CI smoke tests", "alice")
    assert [x.id for x in suppressions(wh, at=NOW)] == [s.id] and suppressions(wh) == []  # expired by the clock
    load_bytes(wh, exec_by(1, NOW - timedelta(minutes=9), "ci-bot@example.com") + exec_event(2, NOW - timedelta(minutes=8)))
    hook, emitted = Receiver(), []
    try:
        summary = run_once(wh, exec_rule, emit=emitted.append, webhook=hook.url, now=NOW)
    finally:
        hook.close()
    assert (summary.findings, summary.new, summary.suppressed) == (2, 1, 1)
    assert [e["eventIDs"] for e in emitted] == [["exec-2"]]
    assert [f["eventIDs"] for f in hook.received] == [["exec-2"]]  # the suppressed one is not delivered
    assert wh.rows("SELECT eventIDs, suppressedBy, delivered FROM detections FINAL ORDER BY eventIDs") == [
        (["exec-1"], s.id, False), (["exec-2"], "", True)]

    # removed: the next finding of that user is alerted; the suppressed one is not alerted after the fact
    assert unsuppress(wh, s.id) is not None and suppressions(wh, at=NOW) == []
    assert [x.removed for x in suppressions(wh, everything=True)] == [True]
    load_bytes(wh, exec_by(3, NOW + timedelta(minutes=1), "ci-bot@example.com"))
    summary = run_once(wh, exec_rule, emit=emitted.append, now=NOW + timedelta(minutes=5))
    assert summary.new == 1 and emitted[-1]["eventIDs"] == ["exec-3"]


def test_an_expired_suppression_no_longer_applies(wh, exec_rule):
    [rule] = exec_rule
    suppress(wh, rule, "1", NOW - timedelta(minutes=1), "everything, until a minute before the pass", "alice")
    load_bytes(wh, exec_event(4, NOW - timedelta(minutes=5)))
    emitted = []
    assert run_once(wh, exec_rule, emit=emitted.append, now=NOW).suppressed == 0 and len(emitted) == 1


def test_a_suppression_naming_no_column_of_the_rule_is_refused(wh, exec_rule):
    with pytest.raises(QueryError, match="usr"):
        suppress(wh, exec_rule[0], "usr = 'x'", NOW + timedelta(days=1), "typo", "alice")
    assert suppressions(wh, everything=True) == []


def test_threshold_and_dedup_window_from_the_rule_header(wh, exec_rule):
    # threshold 2 on an event rule (one event per finding): nothing is alerted, nothing recorded
    load_bytes(wh, exec_event(5, NOW - timedelta(minutes=5)))
    emitted = []
    s = run_once(wh, [replace(exec_rule[0], threshold=2)], emit=emitted.append, now=NOW)
    assert (s.findings, s.new, s.below_threshold, emitted) == (1, 0, 1, [])
    assert wh.rows("SELECT count() FROM detections") == [(0,)]

    # dedup 1h: a second exec by the same user within the hour is recorded, not alerted; another user's is
    rule = replace(exec_rule[0], dedup="1h")
    s = run_once(wh, [rule], emit=emitted.append, now=NOW)
    assert s.new == 1 and [e["eventIDs"] for e in emitted] == [["exec-5"]]
    load_bytes(wh, exec_event(6, NOW + timedelta(minutes=10)) + exec_by(7, NOW + timedelta(minutes=11), "bob@example.com"))
    s = run_once(wh, [rule], emit=emitted.append, now=NOW + timedelta(minutes=20))
    assert [e["eventIDs"] for e in emitted] == [["exec-5"], ["exec-7"]]
    assert s.suppressed == 1
    assert wh.rows("SELECT suppressedBy FROM detections FINAL WHERE has(eventIDs, 'exec-6')") == [("dedup 1h",)]
