"""Report benchmark: `loader report` over a large warehouse, next to a plain scan of the same window, in one run.

Data: a generated cluster day (`loader generate`, default 200k events) loaded and run through `loader detect`,
then copied inside ClickHouse, each copy one day earlier with new ids, up to --events rows (default 10M); the
findings are copied with their events (new fingerprints and event ids), so findings grow with the data.
- report: `loader report --since <days covered>` wall time (process start included) and HTML size, at the
  first day only and over everything: the page's size must not grow with the data (top-N lists, sampled events).
- baseline: `SELECT count(), uniqExact(user.username), uniqExact(srcIP) FROM kubernetes_audit_logs` over the
  same window, i.e. one pass over what the report summarises.

    python bench/bench_report.py [--events 10000000] [--day-events 200000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def loader(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "loader", *args], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"loader {' '.join(args)}: {done.stderr.strip()}")
    return time.monotonic() - t0, done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--day-events", type=int, default=200_000)
    a = ap.parse_args()
    copies = max(1, a.events // a.day_events)
    with tempfile.TemporaryDirectory() as tmp:
        dsn, log = f"chdb://{tmp}/wh", f"{tmp}/day.jsonl.gz"
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
        loader("generate", "-n", str(a.day_events), "-c", "gzip", "-o", log, "--day", day)
        loader("load", log, "--dsn", dsn, "--ttl-days", "0")
        loader("detect", "--dsn", dsn, "--since", "3d")
        one_day = f"{(time.time() - time.mktime(time.strptime(day, '%Y-%m-%d'))) / 86400 + 1:.0f}d"

        def sql(query: str) -> str:
            return loader("sql", query, "--dsn", dsn, "--format", "TSV")[1].stdout.strip()

        def report(since: str) -> tuple[float, int, str]:
            out = f"{tmp}/report-{since}.html"
            seconds, done = loader("report", "--dsn", dsn, "--since", since, "-o", out)
            return seconds, Path(out).stat().st_size, done.stderr.strip()

        small = report(one_day)
        t0 = time.monotonic()
        sql(f"""INSERT INTO kubernetes_audit_logs SELECT * EXCEPT (n) REPLACE (eventTime - toIntervalDay(n) AS eventTime,
                concat(id, '-', toString(n)) AS id, concat(eventID, '-', toString(n)) AS eventID)
                FROM kubernetes_audit_logs, (SELECT number + 1 AS n FROM numbers({copies - 1})) AS c""")
        sql(f"""INSERT INTO detections SELECT * EXCEPT (n) REPLACE (eventTime - toIntervalDay(n) AS eventTime,
                concat(fingerprint, '-', toString(n)) AS fingerprint,
                arrayMap(i -> concat(i, '-', toString(n)), eventIDs) AS eventIDs)
                FROM detections FINAL, (SELECT number + 1 AS n FROM numbers({copies - 1})) AS c""")
        copy_s = time.monotonic() - t0
        events, findings = sql("SELECT count() FROM kubernetes_audit_logs"), sql("SELECT count() FROM detections FINAL")
        since = f"{copies + 2}d"
        t0 = time.monotonic()
        sql(f"SELECT count(), uniqExact(`user.username`), uniqExact(srcIP) FROM kubernetes_audit_logs "
            f"WHERE eventTime >= now() - INTERVAL {copies + 2} DAY")
        scan = time.monotonic() - t0
        big = report(since)
    print(f"data: {int(events):,} events, {int(findings):,} findings ({copies} days; copied in {copy_s:.0f} s)")
    print(f"report, one day ({one_day}):  {small[0]:.1f} s, {small[1] / 1e6:.2f} MB")
    print(f"report, everything ({since}): {big[0]:.1f} s, {big[1] / 1e6:.2f} MB   [{big[2]}]")
    print(f"baseline scan of the window: {scan:.1f} s   ratio report/scan: {big[0] / scan:.1f}   "
          f"size ratio everything/one day: {big[1] / small[1]:.2f}")


if __name__ == "__main__":
    main()
