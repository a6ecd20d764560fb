"""`loader demo` end to end: moto's S3+SQS on loopback, the real sqs.poll, the embedded warehouse."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from datetime import datetime, timezone

from conftest import load_bytes, one

from loader import demo
from loader.generate import default_day
from loader.warehouse import Warehouse

DAY = datetime(2025, 3, 14, tzinfo=timezone.utc)


def test_demo_loads_exactly_what_it_uploaded(wh, engine_dir):
    db = f"demo_{uuid.uuid4().hex[:8]}"
    dsn = f"chdb://{engine_dir}?database={db}"
    result = demo.run(dsn, n_events=2000, seed=7, day=DAY, idle_exit=1.0)

    # the reference: every uploaded object loaded directly through the pipeline into the fixture's database
    expected_events = expected_rejects = 0
    for key, body, _ in demo.objects(2000, 7, DAY):
        r = load_bytes(wh, body, name=f"s3://{demo.BUCKET}/{key}", identity=key, workspace="demo")
        expected_events += r.events
        expected_rejects += r.rejects

    assert result.generated_events == 2000
    assert result.left_in_queue == 0 and result.in_dlq == 0
    assert result.stats.messages_failed == 0
    assert (result.stats.events, result.stats.rejects) == (expected_events, expected_rejects)
    loaded = Warehouse(dsn)
    try:
        assert one(loaded, "SELECT count() FROM kubernetes_audit_logs FINAL") == \
            one(wh, "SELECT count() FROM kubernetes_audit_logs FINAL")
        assert one(loaded, "SELECT count() FROM kubernetes_audit_logs_rejects")[0] == expected_rejects
        generated = one(loaded, "SELECT count(), uniqExact(id) FROM kubernetes_audit_logs "
                                "WHERE tags['source'] LIKE 's3://demo-audit-logs/clusters/%'")
        assert generated == (2000, 2000)
        # the attack story made it through every envelope: the stolen account's exec with curl to the metadata IP
        assert one(loaded, "SELECT count() FROM kubernetes_audit_logs WHERE eventName = 'create-pods-exec' "
                           "AND actor['username'] = 'dave@example.com' AND requestURI LIKE '%169.254.169.254%'")[0] == 1
    finally:
        loaded.command(f"DROP DATABASE IF EXISTS `{db}`")
        loaded.close()
    if result.findings:
        assert any(f["rule"] == "k8s-pod-exec" and f["actor"] == "dave@example.com" for f in result.findings)
    else:
        assert result.top["operations"][0][0] == "update-leases"


def test_cli_demo_runs_as_a_user_runs_it(wh, tmp_path):
    """`loader demo` in a subprocess, its warehouse under LOADER_HOME: exit 0, every uploaded object and event
    loaded, nothing left in the queue or the DLQ, and the warehouse it names holds the generated events."""
    env = os.environ | {"LOADER_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    p = subprocess.run([sys.executable, "-m", "loader", "demo", "--events", "100"], env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    summary = re.search(r"^demo: (\d+) objects, (\d+) messages, (\d+) events, (\d+) rejects loaded in [\d.]+s; "
                        r"(\d+) left in the queue, (\d+) in the DLQ$", p.stderr, re.M)
    assert summary, p.stderr[-2000:]
    objects, _, events, rejects, left, dead = map(int, summary.groups())

    # what was uploaded (same seed; the day changes the timestamps, not the counts), loaded directly as reference
    expected_events = expected_rejects = uploaded = 0
    for key, body, _ in demo.objects(100, 0, default_day()):
        r = load_bytes(wh, body, name=f"s3://{demo.BUCKET}/{key}", identity=key, workspace="demo")
        expected_events += r.events
        expected_rejects += r.rejects
        uploaded += 1
    assert (objects, events, rejects) == (uploaded, expected_events, expected_rejects)
    assert (left, dead) == (0, 0)

    home_dsn = f"chdb://{tmp_path / 'home' / 'warehouse'}"
    assert f"warehouse: {home_dsn}\n" in p.stdout
    q = subprocess.run([sys.executable, "-m", "loader", "sql", "--format", "TSV", "SELECT count() FROM "
                        "kubernetes_audit_logs WHERE tags['source'] LIKE 's3://demo-audit-logs/clusters/%'"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert q.returncode == 0, q.stderr[-2000:]
    assert q.stdout.split() == ["100"], q.stdout
