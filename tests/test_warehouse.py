"""One door to ClickHouse: every error of the client reaches callers as a WarehouseError typed by
ClickHouse's error code, with one line of message, against the real embedded engine."""

from __future__ import annotations

import dataclasses
import re
import socket
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import loader
from loader.hunt import ParamError, check_params, run_rule
from loader.rules import load_rules
from loader.warehouse import AccessDenied, QueryError, Unreachable, UnknownDatabase, Warehouse, WarehouseError


@pytest.fixture(scope="module")
def bare(engine_dir: Path):
    """A database of its own, without the schema: these tests need no tables but one."""
    db = f"w_{uuid.uuid4().hex[:12]}"
    wh = Warehouse(f"chdb://{engine_dir}?database={db}")
    wh.command("CREATE TABLE t (n UInt8, s String) ENGINE = MergeTree ORDER BY n")
    yield wh
    wh.command(f"DROP DATABASE IF EXISTS `{db}`")
    wh.close()


def refused(call, *args) -> WarehouseError:
    with pytest.raises(WarehouseError) as caught:
        call(*args)
    return caught.value


def one_line(error: WarehouseError) -> str:
    text = str(error)
    assert "\n" not in text and text.count("DB::Exception") <= 1 and "(version" not in text, text
    return text


@pytest.mark.parametrize("sql, code, name", [
    ("SELEC 1", 62, "SYNTAX_ERROR"),
    ("SELECT * FROM no_such_table", 60, "UNKNOWN_TABLE"),
    ("SELECT no_such_column FROM t", 47, "UNKNOWN_IDENTIFIER"),
])
def test_a_statement_clickhouse_refuses_is_a_query_error_with_its_code(bare, sql, code, name):
    error = refused(bare.rows, sql)
    assert type(error) is QueryError and error.code == code
    assert one_line(error).startswith(f"Code: {code}.") and one_line(error).endswith(f"({name})")


def test_every_door_types_its_errors(bare):
    assert refused(bare.command, "SELEC 1").code == 62
    assert refused(bare.raw, "SELEC 1", "JSON").code == 62
    assert refused(bare.query_dicts, "SELEC 1").code == 62
    assert refused(bare.rows, "SELECT {v:UInt8}", {"v": "abc"}).code == 457  # a parameter not of its type


def test_a_refused_insert_names_its_table(bare):
    error = refused(bare.insert, "no_such_table", [[1]], ["n"])
    assert type(error) is QueryError and error.code == 60
    assert one_line(error).startswith("no_such_table write failed: ")
    # a value the client cannot convert to the column's type is refused as well, before ClickHouse sees it
    error = refused(bare.insert, "t", [["x", "a"]], ["n", "s"])
    assert type(error) is QueryError and error.code is None and str(error).startswith("t write failed: ")


def test_inserts_and_query_dicts(bare):
    bare.insert("t", [[1, "a"], [2, "b"]], ["n", "s"])
    assert bare.query_dicts("SELECT n, s FROM t ORDER BY n") == [{"n": 1, "s": "a"}, {"n": 2, "s": "b"}]
    assert re.fullmatch(r"\d+(\.\d+)+", bare.server_version)


def test_unknown_database_and_missing_grant_are_typed(bare):
    error = refused(bare.rows, "SELECT 1 FROM no_such_db.t")
    assert type(error) is UnknownDatabase and error.code == 81
    assert one_line(error).startswith("unknown database 'no_such_db'")
    error = refused(bare.command, "CREATE USER intruder")  # chDB has no writable access storage
    assert type(error) is AccessDenied and error.code == 497
    assert one_line(error).startswith("user 'default' is missing a grant: needs CREATE USER ON intruder")


def test_no_answer_is_unreachable(monkeypatch):
    monkeypatch.setenv("LOADER_RETRIES", "0")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    error = refused(Warehouse, f"http://u:pw@127.0.0.1:{port}/audit")
    assert type(error) is Unreachable and error.code is None and "connection refused" in one_line(error)


def test_about_keeps_class_and_code():
    error = QueryError("Code: 62. DB::Exception: Syntax error", 62).about("rule k8s-x")
    assert type(error) is QueryError and error.code == 62
    assert str(error) == "rule k8s-x: Code: 62. DB::Exception: Syntax error"


def test_hunt_sees_typed_errors(bare):
    rule = next(r for r in load_rules() if "threshold" in r.params and r.params["threshold"].type == "UInt32")
    with pytest.raises(ParamError, match="is not a valid UInt32"):
        check_params(bare, [rule], {"threshold": "many"})
    broken = dataclasses.replace(rule, sql="SELEC 1")
    end = datetime.now(timezone.utc)
    with pytest.raises(QueryError, match=f"^rule {rule.id}: Code: 62") as caught:
        run_rule(bare, broken, end - timedelta(hours=1), end)
    assert caught.value.code == 62


def test_only_the_warehouse_module_uses_clickhouse_connect():
    package = Path(loader.__file__).parent
    users = sorted(str(f.relative_to(package)) for f in package.rglob("*.py")
                   if re.search(r"^\s*(import|from)\s+clickhouse_connect\b", f.read_text(), re.M))
    assert users == ["warehouse.py"]
