"""Team deployment without Docker: the access SQL, the cluster DDL and the server client's errors,
checked against the embedded engine (chDB) and real sockets.

chDB (clickhouse-local) has only the read-only users.xml access storage, so CREATE USER / ROLE /
ROW POLICY / SETTINGS PROFILE cannot run in it (test_chdb_cannot_create_access_entities pins that).
What it can do, it does here: parse every statement, resolve every table they name against the real
schema, run the row-policy filter and the analyst limits on real rows. tests/test_compose.py runs
the same SQL for real in the compose stack.
"""

from __future__ import annotations

import http.server
import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import CORPUS, load_bytes
from loader.cli import app
from loader.cluster import SHARDED, apply_cluster, cluster_schema
from loader.warehouse import Warehouse, WarehouseError, schema_files, statements

ROOT = Path(__file__).resolve().parents[1]
ACCESS = ROOT / "deploy" / "clickhouse" / "access.sql"
INITDB = ROOT / "deploy" / "clickhouse" / "initdb" / "10-access.sh"
CREATED = re.compile(r"^CREATE\s+(?:OR\s+REPLACE\s+)?(TABLE|MATERIALIZED VIEW|VIEW|DICTIONARY|FUNCTION)\s+"
                     r"(?:IF NOT EXISTS\s+)?(\w+)", re.M)


def formatted(wh: Warehouse, sql: str) -> str:
    """The statement as ClickHouse's parser understands it (fails on any syntax error)."""
    return wh.rows("SELECT formatQuery({q:String})", {"q": sql})[0][0]


# -- cluster DDL --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster_ddl() -> list[str]:
    return [s for _, stmts in cluster_schema("audit") for s in stmts]


def test_cluster_ddl_parses_and_creates_every_object_on_the_cluster(wh, cluster_ddl):
    texts = [formatted(wh, s) for s in cluster_ddl]
    created = {}
    for t in texts:
        if t.startswith(("DROP", "ALTER")):  # upgrades of what exists run on every node too
            assert " ON CLUSTER audit" in t, t[:200]
            assert not re.match(rf"ALTER TABLE ({'|'.join(SHARDED)}) ", t), "alter the shards, not Distributed"
            continue
        kind, name = CREATED.search(t).groups()
        assert f"{name} ON CLUSTER audit" in t, t[:200]
        created[name] = t
    # every object the single-server schema has (tables, views, dictionaries) exists in cluster form
    live = {r[0] for r in wh.rows("SELECT name FROM system.tables WHERE database = currentDatabase()")}
    functions = {m.group(2) for f in schema_files() for m in CREATED.finditer(f.read_text()) if m.group(1) == "FUNCTION"}
    assert live | functions <= created.keys(), (live | functions) - created.keys()
    for name, key in SHARDED.items():
        assert f"{name}_local" in created
        assert re.search(rf"ENGINE = Distributed\(`?audit`?, currentDatabase\(\), {name}_local, {re.escape(key)}\)",
                         created[name]), created[name][-300:]
    assert SHARDED["kubernetes_audit_logs"] == "cityHash64(id)"


def test_cluster_tables_replicate_and_keep_dedup_windows(wh, cluster_ddl):
    for t in (formatted(wh, s) for s in cluster_ddl):
        if m := re.search(r"ENGINE = (\w+)", t):
            engine = m.group(1)
            assert "non_replicated_deduplication_window" not in t
            if engine.endswith("MergeTree"):
                assert engine.startswith("Replicated"), t[:200]
                assert "'{replica}'" in t and "replicated_deduplication_window = 10000" in t
                assert ("{shard}" in t) == any(f"{n}_local " in t for n in SHARDED), t[:200]


def test_materialized_views_write_to_cluster_objects(wh, cluster_ddl):
    texts = [formatted(wh, s) for s in cluster_ddl]
    names = {m.group(2) for t in texts if (m := CREATED.search(t))}
    targets = [re.search(r"\bTO (\w+)", t).group(1) for t in texts if t.startswith("CREATE MATERIALIZED VIEW")]
    assert targets and set(targets) <= names
    assert "kubernetes_audit_logs" in targets  # the Distributed table: each row goes to its shard


def test_schema_show_cluster_prints_the_cluster_form():
    out = CliRunner().invoke(app, ["schema", "show", "--on-cluster", "audit"])
    assert out.exit_code == 0, out.output
    assert "CREATE TABLE IF NOT EXISTS kubernetes_audit_logs_local ON CLUSTER `audit`" in out.output
    assert "ENGINE = Distributed(`audit`" in out.output
    plain = CliRunner().invoke(app, ["schema", "show"])
    assert "ON CLUSTER" not in plain.output and "ENGINE = ReplacingMergeTree" in plain.output


