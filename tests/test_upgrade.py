"""Upgrade in place: a warehouse built by release 0.1.0 (its schema frozen in tests/legacy_schema/) keeps
its data and gets the new ingest path and retention the first time this version opens it."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import load_bytes
from loader.warehouse import Warehouse, schema_files, statements

LEGACY = Path(__file__).parent / "legacy_schema" / "v0.1.0"


def _event(when: datetime, name: str) -> dict:
    ts = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": str(uuid.uuid4()),
            "stage": "ResponseComplete", "requestURI": f"/api/v1/namespaces/default/pods/{name}", "verb": "get",
            "user": {"username": "alice"}, "sourceIPs": ["10.0.0.1"],
            "objectRef": {"resource": "pods", "namespace": "default", "name": name, "apiVersion": "v1"},
            "responseStatus": {"code": 200}, "requestReceivedTimestamp": ts, "stageTimestamp": ts}


def _apply_legacy(wh: Warehouse) -> None:
    """What 0.1.0's `schema apply` did: every file in order, recorded by digest."""
    wh.command("CREATE TABLE IF NOT EXISTS schema_migrations (file String, sha256 String, "
               "appliedAt DateTime DEFAULT now()) ENGINE = ReplacingMergeTree(appliedAt) ORDER BY file")
    for f in sorted(LEGACY.glob("*.sql")):
        for stmt in statements(f.read_text()):
            wh.command(stmt)
        wh.command("INSERT INTO schema_migrations (file, sha256) VALUES ({f:String}, {d:String})",
                   {"f": f.name, "d": hashlib.sha256(f.read_bytes()).hexdigest()})


def _columns(wh: Warehouse, table: str) -> set[str]:
    return {r[0] for r in wh.rows("SELECT name FROM system.columns WHERE database = currentDatabase() "
                                  "AND table = {t:String}", {"t": table})}


@pytest.fixture
def legacy(engine_dir: Path):
    db = f"legacy_{uuid.uuid4().hex[:12]}"
    wh = Warehouse(f"chdb://{engine_dir}?database={db}")
    _apply_legacy(wh)
    yield wh
    wh.command(f"DROP DATABASE IF EXISTS `{db}`")
    wh.close()


def test_a_0_1_0_warehouse_upgrades_in_place_and_keeps_its_data(legacy: Warehouse) -> None:
    now = datetime.now(timezone.utc)
    old = _event(now - timedelta(days=2), "before-upgrade")
    legacy.command(
        "INSERT INTO kubernetes_audit_logs_ingest (workspaceID, sourceID, sourceTTL, cluster, source, receivedAt, "
        "redact, token, chunk, line, byteOffset, unit, unitReason, unitSize, unitSHA256) VALUES "
        "('default', 'file', 365, '', 'legacy.log', now(), true, 'legacy-token', 0, 1, 0, {u:String}, '', 0, '')",
        {"u": json.dumps(old)})
    assert legacy.rows("SELECT count() FROM kubernetes_audit_logs")[0][0] == 1
    assert "eventTime + toIntervalDay(sourceTTL)" in legacy.rows("SHOW CREATE TABLE kubernetes_audit_logs")[0][0]
    assert "expired" in _columns(legacy, "ingest_chunks")

    legacy.ensure_schema()  # what every command does on first use

    wh = legacy
    assert wh.rows("SELECT objectRef.name FROM kubernetes_audit_logs")[0][0] == "before-upgrade"
    create = wh.rows("SHOW CREATE TABLE kubernetes_audit_logs")[0][0]
    assert "TTL receivedAt + toIntervalDay(sourceTTL) WHERE sourceTTL > 0" in create
    assert "eventTime + toIntervalDay" not in create
    columns = _columns(wh, "kubernetes_audit_logs_ingest")
    assert "redact" not in columns and "unit" in columns
    # ALTERs change existing tables in place: a column dropped, the rows kept
    assert "expired" not in _columns(wh, "ingest_chunks")
    assert wh.rows("SELECT events FROM ingest_chunks WHERE token = 'legacy-token'") == [(1,)]
    assert not wh.rows("SELECT name FROM system.tables WHERE database = currentDatabase() "
                       "AND name LIKE 'kubernetes_audit_logs_ingest_items%'")
    recorded = dict(wh.rows("SELECT file, sha256 FROM schema_migrations FINAL"))
    for f in schema_files():
        assert recorded[f.name] == hashlib.sha256(f.read_bytes()).hexdigest(), f.name

    # the new path loads, and an archive event (a year old) is kept: retention runs from receivedAt
    archive = _event(now - timedelta(days=400), "archive")
    result = load_bytes(wh, (json.dumps(archive) + "\n").encode(), ttl_days=365)
    assert (result.events, result.rejects) == (1, 0)
    wh.command("OPTIMIZE TABLE kubernetes_audit_logs FINAL")  # a merge applies TTLs
    names = sorted(r[0] for r in wh.rows("SELECT objectRef.name FROM kubernetes_audit_logs"))
    assert names == ["archive", "before-upgrade"]

    assert wh.apply_schema() == []  # idempotent: nothing left to do
