"""Shared fixtures: a real embedded ClickHouse (chDB) warehouse per test, isolated by database.

chDB hosts one engine path per process, so every test in this process shares one engine folder and
gets a database of its own. Tests that run the CLI in a subprocess give it a folder of its own.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest

import loader
from loader.pipeline import Result, Settings, load_stream
from loader.rulecheck import reset
from loader.warehouse import Warehouse

# Test data comes from the repository only: the samples the package ships (real corpus, seeds' raw Events)
# and tests/data for what only the tests need.
SAMPLES = Path(loader.__file__).resolve().parent / "samples"
CORPUS = SAMPLES / "corpus"
SEEDS = SAMPLES / "seeds"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def engine_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture(scope="session")
def _session_wh(engine_dir: Path):
    db = f"t_{uuid.uuid4().hex[:12]}"
    w = Warehouse(f"chdb://{engine_dir}?database={db}")
    w.apply_schema()
    yield w
    w.command(f"DROP DATABASE IF EXISTS `{db}`")
    w.close()


@pytest.fixture
def wh(_session_wh: Warehouse):
    """An empty warehouse with the schema applied. Applying the schema per test costs seconds, so one database
    serves the session and every table is truncated before each test (TRUNCATE also clears the insert
    deduplication log, so a test can load what an earlier one loaded)."""
    w = _session_wh
    reset(w)
    for (name,) in w.rows("SELECT name FROM system.dictionaries WHERE database = currentDatabase()"):
        w.command(f"SYSTEM RELOAD DICTIONARY `{name}`")
    return w


def load_bytes(wh: Warehouse, data: bytes, name: str = "test.log", identity: str | None = None, **settings) -> Result:
    """Load bytes through the real pipeline, as `loader load` does for a file."""
    settings.setdefault("ttl_days", 0)  # fixtures are old events: keep them
    return load_stream(wh, name, io.BytesIO(data), Settings(**settings), identity=identity)


def one(wh: Warehouse, sql: str, **params):
    rows = wh.rows(sql, params or None)
    assert len(rows) == 1, rows
    return rows[0]


@pytest.fixture(scope="session")
def report_folder(tmp_path_factory) -> tuple[Path, object]:
    """An embedded warehouse folder holding the catalog's true-positive events moved to an hour ago and the
    findings `loader detect` made of them (tests/reportdata.py); (folder, time of the last event)."""
    from reportdata import build
    folder = tmp_path_factory.mktemp("report") / "warehouse"
    return folder, build(folder)