def test_apply_cluster_refuses_a_cluster_the_server_does_not_know(wh):
    with pytest.raises(ValueError, match="no cluster named 'nope'"):
        apply_cluster(wh, "nope")


# -- access: users, roles, limits, row policy ----------------------------------------------------
def access_statements() -> list[str]:
    return statements(ACCESS.read_text())


def access_texts(wh: Warehouse) -> list[str]:
    return [formatted(wh, s) for s in access_statements()]


def test_access_sql_parses(wh):
    texts = access_texts(wh)
    assert any(t.startswith("CREATE ROW POLICY") for t in texts)
    assert any(t.startswith("CREATE SETTINGS PROFILE") for t in texts)


def test_chdb_cannot_create_access_entities(wh):
    """If a chDB release gains writable access storage, this fails: then apply access.sql here for real."""
    with pytest.raises(WarehouseError, match="missing a grant: needs CREATE ROLE"):
        wh.command(access_statements()[0])


def test_every_table_the_access_sql_names_exists(wh):
    named = set()
    for t in access_texts(wh):
        named |= set(re.findall(r"\bON (\w+)(?: | TO| FROM|$)", t))
    assert {"kubernetes_audit_logs", "kubernetes_audit_logs_ingest", "ingest_ledger", "ingest_chunks",
            "schema_migrations"} <= named
    wh.command("CREATE TABLE IF NOT EXISTS schema_migrations (file String) ENGINE = Memory")  # made by apply_schema
    live = {r[0] for r in wh.rows("SELECT name FROM system.tables WHERE database = currentDatabase()")}
    on_cluster = {m for _, stmts in cluster_schema("c") for s in stmts
                  for m in re.findall(r"^CREATE TABLE IF NOT EXISTS (\w+_local)\b", s, re.M)}
    assert on_cluster == {f"{t}_local" for t in SHARDED}
    # the *_local names exist only on a cluster; every other name on one server
    assert named <= live | on_cluster, named - live - on_cluster


def test_analysts_reach_the_shards_of_what_they_read_with_the_same_policy(wh):
    """On a cluster shards run a query's remote part as its user: a sharded table an analyst reads
    needs the grant and the workspace policy on its *_local table too, or the query fails or leaks."""
    texts = access_texts(wh)
    grants = {m for t in texts for m in re.findall(r"^GRANT SELECT ON (\w+) TO analyst$", t)}
    policies = {re.search(r" ON (\w+) ", t).group(1): re.search(r" USING (.+) TO ", t).group(1)
                for t in texts if t.startswith("CREATE ROW POLICY")}
    for table in SHARDED:
        assert table in grants and f"{table}_local" in grants
        assert policies[f"{table}_local"] == policies[table]


def test_row_policy_filter_keeps_only_the_analysts_workspace(wh):
    data = b"".join(p.read_bytes() for p in sorted((CORPUS / "sysdiglabs__stackdriver-webhook-bridge").glob("*.json"))[:3])
    for ws in ("team-a", "team-b"):
        r = load_bytes(wh, b"\n".join([data, b"not json", b""]), name=f"{ws}.log", workspace=ws)
        assert r.events > 0 and r.rejects > 0
    policies = [t for t in access_texts(wh) if t.startswith("CREATE ROW POLICY")]
    assert {re.search(r" ON (\w+)", p).group(1) for p in policies} == \
        {"kubernetes_audit_logs", "kubernetes_audit_logs_rejects", "ingest_ledger",
         "kubernetes_audit_logs_local", "kubernetes_audit_logs_rejects_local"}
    for p in policies:
        table = re.search(r" ON (\w+)", p).group(1).removesuffix("_local")  # a shard holds the same columns
        assert "AS RESTRICTIVE" in p and p.endswith("TO analyst")
        using = re.search(r"USING (.+) TO analyst$", p).group(1)
        # the policy's own expression on the real table; the bound setting becomes a query parameter
        where = using.replace("getSetting('SQL_workspace')", "{ws:String}")
        assert where != using
        seen = wh.rows(f"SELECT DISTINCT workspaceID FROM {table} WHERE {where}", {"ws": "team-a"})
        assert seen == [("team-a",)], (table, seen)


def test_analyst_limits_are_settings_the_engine_accepts(wh):
    profile = next(t for t in access_texts(wh) if t.startswith("CREATE SETTINGS PROFILE"))
    body = re.search(r"^CREATE SETTINGS PROFILE IF NOT EXISTS \S+ SETTINGS (.+)$", profile).group(1)
    values = [re.sub(r" (MIN|MAX) \S+", "", x.strip()) for x in body.split(",")]
    assert any(v.startswith("readonly = 2") for v in values) and any(v.startswith("max_execution_time") for v in values)
    assert wh.rows(f"SELECT count() FROM kubernetes_audit_logs SETTINGS {', '.join(values)}") == [(0,)]


