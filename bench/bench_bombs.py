"""Bounded decoding benchmark: `loader load` of decompression bombs and long blank runs, next to a tiny
normal file, in one run.

Inputs, built here by streaming compressors (nothing holds the decompressed bytes):
- gzip bomb: one gzip member of N GiB of zeros (default 2); it decodes to one line of NULs, which the
  loader must read to its end in bounded memory and reject once (over --max-unit-bytes), then finish;
- bzip2 bomb and zstd bomb: the same zeros as one bzip2 stream and one zstd frame;
- blank run: 1 GiB of newlines then one event, gzip'd (the event must load);
- optionally a normal generated object of --normal-mib MiB (JSONL, uncompressed).
Each load runs in its own subprocess with a fresh chDB folder; its peak RSS is the child's own VmHWM.
Prints seconds, peak RSS, the ratio to the tiny file's peak, and events/rejects from the summary.

    python bench/bench_bombs.py [--bomb-gib 2] [--blank-gib 1] [--normal-mib 0]
"""

from __future__ import annotations

import argparse
import bz2
import io
import json
import sys
import tempfile
import time
import zlib
from pathlib import Path

import zstandard

sys.path.insert(0, str(Path(__file__).parent))
from bench_sqs import run  # noqa: E402  (the child's own peak RSS)

from loader.generate import write  # noqa: E402

MiB = 1024 * 1024


def compressed(path: Path, compressor, mib: int, piece: bytes, tail: bytes = b"") -> Path:
    """Write the compression of `mib` MiB of `piece` repeated, then `tail`, a MiB at a time."""
    chunk = piece * (MiB // len(piece))
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(compressor.compress(chunk))
        f.write(compressor.compress(tail))
        f.write(compressor.flush())
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bomb-gib", type=int, default=2, help="GiB of zeros in each bomb")
    ap.add_argument("--blank-gib", type=int, default=1, help="GiB of newlines before the one event")
    ap.add_argument("--normal-mib", type=int, default=0, help="size of a normal JSONL object (0: none)")
    args = ap.parse_args()
    event = io.BytesIO()
    write(event, 1, "jsonl", "none", seed=3)
    with tempfile.TemporaryDirectory(prefix="bench_bombs_") as tmp:
        d = Path(tmp)
        t0 = time.monotonic()
        tiny = d / "tiny.jsonl.gz"
        with open(tiny, "wb") as f:
            write(f, 100, "jsonl", "gzip", seed=4)
        bomb = args.bomb_gib * 1024
        inputs = {
            "tiny normal (100 events)": tiny,
            f"gzip bomb ({args.bomb_gib} GiB of zeros)":
                compressed(d / "zeros.gz", zlib.compressobj(9, zlib.DEFLATED, 31), bomb, b"\0"),
            f"bzip2 bomb ({args.bomb_gib} GiB of zeros)": compressed(d / "zeros.bz2", bz2.BZ2Compressor(9), bomb, b"\0"),
            f"zstd bomb ({args.bomb_gib} GiB of zeros)":
                compressed(d / "zeros.zst", zstandard.ZstdCompressor().compressobj(), bomb, b"\0"),
            f"{args.blank_gib} GiB of newlines + 1 event, gzip":
                compressed(d / "blank.gz", zlib.compressobj(6, zlib.DEFLATED, 31), args.blank_gib * 1024, b"\n",
                           event.getvalue()),
        }
        if args.normal_mib:
            normal = d / "normal.jsonl"
            with open(normal, "wb") as f:
                write(f, args.normal_mib * MiB // 800, "jsonl", "none", seed=2)  # ~800 bytes per event
            inputs[f"normal object ({normal.stat().st_size / MiB:,.0f} MiB JSONL)"] = normal
        print(f"built the inputs in {time.monotonic() - t0:.0f}s")

        base = None
        for i, (name, path) in enumerate(inputs.items()):
            wall, peak, out = run(["load", str(path), "--dsn", f"chdb://{tmp}/wh{i}", "--ttl-days", "0",
                                   "--format", "json"])
            summary = json.loads(out.splitlines()[-1])
            base = base or peak
            print(f"{name:<40} {path.stat().st_size / MiB:9.2f} MiB in  {wall:6.1f}s  peak RSS {peak:5d} MB "
                  f"({peak / base:.2f}x tiny)  {summary['events']:,} events, {summary['rejects']:,} rejects")


if __name__ == "__main__":
    main()
