"""docs/columns.md names every column of kubernetes_audit_logs and every actor / tags key the flattening writes."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "columns.md").read_text()
FLATTEN = (ROOT / "schema" / "050_flatten.sql").read_text()


def map_args(text: str) -> list[str]:
    """The top-level arguments of the first `map(...)` call in text (quotes and nested calls respected)."""
    i = re.search(r"\bmap\(", text).end()
    args, depth, quoted, arg = [], 0, False, ""
    for j, c in enumerate(text[i:], i):
        if quoted:
            quoted = not (c == "'" and text[j - 1] != "\\")
        elif c == "'":
            quoted = True
        elif c == "(":
            depth += 1
        elif c == ")" and depth == 0:
            return args + [arg.strip()]
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            args, arg = args + [arg.strip()], ""
            continue
        arg += c
    raise AssertionError("unbalanced map(")


def map_keys(alias: str) -> list[str]:
    """The keys of the map the flattening builds for the column `alias` (every other argument of map(...))."""
    # a select item starts on a line indented 4 spaces; its continuation lines are indented deeper (whole
    # items first: a lazy pattern up to `AS alias` backtracks for tens of seconds over the view)
    items = re.findall(r"^    \S.*(?:\n     +.*)*", FLATTEN, re.M)
    item = next((i for i in items if re.search(rf"\bAS {alias}\b", i)), None)
    assert item, f"no `AS {alias}` in 050_flatten.sql"
    keys = map_args(item[:re.search(rf"\bAS {alias}\b", item).start()])[0::2]
    assert keys and all(re.fullmatch(r"'[^']+'", k) for k in keys), keys
    return [k.strip("'") for k in keys]


def section(heading: str) -> str:
    """The text of docs/columns.md under a heading, up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    m = re.search(rf"^{re.escape(heading)}\n(.*?)(?=^#{{1,{len(level)}}} |\Z)", DOC, re.M | re.S)
    assert m, f"no {heading!r} in docs/columns.md"
    return m.group(1)


def undocumented(names: list[str], text: str) -> list[str]:
    """The names that have no table row of their own (`| `name` |`) in text."""
    return [n for n in names if f"| `{n}` |" not in text]


def test_every_column_is_documented(wh):
    columns = [r[0] for r in wh.rows("SELECT name FROM system.columns WHERE database = currentDatabase() "
                                     "AND table = 'kubernetes_audit_logs'")]
    assert len(columns) == 69
    assert undocumented(columns, section("## `kubernetes_audit_logs`")) == []


def test_every_actor_and_tags_key_is_documented():
    actor, tags = map_keys("actor"), map_keys("tags")
    assert {"username", "credentialID"} <= set(actor) and {"cluster", "source"} <= set(tags)  # the parse found them
    assert undocumented(actor, section("### `actor` keys")) == []
    assert undocumented(tags, section("### `tags` keys")) == []
