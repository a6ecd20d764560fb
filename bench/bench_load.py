"""Issue 2 benchmark: `loader load` of a gzip file vs the same engine reading the file itself.

Both sides run the project's transform (the ingest table's materialized views); the baseline only
skips Python: ClickHouse reads the gzip file with file(..., 'LineAsString') and maps each line to the
`unit` column. Each side runs in a subprocess with a fresh chDB folder. Prints events/s and the ratio.

    python bench/bench_load.py [--events 400000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = """
import sys, time
from loader.warehouse import Warehouse
wh = Warehouse(sys.argv[1]); wh.ensure_schema()
t0 = time.monotonic()
wh.command(f\"\"\"INSERT INTO kubernetes_audit_logs_ingest
    (workspaceID, sourceID, sourceTTL, cluster, source, receivedAt, redact, token, chunk, line, byteOffset,
     unit, unitReason, unitSize, unitSHA256)
SELECT 'default', 'file', 0, '', '{sys.argv[2]}', now(), true, 'bench', 0, rowNumberInAllBlocks() + 1, 0,
       line, '', 0, ''
FROM file('{sys.argv[2]}', 'LineAsString') WHERE line != ''\"\"\")
seconds = time.monotonic() - t0
print(seconds, wh.rows("SELECT count() FROM kubernetes_audit_logs")[0][0])
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=400_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_load_") as tmp:
        data = Path(tmp) / "day.jsonl.gz"
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-m", "loader", "generate", "-n", str(args.events), "-c", "gzip",
                        "-o", str(data)], check=True)
        print(f"generated {args.events:,} events, {data.stat().st_size / 1e6:.1f} MB gzip in {time.monotonic() - t0:.1f}s")

        t0 = time.monotonic()
        out = subprocess.run([sys.executable, "-m", "loader", "load", str(data), "--dsn", f"chdb://{tmp}/a",
                              "--ttl-days", "0", "--format", "json"], check=True, capture_output=True, text=True).stdout
        wall = time.monotonic() - t0
        summary = json.loads(out.strip().splitlines()[-1])
        loader_rate = summary["events"] / summary["seconds"]
        print(f"loader load:        {summary['events']:,} events in {summary['seconds']:.1f}s "
              f"({loader_rate:,.0f} events/s; {wall:.1f}s with process start and schema)")

        out = subprocess.run([sys.executable, "-c", BASELINE, f"chdb://{tmp}/b", str(data)], check=True,
                             capture_output=True, text=True).stdout
        seconds, events = out.split()
        base_rate = int(events) / float(seconds)
        print(f"INSERT ... file():  {int(events):,} events in {float(seconds):.1f}s ({base_rate:,.0f} events/s)")
        print(f"ratio loader/baseline: {loader_rate / base_rate:.2f}")


if __name__ == "__main__":
    main()
