"""Pipeline: one source's bytes -> decode -> units -> redact -> chunks with dedup tokens -> the warehouse.

Every chunk is one INSERT into the ingest table with a deterministic deduplication token, so a chunk
that is sent again (a retry, a restart, a second consumer) adds nothing. Tokens come from the
source's identity (S3: bucket, key, ETag/version) or, for local content, from a hash of every unit
up to the chunk's end, so the same content loads once whatever its path.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import BinaryIO, TypeVar

import pyarrow as pa

from .decode import DecodeError, decode
from .ledger import Ledger, Progress
from .redact import cut_bodies, redact_unit
from .units import DEFAULT_MAX_UNIT, Unit, split_units
from .warehouse import Warehouse, WarehouseError

T = TypeVar("T")
_END = object()
CHUNK_UNITS = 50_000
CHUNK_BYTES = 64 * 1024 * 1024


@dataclass
class Settings:
    workspace: str = "default"
    source_id: str = "file"
    ttl_days: int = 365
    cluster: str = ""
    redact: bool = True
    max_unit: int = DEFAULT_MAX_UNIT
    chunk_units: int = CHUNK_UNITS
    chunk_bytes: int = CHUNK_BYTES


@dataclass
class Result:
    source: str
    identity: str = ""
    size: int = 0
    events: int = 0
    rejects: int = 0
    chunks: int = 0
    seconds: float = 0.0
    status: str = "done"
    error: str = ""
    new_events: int = 0   # of those, what this load added: a chunk inserted before adds nothing
    new_rejects: int = 0

    def add(self, other: "Result") -> None:
        self.size += other.size
        self.events += other.events
        self.rejects += other.rejects
        self.chunks += other.chunks
        self.new_events += other.new_events
        self.new_rejects += other.new_rejects


class _Counting:
    """Wraps a binary stream: counts and hashes the bytes as they are read, reports progress."""

    def __init__(self, stream: BinaryIO, on_bytes: Callable[[int], None] | None):
        self._stream = stream
        self._on_bytes = on_bytes
        self.size = 0
        self.sha256 = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self.size += len(data)
        self.sha256.update(data)
        if self._on_bytes and data:
            self._on_bytes(len(data))
        return data


class _Guard:
    """Ends the decoded stream at the first decoding error, so what decoded before it still loads;
    the damage itself then becomes one reject."""

    def __init__(self, blocks: Iterator[bytes]):
        self._blocks = blocks
        self.error: DecodeError | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._blocks
        except DecodeError as exc:
            self.error = exc

    def reject(self, counting: "_Counting") -> Iterator[Unit]:
        if self.error:
            yield Unit(f"<decoding stopped after {counting.size} bytes read>".encode(), 0, counting.size,
                       f"undecodable compression: {self.error}")


def _ahead(items: Iterator[T]) -> Iterator[T]:
    """The items of an iterator made by a thread one item ahead: reading, decoding and splitting the next
    chunk (Python) runs while ClickHouse inserts this one (chDB and the HTTP client release the GIL)."""
    ready: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                ready.put((True, item))
                if stop.is_set():
                    return
            ready.put((True, _END))
        except BaseException as exc:  # handed to the consumer, which raises it
            ready.put((False, exc))

    threading.Thread(target=produce, daemon=True, name="loader-read").start()
    try:
        while True:
            ok, item = ready.get()
            if not ok:
                raise item
            if item is _END:
                return
            yield item
    finally:  # the consumer stopped early (an error): unblock the producer so that its thread ends
        stop.set()
        try:
            ready.get_nowait()
        except queue.Empty:
            pass


def _redacted(u: Unit) -> Unit:
    # a unit cut for being too large cannot be parsed: if it mentions secrets anywhere, it keeps no bodies
    if not u.size:
        u.text = redact_unit(u.text)
    elif u.sensitive:
        u.text = cut_bodies(u.text)
    return u


def _table(chunk: list[Unit], s: Settings, source: str, token: str, number: int, received: int) -> pa.Table:
    n = len(chunk)
    const = lambda v, t: pa.array([v] * n, t)  # noqa: E731
    return pa.table({
        "workspaceID": const(s.workspace, pa.string()),
        "sourceID": const(s.source_id, pa.string()),
        "sourceTTL": const(s.ttl_days, pa.uint32()),
        "cluster": const(s.cluster, pa.string()),
        "source": const(source, pa.string()),
        "receivedAt": const(received, pa.uint32()),
        "token": const(token, pa.string()),
        "chunk": const(number, pa.uint32()),
        "line": pa.array([u.line for u in chunk], pa.uint64()),
        "byteOffset": pa.array([u.offset for u in chunk], pa.uint64()),
        "unit": pa.array([u.text for u in chunk], pa.binary()),
        "unitReason": pa.array([u.reason for u in chunk], pa.string()),
        "unitSize": pa.array([u.size for u in chunk], pa.uint64()),
        "unitSHA256": pa.array([u.sha256 for u in chunk], pa.string()),
    })


def load_stream(wh: Warehouse, name: str, stream: BinaryIO, settings: Settings, *, identity: str | None = None,
                size: int | None = None, on_bytes: Callable[[int], None] | None = None,
                on_chunk: Callable[[Result], None] | None = None) -> Result:
    """Load one source. identity: the S3 ETag/version when known; local content is identified by hash.

    Raises WarehouseError when ClickHouse fails and ReadError when the source cannot be read (the ledger
    then says how far the load got); bad input never raises: it becomes rejects.
    """
    ledger = Ledger(wh, settings.workspace, settings.source_id, name)
    t0 = time.monotonic()
    result = Result(name, identity or "")
    counting = _Counting(stream, on_bytes)
    # the token names what shapes the rows (settings), the source identity (or the content so far)
    # and the chunk number: the same content with the same settings loads once
    scope = hashlib.sha256("\0".join(map(str, (
        settings.workspace, settings.source_id, settings.ttl_days, settings.cluster, settings.redact,
        name if identity else "", identity or ""))).encode())
    if identity:  # local content is identified by its hash, known only at the end
        ledger.begin(Progress(identity, size or 0))

    def chunk_table(chunk: list[Unit], number: int) -> tuple[str, pa.Table]:
        if not identity:
            for u in chunk:
                scope.update(u.text)
        token = f"{scope.hexdigest()[:32]}:{number}"
        return token, _table(chunk, settings, name, token, number, int(time.time()))

    def tables() -> Iterator[tuple[str, pa.Table]]:
        guard = _Guard(decode(counting))
        units = split_units(guard, settings.max_unit)
        if settings.redact:
            units = map(_redacted, units)
        chunk: list[Unit] = []
        size = number = 0
        for u in chain(units, guard.reject(counting)):
            chunk.append(u)
            size += len(u.text)
            if len(chunk) >= settings.chunk_units or size >= settings.chunk_bytes:
                # the units go once their table is built: only tables wait in the queue
                done, chunk, size, number = chunk_table(chunk, number), [], 0, number + 1
                yield done
        if chunk:
            yield chunk_table(chunk, number)

    def progress() -> Progress:
        return Progress(result.identity or "partial-sha256:" + counting.sha256.hexdigest(), counting.size,
                        result.events, result.rejects, result.chunks)

    try:
        for token, table in _ahead(tables()):
            repeat = wh.chunk_loaded(token)
            wh.insert_units(table, token)
            events, rejects = wh.chunk_counts(token)
            result.events += events
            result.rejects += rejects
            if not repeat:  # a token already inserted was deduplicated: its rows were there before
                result.new_events += events
                result.new_rejects += rejects
            result.chunks += 1
            if on_chunk:
                on_chunk(result)
    except BaseException as exc:
        # whatever stopped the load, the ledger says what of the object was committed and why it stopped
        try:
            if isinstance(exc, KeyboardInterrupt):
                ledger.interrupted(progress())
            else:
                ledger.failed(progress(), f"{type(exc).__name__}: {exc}")
        except WarehouseError:
            pass  # the warehouse itself failed: the error that reaches the caller says so
        raise
    result.size = counting.size
    if not identity:
        result.identity = "sha256:" + counting.sha256.hexdigest()
    result.seconds = time.monotonic() - t0
    ledger.done(progress())
    return result
