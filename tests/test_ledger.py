"""Whatever stops a load, the ledger says how far it got: a read error midway leaves a `failed` row
with what was committed before it, and the events committed stay."""

from __future__ import annotations

import json
import uuid

import pytest

from loader.decode import ReadError
from loader.ledger import Ledger, Progress
from loader.pipeline import Settings, load_stream


class BreaksAfter:
    """A stream that fails like a dropped S3 connection once `limit` bytes have been read."""

    def __init__(self, data: bytes, limit: int):
        self.data, self.limit, self.pos = data, limit, 0

    def read(self, n: int = -1) -> bytes:
        if self.pos >= self.limit:
            raise ConnectionResetError("connection reset by peer")
        n = len(self.data) if n < 0 else n
        out = self.data[self.pos:min(self.pos + n, self.limit)]
        self.pos += len(out)
        return out


def test_a_read_error_midway_is_a_failed_ledger_row_with_what_was_committed(wh):
    lines = [json.dumps({"kind": "Event", "auditID": str(uuid.uuid4()), "stage": "ResponseComplete",
                         "verb": "get", "requestURI": "/healthz", "userAgent": "x" * 30_000}).encode()
             for _ in range(300)]  # 9 MB: the break comes after the first read block (4 MiB) was loaded
    data = b"\n".join(lines) + b"\n"
    stream = BreaksAfter(data, limit=len(data) // 2)
    with pytest.raises(ReadError, match="connection reset"):
        load_stream(wh, "s3://bucket/audit.log", stream, Settings(ttl_days=0, chunk_units=50))
    status, error, events, chunks = wh.rows(
        "SELECT argMax(status, updatedAt), argMax(error, updatedAt), argMax(events, updatedAt), "
        "argMax(chunks, updatedAt) FROM ingest_ledger WHERE source = 's3://bucket/audit.log'")[0]
    stored = wh.rows("SELECT count() FROM kubernetes_audit_logs")[0][0]
    assert status == "failed" and "connection reset" in error
    assert 0 < events == stored < 300 and chunks == stored // 50


def test_a_source_is_loaded_once_its_newest_row_is_done(wh):
    ledger = Ledger(wh, "team-a", "s3", "s3://bucket/a.log")
    ledger.begin(Progress("etag:1", 100))
    assert not ledger.loaded("etag:1")
    ledger.done(Progress("etag:1", 100, events=3, rejects=1, chunks=1))
    assert ledger.loaded("etag:1")
    assert not ledger.loaded("etag:2")  # the object was replaced: its new content is not loaded
    assert not Ledger(wh, "team-b", "s3", "s3://bucket/a.log").loaded("etag:1")  # nor in another workspace
    rows = wh.rows("SELECT status, error, events, rejects, chunks, size, finishedAt IS NULL FROM ingest_ledger "
                   "WHERE source = 's3://bucket/a.log' ORDER BY updatedAt")
    assert rows == [("loading", "", 0, 0, 0, 100, True), ("done", "", 3, 1, 1, 100, False)]


def test_an_interrupted_or_failed_load_is_not_loaded(wh):
    ledger = Ledger(wh, "default", "file", "a.log")
    ledger.interrupted(Progress("sha256:x", 10, events=1, chunks=1))
    assert not ledger.loaded("sha256:x")
    ledger.failed(Progress("sha256:x", 10), "ReadError: gone")
    assert not ledger.loaded("sha256:x")
    assert wh.rows("SELECT status, error FROM ingest_ledger ORDER BY updatedAt") == [
        ("interrupted", "interrupted"), ("failed", "ReadError: gone")]
