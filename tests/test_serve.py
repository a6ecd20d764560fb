"""`loader serve`: one process holds the embedded warehouse; other loader commands, HTTP clients, loading and
detection use it at the same time; SIGTERM drains, SIGKILL loses and duplicates nothing.

serve runs in a subprocess with a folder of its own (chDB opens one engine path per process), and is reached
the way users reach it: the loader CLI on the folder, and HTTP.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest
from aws import aws, clients, moto_endpoint, queue_depth, uploaded_bucket  # noqa: F401

from loader.warehouse import SERVE_FILE


def loader(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loader", *args], capture_output=True, text=True, timeout=180, **kw)


def until(predicate, timeout: float = 90, what: str = "condition"):
    """Poll predicate until it returns something true; its value. Fails with what after timeout (a bound for a
    stuck run, not a measure: a passing run returns as soon as the condition holds)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class Served:
    """A `loader serve` subprocess on folder; url once it answers."""

    def __init__(self, folder: Path, *args: str):
        self.folder = folder
        self.proc = subprocess.Popen([sys.executable, "-m", "loader", "serve", "--dsn", f"chdb://{folder}",
                                      "--listen", "127.0.0.1:0", "--ttl-days", "0", "--log-format", "json", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.url = until(self._answering, what="serve to answer /ping")

    def _answering(self) -> str | None:
        assert self.proc.poll() is None, self.proc.stderr.read().decode()[-2000:]
        try:
            record = json.loads((self.folder / SERVE_FILE).read_text())
            if record["pid"] == self.proc.pid and urllib.request.urlopen(record["url"] + "/ping", timeout=5).read() == b"Ok.\n":
                return record["url"]
        except (OSError, ValueError, KeyError):
            pass
        return None

    def query(self, sql: str, **params: str) -> str:
        q = urllib.parse.urlencode({"query": sql, **params})
        return urllib.request.urlopen(f"{self.url}/?{q}", timeout=60).read().decode()

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=120)
        return self.proc.returncode, out.decode(), err.decode()


@pytest.fixture
def served(tmp_path):
    s = Served(tmp_path / "warehouse")
    yield s
    if s.proc.poll() is None:
        s.stop()


def exec_events(n: int) -> bytes:
    ts = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return "".join(json.dumps({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"exec-{i}",
        "stage": "ResponseComplete", "requestURI": f"/api/v1/namespaces/prod/pods/web-{i}/exec?command=sh",
        "verb": "create", "user": {"username": "mallory@example.com"}, "sourceIPs": ["203.0.113.5"],
        "objectRef": {"resource": "pods", "namespace": "prod", "name": f"web-{i}", "subresource": "exec"},
        "responseStatus": {"code": 101}, "requestReceivedTimestamp": ts, "stageTimestamp": ts}) + "\n"
        for i in range(n)).encode()


def test_other_commands_on_the_folder_go_through_serve(served, tmp_path):
    log = tmp_path / "exec.log"
    log.write_bytes(exec_events(5))
    dsn = f"chdb://{served.folder}"
    first = loader("load", str(log), "--dsn", dsn, "--ttl-days", "0", "--format", "json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout.splitlines()[-1])["new_events"] == 5
    again = loader("load", str(log), "--dsn", dsn, "--ttl-days", "0", "--format", "json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.splitlines()[-1])["new_events"] == 0  # the ledger and dedup hold through HTTP
    count = loader("sql", "SELECT count(), uniqExact(id) FROM kubernetes_audit_logs", "--dsn", dsn, "--format", "TSV")
    assert count.returncode == 0, count.stderr
    assert count.stdout.split() == ["5", "5"]
    info = loader("info", "--dsn", dsn, "--format", "json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["served_by"] == served.url
    found = loader("detect", "--once", "--rule", "k8s-pod-exec", "--dsn", dsn)
    assert found.returncode == 0, found.stderr
    assert {json.loads(line)["rule"] for line in found.stdout.splitlines()} == {"k8s-pod-exec"}
    assert served.query("SELECT count() FROM detections FINAL").strip() != "0"


def test_http_readers_see_the_data_and_cannot_write(served, tmp_path):
    (tmp_path / "a.log").write_bytes(exec_events(3))
    assert loader("load", str(tmp_path / "a.log"), "--dsn", f"chdb://{served.folder}", "--ttl-days", "0").returncode == 0
    assert served.query("SELECT count() FROM kubernetes_audit_logs") == "3\n"
    assert json.loads(served.query("SELECT verb, count() AS n FROM kubernetes_audit_logs GROUP BY verb",
                                   default_format="JSONEachRow")) == {"verb": "create", "n": 3}
    body = urllib.request.Request(served.url + "/", data=b"INSERT INTO kubernetes_audit_logs (id) VALUES ('x')")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(body, timeout=60)
    assert refused.value.headers["X-ClickHouse-Exception-Code"] == "164"
    assert served.query("SELECT count() FROM kubernetes_audit_logs") == "3\n"
    metrics = urllib.request.urlopen(served.url + "/metrics", timeout=10).read().decode()
    queries = [line for line in metrics.splitlines() if line.startswith("loader_serve_http_queries_total ")]
    assert queries and float(queries[0].split()[1]) >= 3
    assert "loader_serve_http_errors_total 1" in metrics


def test_sigterm_drains_and_hands_the_folder_back(served):
    code, _, err = served.stop(signal.SIGTERM)
    assert code == 0, err[-2000:]
    assert "serve: " in err and not (served.folder / SERVE_FILE).exists()
    direct = loader("sql", "SELECT count() FROM kubernetes_audit_logs", "--dsn", f"chdb://{served.folder}")
    assert direct.returncode == 0, direct.stderr  # the folder is free: opened in this command's own process


def test_a_second_serve_on_the_folder_is_refused(served):
    second = loader("serve", "--dsn", f"chdb://{served.folder}", "--listen", "127.0.0.1:0")
    assert second.returncode == 1
    assert "served already" in second.stderr and served.url in second.stderr


def test_listening_beyond_loopback_needs_a_password(tmp_path):
    open_to_all = loader("serve", "--dsn", f"chdb://{tmp_path / 'w'}", "--listen", "0.0.0.0:0")
    assert open_to_all.returncode == 2
    assert "--password" in open_to_all.stderr and "Traceback" not in open_to_all.stderr
    assert not (tmp_path / "w").exists()  # refused before anything was opened


def test_detection_schedule_reports_findings(tmp_path):
    s = Served(tmp_path / "warehouse", "--detect-every", "1s")
    try:
        (tmp_path / "exec.log").write_bytes(exec_events(2))
        assert loader("load", str(tmp_path / "exec.log"), "--dsn", f"chdb://{s.folder}", "--ttl-days", "0").returncode == 0
        until(lambda: s.query("SELECT countIf(rule = 'k8s-pod-exec') FROM detections FINAL").strip() not in ("", "0"),
              what="the scheduled pass to find the exec")
        metrics = urllib.request.urlopen(s.url + "/metrics", timeout=10).read().decode()
        assert any(line.startswith("loader_serve_detect_runs_total ") and float(line.split()[1]) >= 1
                   for line in metrics.splitlines())
    finally:
        code, out, err = s.stop()
    assert code == 0, err[-2000:]
    findings = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert "k8s-pod-exec" in {f.get("rule") for f in findings}


OBJECTS, EVENTS_PER_OBJECT = 24, 40


def test_sigkill_mid_load_while_queried_loses_and_duplicates_nothing(aws, tmp_path):
    s3, sqs = clients()
    url = uploaded_bucket(s3, sqs, OBJECTS, EVENTS_PER_OBJECT)
    total = OBJECTS * EVENTS_PER_OBJECT
    folder = tmp_path / "warehouse"
    args = ("--queue-url", url, "--workers", "2")
    rng = random.Random(1204)
    answers = []  # counts a client read over HTTP while serve loaded, was killed and came back
    current: list[Served] = []
    done = threading.Event()

    def client() -> None:
        while not done.is_set():
            try:
                answers.append(int(current[-1].query("SELECT count() FROM kubernetes_audit_logs")))
            except (OSError, IndexError, ValueError):  # between a kill and the restart
                time.sleep(0.05)

    reader = threading.Thread(target=client, daemon=True)
    loaded = 0
    for _ in range(3):
        s = Served(folder, *args)
        current.append(s)
        if not reader.is_alive():
            reader.start()
        # kill once it has loaded more than before, at a seeded point: between or inside objects
        target = loaded + rng.randint(1, 3 * EVENTS_PER_OBJECT)
        loaded = until(lambda: (n := int(s.query("SELECT count() FROM kubernetes_audit_logs"))) >= min(target, total) and n,
                       timeout=120, what="serve to load")
        s.proc.kill()
        s.proc.wait(timeout=60)
        assert loaded < total, "the kills must land mid-load: raise OBJECTS"
    final = Served(folder, *args)
    current.append(final)
    until(lambda: queue_depth(sqs, url) == 0 and final.query("SELECT sum(events) FROM ingest_chunks") == f"{total}\n",
          timeout=180, what="the queue to drain")
    done.set()
    reader.join(timeout=60)
    counts = final.query("SELECT (SELECT count() FROM kubernetes_audit_logs), (SELECT uniqExact(id) FROM "
                         "kubernetes_audit_logs), (SELECT sum(events) FROM ingest_chunks)")
    assert [int(v) for v in counts.split()] == [total] * 3
    code, _, err = final.stop(signal.SIGTERM)
    assert code == 0, err[-2000:]
    assert answers, "the HTTP client was never answered while serve loaded"
    assert answers == sorted(answers) and answers[-1] <= total  # never a duplicate, never a row lost once seen


def test_loading_that_cannot_start_stops_serve(aws, tmp_path):
    out = loader("serve", "--dsn", f"chdb://{tmp_path / 'w'}", "--listen", "127.0.0.1:0",
                 "--queue-url", f"{aws}/123456789012/no-such-queue")
    assert out.returncode == 1, out.stderr
    assert "error: loading from" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "w" / SERVE_FILE).exists()
