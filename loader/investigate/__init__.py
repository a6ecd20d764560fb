"""Investigation and cost: `loader timeline` (timeline.py), `loader rbac suggest` (rbac.py) and `loader volume`
(volume.py). Each runs the SQL files beside it (readable, with parameters, pasteable into clickhouse-client)
through a Warehouse, embedded or server alike, and only shapes their rows in Python."""

from __future__ import annotations

from functools import cache
from pathlib import Path

HERE = Path(__file__).parent


@cache
def sql(name: str) -> str:
    """The text of <name>.sql beside this module."""
    return (HERE / f"{name}.sql").read_text()
