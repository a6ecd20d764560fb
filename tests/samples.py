"""Read the reference samples the way a test needs them: raw audit Events out of the seed documents.

The package ships the seeds' raw Events in loader/samples/seeds (scripts/extract_samples.py). The seeds also
hold normalizer outputs that wrap an Event as a JSON string in 'message'; only the tests need those, so they are
in tests/data/seed_normalized.json, copied verbatim from seeds 000-002.
"""

from __future__ import annotations

import json

from conftest import DATA, SEEDS


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
    """auditID -> the raw Event text, for every raw Event sample of seeds 000-002 as the package ships it."""
    events: dict[str, str] = {}
    for f in sorted(SEEDS.glob("*.json")):
        for text, value in json_values(f.read_text()):
            if isinstance(value, dict) and value.get("auditID") and value.get("verb"):
                events.setdefault(value["auditID"], text)
    return events


def seed_documents() -> list[str]:
    """Every seed document: the raw Events and the normalizer outputs wrapping one in 'message'."""
    normalized = [text for text, _ in json_values((DATA / "seed_normalized.json").read_text())]
    return list(seed_raw_events().values()) + normalized
