"""The ingest ledger: where each source's load stands, for people (`loader` reports) and for resuming.

A load appends one ingest_ledger row per state it reaches: `begin` (loading, when the source's identity
is known before reading it), then `done`, `failed` or `interrupted` with what it committed. The newest
row (updatedAt) is the state; `loaded` asks whether that is done, so a rerun skips the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from .warehouse import Warehouse

_COLUMNS = ["workspaceID", "sourceID", "source", "identity", "size", "events", "rejects", "chunks", "status", "error",
            "startedAt", "finishedAt", "updatedAt"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Progress:
    """How far a load got: which content (identity) and what of it was committed."""
    identity: str
    size: int
    events: int = 0
    rejects: int = 0
    chunks: int = 0


@dataclass
class Ledger:
    """The ledger rows of one source in one workspace, as one attempt to load it writes them."""
    wh: Warehouse
    workspace: str
    source_id: str
    source: str
    started: datetime = field(default_factory=_now)

    def loaded(self, identity: str) -> bool:
        """Whether this source with this identity is completely loaded."""
        rows = self.wh.rows("SELECT argMax(status, updatedAt) FROM ingest_ledger WHERE workspaceID = {w:String} "
                            "AND source = {s:String} AND identity = {i:String}",
                            {"w": self.workspace, "s": self.source, "i": identity})
        return bool(rows) and rows[0][0] == "done"

    def begin(self, progress: Progress) -> None:
        self._write("loading", progress, "")

    def done(self, progress: Progress) -> None:
        self._write("done", progress, "")

    def failed(self, progress: Progress, error: str) -> None:
        self._write("failed", progress, error)

    def interrupted(self, progress: Progress) -> None:
        self._write("interrupted", progress, "interrupted")

    def _write(self, status: str, p: Progress, error: str) -> None:
        now = _now()
        finished = None if status == "loading" else now  # a load still going has no end yet
        self.wh.insert("ingest_ledger", [[self.workspace, self.source_id, self.source, p.identity, p.size, p.events,
                                          p.rejects, p.chunks, status, error, self.started, finished, now]], _COLUMNS)
