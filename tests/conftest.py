"""Shared fixtures: a real embedded ClickHouse (chDB) warehouse per test, isolated by database.

chDB hosts one engine path per process, so every test in this process shares one engine folder and
gets a database of its own. Tests that run the CLI in a subprocess give it a folder of its own.
"""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import pytest

from loader.pipeline import Result, Settings, load_stream
from loader.warehouse import Warehouse

SHARED = Path(os.environ.get("LOADER_SHARED", Path(__file__).resolve().parents[2] / "shared"))
CORPUS = SHARED / "corpus" / "real"
SEEDS = SHARED / "seeds"


@pytest.fixture(scope="session")
def engine_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def wh(engine_dir: Path):
    """A fresh warehouse with the schema applied."""
    db = f"t_{uuid.uuid4().hex[:12]}"
    w = Warehouse(f"chdb://{engine_dir}?database={db}")
    w.apply_schema()
    yield w
    w.command(f"DROP DATABASE IF EXISTS `{db}`")
    w.close()


def load_bytes(wh: Warehouse, data: bytes, name: str = "test.log", identity: str | None = None, **settings) -> Result:
    """Load bytes through the real pipeline, as `loader load` does for a file."""
    settings.setdefault("ttl_days", 0)  # fixtures are old events: keep them
    return load_stream(wh, name, io.BytesIO(data), Settings(**settings), identity=identity)


def one(wh: Warehouse, sql: str, **params):
    rows = wh.rows(sql, params or None)
    assert len(rows) == 1, rows
    return rows[0]
