"""Every real corpus file loads: each event becomes a row or a reject, and the counts add up."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import CORPUS, load_bytes
from samples import json_values


def data_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and "_licenses" not in p.parts and p.suffix != ".md")


def expected(path: Path) -> tuple[int, int]:
    """(events, rejects) judged independently of the loader: Azure records hold one Event each."""
    events = rejects = 0
    for _, value in json_values(path.read_bytes().decode("utf-8-sig")):
        records = value.get("records") if isinstance(value, dict) else None
        if records is None and isinstance(value, dict) and "properties" in value:
            records = [value]
        inner = [json.loads(r["properties"]["log"]) for r in records] if records else [value]
        for ev in inner:
            ok = isinstance(ev, dict) and (ev.get("auditID") or ev.get("kind") == "Event")
            events += bool(ok)
            rejects += not ok
    return events, rejects


def test_every_corpus_file_loads_and_counts_add_up(wh):
    files = data_files()
    assert len(files) == 89
    total_events = total_rejects = 0
    for f in files:
        r = load_bytes(wh, f.read_bytes(), name=str(f.relative_to(CORPUS)))
        assert (r.events, r.rejects) == expected(f), f
        total_events += r.events
        total_rejects += r.rejects
    # SOURCES.md: 151 audit events, one of which ({"kind": 0}) is not a valid Event
    assert (total_events, total_rejects) == (150, 1)
    stored = wh.rows("SELECT count(), uniqExact(id) FROM kubernetes_audit_logs FINAL")[0]
    # the same auditID+stage is the same event: one id, one row once merged
    distinct = wh.rows("SELECT count() FROM (SELECT DISTINCT auditID, stage FROM kubernetes_audit_logs)")[0][0]
    assert stored == (distinct, distinct)
    reject = wh.rows("SELECT source, reason, raw, line FROM kubernetes_audit_logs_rejects")
    assert reject == [("falcosecurity__falco/fal_01_003.json", "not an audit event (no auditID and no kind: Event)",
                       '{"kind": 0}', 1)]
    ledger = wh.rows("SELECT count(), sum(events), sum(rejects), countIf(status = 'done') FROM ingest_ledger FINAL")[0]
    assert ledger == (89, 150, 1, 89)


def test_bom_and_pretty_and_azure_single_record(wh):
    f = CORPUS / "sysdiglabs__aks-audit-log" / "sample_EventHubs_event.json"
    assert f.read_bytes().startswith(b"\xef\xbb\xbf")
    r = load_bytes(wh, f.read_bytes(), name="eh.json")
    assert (r.events, r.rejects) == (1, 0)
    got = wh.rows("SELECT tags['cluster'], stream, `kubernetes.pod_name`, eventName FROM kubernetes_audit_logs")
    pod = json.loads(f.read_bytes().decode("utf-8-sig"))["properties"]["pod"]
    assert got == [("kubeauditlogtestcluster", "stdout", pod, "get-/apis/autoscaling/v2beta1")]
