"""What IP lookups cost at load: events/s with empty IP databases (baseline) vs with NETWORKS networks loaded,
measured in the same run on an embedded warehouse in a temporary folder; also the import rate.

    python bench/ipdb_lookup.py [EVENTS] [NETWORKS]
"""

from __future__ import annotations

import io
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

from loader.ipdb import import_path, reload_dictionaries
from loader.pipeline import Settings, load_stream
from loader.warehouse import Warehouse


def events(n: int, rng: random.Random, slash24s: list[int]) -> bytes:
    """Half the source addresses fall in a loaded network, half anywhere."""
    out = []
    for i in range(n):
        s = rng.choice(slash24s) if i % 2 else rng.randrange(1 << 16, 223 << 16)
        ip = f"{s >> 16}.{s >> 8 & 255}.{s & 255}.{rng.randint(1, 254)}"
        out.append(json.dumps({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": str(uuid.UUID(int=rng.getrandbits(128))),
                               "stage": "ResponseComplete", "verb": "get", "requestURI": "/api/v1/pods",
                               "user": {"username": "u"}, "sourceIPs": [ip],
                               "requestReceivedTimestamp": "2026-01-01T00:00:00Z", "stageTimestamp": "2026-01-01T00:00:00Z"}))
    return ("\n".join(out) + "\n").encode()


def load(wh: Warehouse, data: bytes) -> float:
    t0 = time.monotonic()
    r = load_stream(wh, "bench", io.BytesIO(data), Settings(ttl_days=0))
    return r.events / (time.monotonic() - t0)


def main(n_events: int = 20_000, n_networks: int = 100_000) -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as d:
        wh = Warehouse(f"chdb://{d}/engine?database=bench")
        wh.apply_schema()
        starts = sorted(rng.sample(range(1 << 16, 223 << 16), n_networks))  # distinct /24s
        load(wh, events(1000, rng, starts))  # warm-up
        base = load(wh, events(n_events, rng, starts))
        csv = Path(d) / "dbip-asn-lite.csv"
        csv.write_text("".join(f"{s >> 16}.{s >> 8 & 255}.{s & 255}.0,{s >> 16}.{s >> 8 & 255}.{s & 255}.255,"
                               f"{64512 + s % 1000},AS-{s % 1000}\n" for s in starts))
        t0 = time.monotonic()
        imported = import_path(wh, csv)
        reload_dictionaries(wh)
        import_rate = imported.networks / (time.monotonic() - t0)
        with_db = load(wh, events(n_events, rng, starts))
        hit = wh.rows("SELECT countIf(srcASNumber != 0) / {n:UInt32} FROM kubernetes_audit_logs", {"n": n_events})[0][0]
        wh.close()
    print(f"events/s empty databases: {base:,.0f}")
    print(f"events/s with {n_networks:,} networks: {with_db:,.0f}  (ratio {with_db / base:.2f}, {hit:.1%} of those rows matched)")
    print(f"import: {import_rate:,.0f} networks/s")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