def test_initdb_script_sql_parses_and_hashes_passwords(wh, tmp_path):
    """Run the first-start script with `clickhouse` on PATH replaced by a recorder of the SQL it is given,
    then parse every recorded statement with the real engine."""
    log = tmp_path / "sql.log"
    shim = tmp_path / "bin" / "clickhouse"
    shim.parent.mkdir()
    shim.write_text("#!/bin/bash\n# records the SQL `clickhouse client` would run\n"
                    "while [ $# -gt 0 ]; do case $1 in --query) printf '%s;\\n' \"$2\" >>\"$LOG\"; shift;; "
                    "--queries-file) cat \"$2\" >>\"$LOG\"; shift;; esac; shift; done\n")
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{shim.parent}:{os.environ['PATH']}", "LOG": str(log),
           "CLICKHOUSE_USER": "admin", "CLICKHOUSE_PASSWORD": "adminpw", "CLICKHOUSE_DB": "audit",
           "LOADER_PASSWORD": "loader-secret", "DETECT_PASSWORD": "detect-secret",
           "ANALYSTS": "alice:team-a bob:team-b", "ANALYST_PASSWORD": "shared-secret", "ANALYST_PASSWORD_BOB": "bob-secret"}
    run = subprocess.run(["bash", str(INITDB)], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    recorded = statements(log.read_text().replace("/etc/clickhouse-server/access.sql", ""))
    texts = [formatted(wh, s) for s in recorded if not s.startswith("--")]
    text = "\n".join(texts)
    for secret in ("loader-secret", "detect-secret", "shared-secret", "bob-secret"):
        assert secret not in text
    assert "CREATE USER IF NOT EXISTS alice IDENTIFIED WITH sha256_hash" in text
    assert "SQL_workspace = 'team-a' CONST" in text and "SQL_workspace = 'team-b' CONST" in text
    assert "GRANT ingest TO loader" in text and "GRANT analyst TO bob" in text
    assert "REVOKE INSERT ON audit.kubernetes_audit_logs FROM detect" in text
    bad = subprocess.run(["bash", str(INITDB)], env={**env, "ANALYSTS": "alice:team-a;DROP"}, capture_output=True, text=True)
    assert bad.returncode != 0 and "bad ANALYSTS entry" in bad.stderr


def test_initdb_refuses_to_run_without_passwords(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("LOADER_PASSWORD", "DETECT_PASSWORD")}
    run = subprocess.run(["bash", str(INITDB)], env=env, capture_output=True, text=True)
    assert run.returncode != 0 and "LOADER_PASSWORD" in run.stderr


# -- server client --------------------------------------------------------------------------------
def closed_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_closed_port_says_connection_refused_without_the_password(monkeypatch):
    monkeypatch.setenv("LOADER_RETRIES", "1")
    monkeypatch.setenv("LOADER_RETRY_BACKOFF", "0.01")
    with pytest.raises(WarehouseError) as e:
        Warehouse(f"http://loader:s3cret@127.0.0.1:{closed_port()}/audit")
    assert "connection refused" in str(e.value) and "s3cret" not in str(e.value)
    assert "loader:***@" in str(e.value)


def test_cli_against_closed_port_exits_with_one_clear_line():
    env = {**os.environ, "LOADER_RETRIES": "0"}
    run = subprocess.run([sys.executable, "-m", "loader", "info", "--dsn", f"http://u:pw@127.0.0.1:{closed_port()}/audit"],
                         env=env, capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1
    assert "connection refused" in run.stderr and "Traceback" not in run.stderr and ":pw@" not in run.stderr


def test_https_dsn_speaks_tls(monkeypatch):
    """clickhouse-connect reads no scheme from a DSN: an https:// DSN must still mean TLS. A plain HTTP
    listener cannot complete a TLS handshake, so the error names TLS."""
    monkeypatch.setenv("LOADER_RETRIES", "0")
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(WarehouseError, match="TLS failed"):
            Warehouse(f"https://u:pw@127.0.0.1:{server.server_port}/audit")
    finally:
        server.shutdown()


def test_unknown_database_and_missing_grant_are_named(wh):
    with pytest.raises(WarehouseError, match="unknown database 'no_such_db'"):
        wh.rows("SELECT 1 FROM no_such_db.t")
    with pytest.raises(WarehouseError, match=r"user 'default' is missing a grant: needs CREATE USER ON intruder"):
        wh.command("CREATE USER intruder")
