"""Issue 3 benchmark: `loader sqs-poll` events/s vs `loader load` of the same S3 bytes, and peak RSS
while loading one large object vs an idle process's RSS.

Everything runs against moto's S3+SQS server on 127.0.0.1 (started here) and fresh chDB folders, each
command in its own subprocess; peak RSS comes from os.wait4's rusage of that subprocess.

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
    """Run `python -m loader ARGS`; return wall seconds, peak RSS in MB and stdout."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([sys.executable, "-m", "loader", *args], stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t0
        out.seek(0)
        text = out.read().decode()
    if proc.returncode:
        raise SystemExit(f"loader {' '.join(args)} failed with {proc.returncode}")
    return wall, usage.ru_maxrss // 1024, text


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

        big = os.path.join(tmp, "big.jsonl")
        n = args.rss_mb * 1024 * 1024 // 800  # ~800 bytes per generated event
        with open(big, "wb") as f:
            write(f, n, "jsonl", "none", seed=2)
        size = os.path.getsize(big)
        s3.upload_file(big, BUCKET, "bench/big.jsonl")
        os.remove(big)
        _, idle, _ = run(["info", "--dsn", f"chdb://{tmp}/idle"])
        wall, peak, out = run(["load", f"s3://{BUCKET}/bench/big.jsonl", "--dsn", f"chdb://{tmp}/big",
                               "--ttl-days", "0", "--format", "json"])
        print(f"large object: {size / 2**20:,.0f} MiB, {n:,} events loaded in {wall:.0f}s; peak RSS {peak} MB "
              f"vs idle process {idle} MB: ratio {peak / idle:.1f}")


if __name__ == "__main__":
    main()
