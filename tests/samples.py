"""Read the reference samples the way a test needs them: raw audit Events out of the seed documents."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import SEEDS


def json_values(text: str) -> list[tuple[str, object]]:
    """Every top-level JSON object embedded in a document, as (exact text, parsed value)."""
    dec = json.JSONDecoder()
    out, i = [], 0
    while (j := text.find("{", i)) >= 0:
        try:
            value, end = dec.raw_decode(text, j)
        except json.JSONDecodeError:
            i = j + 1
            continue
        out.append((text[j:end], value))
        i = end
    return out


def seed_raw_events() -> dict[str, str]:
    """auditID -> the raw (pretty-printed) Event text, for every raw Event sample in seeds 000-002."""
    events: dict[str, str] = {}
    for f in sorted(Path(SEEDS).glob("00[0-2]_*.txt")):
        for text, value in json_values(f.read_text()):
            if isinstance(value, dict) and value.get("auditID") and value.get("verb"):
                events.setdefault(value["auditID"], text)
    return events


def seed_documents() -> list[str]:
    """Every JSON value of seeds 000-002 as it appears (raw Events and normalizer outputs wrapping one in 'message')."""
    return [text for f in sorted(Path(SEEDS).glob("00[0-2]_*.txt")) for text, _ in json_values(f.read_text())]
