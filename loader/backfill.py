"""Backfill: load the objects already under an S3 prefix, skipping those the ledger holds as done.

Resumable by construction: an interrupted run leaves finished objects 'done' in the ledger (skipped
next time) and a partly loaded one whose chunks the next run sends again with the same tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from .decode import ReadError
from .ledger import Ledger
from .pipeline import Result, Settings, load_stream
from .sources import Listed, open_s3, s3_client, s3_identity
from .warehouse import Warehouse


@dataclass
class Backfill:
    total: Result = field(default_factory=lambda: Result("total"))
    loaded: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)


def backfill(wh: Warehouse, bucket: str, objects: list[Listed], settings: Settings, *, client=None,
             on_object: Callable[[Listed, str], None] | None = None,
             on_bytes: Callable[[int], None] | None = None) -> Backfill:
    """Load objects (from sources.list_prefix) in order; on_object(obj, 'loaded'|'skipped'|'failed') after each.

    Raises WarehouseError when ClickHouse fails: what is done stays done, a rerun resumes.
    """
    client = client or s3_client()
    out = Backfill()
    for obj in objects:
        source = f"s3://{bucket}/{obj.key}"
        ledger = Ledger(wh, settings.workspace, settings.source_id, source)
        state = "loaded"
        # the listing has no version: versioned buckets are checked again with GetObject's identity
        if ledger.loaded(s3_identity(obj.etag, None)):
            state = "skipped"
        else:
            try:
                with open_s3(bucket, obj.key, client, etag=obj.etag) as src:
                    assert src.identity is not None  # open_s3 always gives the S3 ETag/version
                    if src.identity != s3_identity(obj.etag, None) and ledger.loaded(src.identity):
                        state = "skipped"
                    else:
                        r = load_stream(wh, src.name, src.stream, settings, identity=src.identity, size=src.size,
                                        on_bytes=on_bytes)
                        out.total.add(r)
            # deleted or replaced since the listing, denied, or the connection dropped mid-object
            except (ClientError, BotoCoreError, ReadError) as exc:
                out.failed.append(f"{source}: {exc}")
                state = "failed"
        if state == "loaded":
            out.loaded += 1
        elif state == "skipped":
            out.skipped += 1
            if on_bytes:
                on_bytes(obj.size)
        if on_object:
            on_object(obj, state)
    return out
