"""Issue 3 benchmark: `loader sqs-poll` events/s vs `loader load` of the same S3 bytes, and peak RSS
while loading a large object vs one ten times smaller (and an idle process).

Everything runs against moto's S3+SQS server on 127.0.0.1 (started here) and fresh chDB folders, each
command in its own subprocess; peak RSS is that subprocess's own VmHWM.

    python bench/bench_sqs.py [--events 100000] [--rss-mb 1024]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time

import boto3

from loader.demo import BUCKET, emulator, setup
from loader.generate import write

IDLE_EXIT = 2.0


def run(args: list[str]) -> tuple[float, int, str]:
    """Run `python -m loader ARGS`; return wall seconds, peak RSS in MB and stdout.

    The peak is the child's own VmHWM, sampled from /proc while it runs: rusage's ru_maxrss would also
    count this parent's high-water mark, which Linux carries into children across fork and exec.
    """
    t0 = time.monotonic()
    peak_kb = 0
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([sys.executable, "-m", "loader", *args], stdout=out, stderr=subprocess.DEVNULL)
        while proc.poll() is None:
            try:
                with open(f"/proc/{proc.pid}/status") as f:
                    hwm = next((int(l.split()[1]) for l in f if l.startswith("VmHWM:")), 0)
                peak_kb = max(peak_kb, hwm)
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(0.05)
        proc.wait()
        wall = time.monotonic() - t0
        out.seek(0)
        text = out.read().decode()
    if proc.returncode:
        raise SystemExit(f"loader {' '.join(args)} failed with {proc.returncode}")
    return wall, peak_kb // 1024, text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000, help="events in the throughput object")
    ap.add_argument("--rss-mb", type=int, default=1024, help="size of the large (uncompressed JSONL) object")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_sqs_") as tmp, emulator():
        s3, sqs = boto3.client("s3"), boto3.client("sqs")
        queue, _ = setup(s3, sqs)
        sqs.purge_queue(QueueUrl=queue)  # moto's s3:TestEvent

        body = io.BytesIO()
        write(body, args.events, "jsonl", "gzip", seed=1)
        s3.put_object(Bucket=BUCKET, Key="bench/day.jsonl.gz", Body=body.getvalue())
        print(f"uploaded {args.events:,} events, {body.tell() / 1e6:.1f} MB gzip")

        wall, _, _ = run(["sqs-poll", "--queue-url", queue, "--dsn", f"chdb://{tmp}/sqs", "--ttl-days", "0",
                          "--idle-exit", str(IDLE_EXIT)])
        sqs_rate = args.events / (wall - IDLE_EXIT)
        print(f"sqs-poll:   {sqs_rate:,.0f} events/s ({wall - IDLE_EXIT:.1f}s, process start included, idle exit not)")
        wall, _, out = run(["load", f"s3://{BUCKET}/bench/day.jsonl.gz", "--dsn", f"chdb://{tmp}/load",
                            "--ttl-days", "0", "--format", "json"])
        load_rate = args.events / wall
        print(f"loader load: {load_rate:,.0f} events/s ({wall:.1f}s, process start included; "
              f"{json.loads(out.splitlines()[-1])['events']:,} events)")
        print(f"ratio sqs-poll/load: {sqs_rate / load_rate:.2f}")

        # bounded memory: the peak while loading the large object against one ten times smaller
        _, idle, _ = run(["info", "--dsn", f"chdb://{tmp}/idle"])
        peaks = {}
        for mb in (args.rss_mb // 10, args.rss_mb):
            path = os.path.join(tmp, f"obj{mb}.jsonl")
            n = mb * 1024 * 1024 // 800  # ~800 bytes per generated event
            with open(path, "wb") as f:
                write(f, n, "jsonl", "none", seed=2)
            size = os.path.getsize(path)
            s3.upload_file(path, BUCKET, f"bench/obj{mb}.jsonl")
            os.remove(path)
            wall, peaks[mb], out = run(["load", f"s3://{BUCKET}/bench/obj{mb}.jsonl", "--dsn", f"chdb://{tmp}/o{mb}",
                                        "--ttl-days", "0", "--format", "json"])
            print(f"object of {size / 2**20:,.0f} MiB: {json.loads(out.splitlines()[-1])['events']:,} events in "
                  f"{wall:.0f}s; peak RSS {peaks[mb]} MB (idle process: {idle} MB)")
        small, large = peaks[args.rss_mb // 10], peaks[args.rss_mb]
        print(f"peak RSS ratio, {args.rss_mb} MiB object vs {args.rss_mb // 10} MiB object: {large / small:.2f}")

if __name__ == "__main__":
    main()
