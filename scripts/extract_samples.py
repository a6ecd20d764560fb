"""Copy the real corpus and the seeds' raw Event samples into loader/samples/ (run once; the output is committed).

The demo ships these inside the package so that it needs nothing outside it at run time.
Seed 000 shows normalized events whose `message` holds the raw Event as a JSON string; seeds 001 and
002 list raw Events pretty-printed between "Raw Events Samples" and "Event Categories".
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared")
OUT = ROOT / "loader" / "samples"


def values(text: str) -> list:
    """Every top-level JSON object in text, in order."""
    dec, out, i = json.JSONDecoder(), [], 0
    while (i := text.find("{", i)) >= 0:
        value, i = dec.raw_decode(text, i)
        out.append(value)
    return out


def seed_000(text: str) -> list[str]:
    blocks = re.findall(r"```json\s*(.*?)```", text, re.S)
    return [json.loads(block)["message"] for block in blocks]


def seed_raw(text: str) -> list[str]:
    raw = text.split("Raw Events Samples", 1)[1].split("Event Categories", 1)[0]
    return [json.dumps(v, indent=4) for v in values(raw.split("\n\n", 2)[2])]


def main() -> None:
    shutil.rmtree(OUT / "corpus", ignore_errors=True)
    shutil.copytree(SHARED / "corpus" / "real", OUT / "corpus")
    (OUT / "seeds").mkdir(parents=True, exist_ok=True)
    for seed in sorted((SHARED / "seeds").glob("00[012]_*.txt")):
        text = seed.read_text()
        events = seed_000(text) if seed.name.startswith("000") else seed_raw(text)
        target = OUT / "seeds" / (seed.stem + ".json")
        target.write_text("\n".join(events) + "\n")
        print(f"{target.relative_to(ROOT)}: {len(events)} events")


if __name__ == "__main__":
    main()
