"""Run the whole queries/ catalog over generated events in an embedded warehouse; report each rule's time.

    python bench/bench_rules.py                 # 10M events (loader.generate's cluster day), fresh warehouse
    python bench/bench_rules.py --events 200000 --dir /tmp/bench-rules

Times are printed as ratios against two baselines measured in the same run on the same data:
`scan` = count() over the whole window (sort key and partitions only) and `rawLog` = a substring
search over every rawLog (what a rule that skips the eventName filter pays). Ratios, not seconds,
are what to compare between machines.
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loader.decode import BlockReader  # noqa: E402
from loader.generate import default_day, events  # noqa: E402
from loader.hunt import run_rule  # noqa: E402
from loader.pipeline import Settings, load_stream  # noqa: E402
from loader.rules import load_rules  # noqa: E402
from loader.warehouse import Warehouse  # noqa: E402


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--dir", help="warehouse folder (kept; a non-empty one is benchmarked as it is)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per rule; the best is reported")
    args = ap.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench-rules-"))
    # repeats must cost what a first run costs: the query condition cache would remember which granules a
    # filter rejected and turn the second run of a selective rule into a few milliseconds (ch_* DSN parameters
    # are settings of every query)
    wh = Warehouse(f"chdb://{folder}?ch_use_query_condition_cache=0")
    wh.ensure_schema()
    have = wh.rows("SELECT count() FROM kubernetes_audit_logs")[0][0]
    if have == 0:
        t0 = time.perf_counter()
        stream = io.BufferedReader(BlockReader(l if l.endswith(b"\n") else l + b"\n" for l in events(args.events)),
                                   1 << 20)
        r = load_stream(wh, "generated.jsonl", stream, Settings(ttl_days=0))
        secs = time.perf_counter() - t0
        print(f"loaded {r.events:,} events in {secs:.0f}s ({r.events / secs:,.0f} events/s)", file=sys.stderr)
        wh.command("OPTIMIZE TABLE kubernetes_audit_logs FINAL")
    total = wh.rows("SELECT count() FROM kubernetes_audit_logs")[0][0]
    day = default_day()
    start, end = day - timedelta(days=1), day + timedelta(days=2)
    window = {"s": start.strftime("%Y-%m-%d %H:%M:%S"), "e": end.strftime("%Y-%m-%d %H:%M:%S")}
    scan = timed(lambda: wh.rows("SELECT count() FROM kubernetes_audit_logs WHERE eventTime >= {s:DateTime} "
                                 "AND eventTime < {e:DateTime}", window), args.repeat)
    raw = timed(lambda: wh.rows("SELECT count() FROM kubernetes_audit_logs WHERE eventTime >= {s:DateTime} "
                                "AND eventTime < {e:DateTime} AND position(rawLog, 'privileged') > 0", window), args.repeat)
    print(f"{total:,} events; baselines: scan {scan * 1000:.0f} ms, rawLog search {raw * 1000:.0f} ms")
    print(f"{'rule':48} {'mode':9} {'hits':>6} {'ms':>8} {'x scan':>7} {'x rawLog':>8}")
    results = []
    for rule in load_rules():
        hits = []
        secs = timed(lambda: hits.append(len(run_rule(wh, rule, start, end).rows)), args.repeat)
        results.append((secs, rule))
        print(f"{rule.id:48} {rule.mode:9} {hits[-1]:>6} {secs * 1000:>8.0f} {secs / scan:>7.1f} {secs / raw:>8.2f}",
              flush=True)
    total_secs = sum(s for s, _ in results)
    print(f"catalog: {len(results)} rules in {total_secs:.1f}s ({total_secs / raw:.1f} x rawLog search); slowest: "
          + ", ".join(f"{r.id} {s * 1000:.0f} ms" for s, r in sorted(results, key=lambda x: -x[0])[:5]))
    wh.close()
    if not args.dir:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
