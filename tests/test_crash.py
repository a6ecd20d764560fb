"""Crash safety: SIGKILL (and once SIGTERM) a `loader sqs-poll` subprocess at random moments while it
loads dozens of objects, restart it, and prove every event is in the warehouse exactly once and the
queue is empty.

The subprocess has its own chDB folder; this process never opens it (chDB allows one engine path per
process), so the warehouse is queried through `loader sql` in a subprocess after the poller exited.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading

from aws import aws, clients, moto_endpoint, queue_depth, uploaded_bucket  # noqa: F401

OBJECTS, EVENTS_PER_OBJECT = 40, 30
# A run is killed after a random delay or once it has loaded this many objects, whichever comes
# first, so the four interrupted runs (at most QUOTA + workers objects each) always leave work for
# the final run, however fast the machine is.
QUOTA = 4


def loader(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "loader", *args], env=os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


class watch:
    """Reads a poller's JSON log lines in the background and counts the objects it has loaded."""

    def __init__(self, p: subprocess.Popen):
        self.loaded = 0
        self.changed = threading.Condition()
        threading.Thread(target=self._read, args=(p.stderr,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            if b'"event": "loaded"' in line:
                with self.changed:
                    self.loaded += 1
                    self.changed.notify_all()

    def wait(self, objects: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.loaded >= objects, timeout)


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(aws, tmp_path):
    s3, sqs = clients()
    url = uploaded_bucket(s3, sqs, OBJECTS, EVENTS_PER_OBJECT, gzip_every=3)
    dsn = f"chdb://{tmp_path / 'warehouse'}"
    poll_args = ["sqs-poll", "--queue-url", url, "--dsn", dsn, "--ttl-days", "0", "--idle-exit", "4",
                 "--workers", "2", "--format", "json", "--log-format", "json"]
    rng = random.Random()
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGKILL, signal.SIGKILL):
        p = loader(*poll_args)
        loading = watch(p)
        assert loading.wait(1, 60), "the poller never started loading"
        # mid-work: between or inside inserts, ledger writes, deletes
        loading.wait(rng.randint(1, QUOTA), timeout=rng.uniform(0, 1.5))
        p.send_signal(sig)
        # SIGTERM is a graceful stop: in-flight work is finished or released, exit status 0
        assert p.wait(timeout=60) == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
    final = loader(*poll_args)
    out, errors = final.communicate(timeout=120)
    assert final.returncode == 0, errors.decode()[-2000:]
    summary = json.loads(out.decode().strip().splitlines()[-1])
    assert summary["messages_deleted"] > 0  # the kills left real work for the final run
    assert queue_depth(sqs, url) == 0
    # ingest_chunks is a plain MergeTree: a chunk inserted twice would show there even if the
    # ReplacingMergeTree had already merged the duplicate rows away
    q = loader("sql", "SELECT (SELECT count() FROM kubernetes_audit_logs), (SELECT uniqExact(id) FROM "
               "kubernetes_audit_logs), (SELECT sum(events) FROM ingest_chunks)", "--dsn", dsn, "--format", "JSONCompact")
    out, errors = q.communicate(timeout=60)
    assert q.returncode == 0, errors.decode()
    assert [int(v) for v in json.loads(out)["data"][0]] == [OBJECTS * EVENTS_PER_OBJECT] * 3
