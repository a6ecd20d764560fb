"""The generator: deterministic bytes, and every envelope x compression loads as exactly n events."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import pytest
from conftest import load_bytes, one

from loader.generate import COMPRESSIONS, FORMATS, attack_count, events, write

DAY = datetime(2025, 3, 14, tzinfo=timezone.utc)


def test_same_seed_same_bytes_and_time_ordered():
    a = list(events(3000, seed=5, day=DAY))
    assert a == list(events(3000, seed=5, day=DAY))
    assert a != list(events(3000, seed=6, day=DAY))
    stamps = [json.loads(e)["requestReceivedTimestamp"] for e in a]
    assert stamps == sorted(stamps) and stamps[0].startswith("2025-03-14T")
    assert len({json.loads(e)["auditID"] for e in a}) == 3000
    attackers = [e for e in a if b'"198.51.100.77"' in e or b'"203.0.113.45"' in e]
    assert len(attackers) == attack_count(3000)


@pytest.mark.parametrize("fmt,compression", [(f, "gzip") for f in FORMATS] + [("jsonl", c) for c in COMPRESSIONS])
def test_every_envelope_loads_every_event(wh, fmt, compression):
    out = io.BytesIO()
    write(out, 300, fmt, compression, seed=1, day=DAY)
    r = load_bytes(wh, out.getvalue(), name=f"gen.{fmt}.{compression}")
    assert (r.events, r.rejects) == (300, 0)
    assert one(wh, "SELECT uniqExact(eventID), countIf(eventName = 'create-pods-exec') FROM kubernetes_audit_logs") == (300, 3)
