"""Ingest benchmark: `loader load` of a gzip file next to the engine's own single-parse reference, in one run.

Input: a generated cluster day of N events (default 400k) where one event in ten carries a request
body (a workload spec, as RequestResponse policies log them), gzip -6.
- loader: `loader load FILE --ttl-days 0`, events/s from its summary, peak RSS (the child's VmHWM).
- reference: the same embedded engine reading the file itself and writing 33 columns into a MergeTree,
  parsing each line once: INSERT ... SELECT ... JSONExtract(line, 'Tuple(...)') FROM file(..., LineAsString).
- storage: kubernetes_audit_logs bytes on disk (after OPTIMIZE FINAL) against the gzip -6 file.

    python bench/bench_load.py [--events 400000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_sqs import run  # noqa: E402  (the child's own peak RSS)

REFERENCE = """
import sys, time
import chdb.session
s = chdb.session.Session(sys.argv[1])
s.query('''CREATE TABLE ref (kind String, apiVersion String, level String, auditID String, stage String,
    requestURI String, verb String, username String, groups Array(String), sourceIPs Array(String),
    userAgent String, resource String, namespace String, name String, apiGroup String, objectApiVersion String,
    subresource String, code Int64, requestReceivedTimestamp String, stageTimestamp String, decision String,
    reason String, eventTime DateTime, receivedAt DateTime, rawLog String CODEC(ZSTD(3)), id String,
    eventName String, workspaceID String, srcIP String, readOnly Bool, serviceName String,
    actor Map(String, String), tags Map(String, String))
    ENGINE = MergeTree ORDER BY (workspaceID, eventName, eventTime)''')
t0 = time.monotonic()
s.query(f'''INSERT INTO ref SELECT e.kind, e.apiVersion, e.level, e.auditID, e.stage, e.requestURI, e.verb,
    e.user.username, e.user.groups, e.sourceIPs, e.userAgent, e.objectRef.resource, e.objectRef.namespace,
    e.objectRef.name, e.objectRef.apiGroup, e.objectRef.apiVersion, e.objectRef.subresource,
    e.responseStatus.code, e.requestReceivedTimestamp, e.stageTimestamp,
    e.annotations['authorization.k8s.io/decision'], e.annotations['authorization.k8s.io/reason'],
    parseDateTime64BestEffortOrZero(e.requestReceivedTimestamp), now(), line,
    lower(hex(MD5(concat(e.auditID, e.stage)))), concat(e.verb, '-', e.objectRef.resource), 'default',
    e.sourceIPs[1], e.verb IN ('get', 'list', 'watch'), e.objectRef.apiGroup,
    map('username', e.user.username), e.annotations
FROM (SELECT line, JSONExtract(line, 'Tuple(kind String, apiVersion String, level String, auditID String,
    stage String, requestURI String, verb String, user Tuple(username String, groups Array(String)),
    sourceIPs Array(String), userAgent String, objectRef Tuple(resource String, namespace String, name String,
    apiGroup String, apiVersion String, subresource String), responseStatus Tuple(code Int64),
    requestReceivedTimestamp String, stageTimestamp String, annotations Map(String, String))') AS e
    FROM file('{sys.argv[2]}', 'LineAsString') WHERE line != '')''')
seconds = time.monotonic() - t0
print(seconds, s.query('SELECT count() FROM ref', 'TSV').bytes().decode().strip())
"""

BODY = {"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web", "tier": "frontend"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "registry.example.com/shop/web:1.42.0",
                                                       "ports": [{"containerPort": 8080}],
                                                       "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
                                                       "env": [{"name": "MODE", "value": "production"}]}]}}}}


def make_input(events: int, tmp: Path) -> Path:
    plain = tmp / "day.jsonl"
    subprocess.run([sys.executable, "-m", "loader", "generate", "-n", str(events), "-o", str(plain)], check=True,
                   stderr=subprocess.DEVNULL)
    out = tmp / "day.jsonl.gz"
    with plain.open("rb") as src, gzip.open(out, "wb", compresslevel=6) as dst:
        for i, line in enumerate(src):
            if i % 10 == 0 and b'"requestObject"' not in line:
                e = json.loads(line)
                e["level"], e["requestObject"] = "Request", BODY
                line = json.dumps(e, separators=(",", ":")).encode() + b"\n"
            dst.write(line)
    plain.unlink()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=400_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_load_") as tmp:
        data = make_input(args.events, Path(tmp))
        gz = data.stat().st_size
        print(f"input: {args.events:,} events, {gz / 1e6:.1f} MB gzip -6, one in ten with a request body")

        dsn = f"chdb://{tmp}/a"
        wall, rss, out = run(["load", str(data), "--dsn", dsn, "--ttl-days", "0", "--format", "json"])
        summary = json.loads(out.strip().splitlines()[-1])
        rate = summary["events"] / summary["seconds"]
        print(f"loader load:        {summary['events']:,} events in {summary['seconds']:.1f}s "
              f"({rate:,.0f} events/s; {wall:.1f}s with process start), peak RSS {rss} MB")

        out = subprocess.run([sys.executable, "-c", REFERENCE, f"{tmp}/b", str(data)], check=True,
                             capture_output=True, text=True).stdout
        seconds, events = out.split()
        ref_rate = int(events) / float(seconds)
        print(f"reference (1 parse, 33 columns, file()): {int(events):,} events in {float(seconds):.1f}s "
              f"({ref_rate:,.0f} events/s)")
        print(f"ratio loader/reference: {rate / ref_rate:.2f}")

        sql = ("OPTIMIZE TABLE kubernetes_audit_logs FINAL; SELECT sum(bytes_on_disk) FROM system.parts "
               "WHERE active AND database = currentDatabase() AND table = 'kubernetes_audit_logs'")
        for stmt in sql.split("; "):
            out = subprocess.run([sys.executable, "-m", "loader", "sql", stmt, "--dsn", dsn, "--format", "TSV"],
                                 check=True, capture_output=True, text=True).stdout
        stored = int(out.strip())
        print(f"storage: {stored / 1e6:.1f} MB on disk vs {gz / 1e6:.1f} MB gzip -6: ratio {stored / gz:.2f}")


if __name__ == "__main__":
    main()
