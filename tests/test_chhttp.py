"""ClickHouse's HTTP interface on the embedded warehouse (loader/chhttp.py), through a real clickhouse-connect
client and through raw requests as curl sends them.

chDB hosts one engine folder per process, so the server runs on the session's engine folder (conftest's
engine_dir) with a database of its own, which the DSN names and the server uses as its default database.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import http.client
import json
import logging
import threading
import uuid
import zlib
from urllib.parse import urlencode

import clickhouse_connect
import lz4.frame
import pandas as pd
import pyarrow as pa
import pytest
import zstandard
from clickhouse_connect.driver.exceptions import DatabaseError

from loader import chhttp
from loader.chhttp import Access, capped, choose_encoding, has_result, make_server
from loader.warehouse import Warehouse, WarehouseError

READER, WRITER = ("reader", "r-secret"), ("writer", "w-secret")


def _boom() -> tuple[bytes, str]:
    raise RuntimeError("route failed")


@pytest.fixture(scope="module")
def served(engine_dir):
    db = f"h_{uuid.uuid4().hex[:12]}"
    wh = Warehouse(f"chdb://{engine_dir}?database={db}")
    wh.apply_schema()
    access = Access(users={"default": "", READER[0]: READER[1], WRITER[0]: WRITER[1]}, writers={WRITER[0]},
                    limits={"max_execution_time": 1, "max_memory_usage": "4Gi"})
    routes = {"/metrics": lambda: (b"up 1\n", "text/plain; version=0.0.4"), "/boom": _boom}
    server = make_server(wh, access, "127.0.0.1", 0, routes, display_name="test-server")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_address[1], db, wh
    server.shutdown()
    server.server_close()
    thread.join(5)
    wh.command(f"DROP DATABASE IF EXISTS `{db}`")
    wh.close()


@pytest.fixture
def port(served):
    return served[0]


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def call(port: int, method: str = "GET", path: str = "/", params: dict | None = None, body: bytes | None = None,
         headers: dict | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path + (f"?{urlencode(params)}" if params else ""), body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def refused(result, status: int, code: int) -> str:
    got_status, headers, body = result
    text = body.decode()
    assert (got_status, headers["X-ClickHouse-Exception-Code"]) == (status, str(code)), text
    assert text.startswith(f"Code: {code}. DB::Exception: ") and text.endswith("\n"), text
    return text


def client(port: int, db: str, user: tuple[str, str] | None = None, **kw):
    auth = f"{user[0]}:{user[1]}@" if user else ""
    return clickhouse_connect.get_client(dsn=f"http://{auth}127.0.0.1:{port}/{db}", **kw)


# -- a real clickhouse-connect client ------------------------------------------------------------

@pytest.mark.parametrize("compress", ["lz4", "zstd", False])
def test_clickhouse_connect_writes_and_reads_the_audit_table(served, compress):
    port, db, _ = served
    w = client(port, db, WRITER, compress=compress)
    assert w.server_tz == dt.timezone.utc and w.server_version
    ws = f"ws-{compress}"
    rows = [[ws, "e1", "Event", dt.datetime(2024, 3, 1, 12, 0, 5), "s3", {"username": "alice", "uid": "7"}, ["pods", "secrets"]],
            [ws, "e2", "Event", dt.datetime(2024, 3, 1, 12, 0, 6), "file", {}, []]]
    summary = w.insert("kubernetes_audit_logs", rows,
                       column_names=["workspaceID", "id", "eventName", "eventTime", "sourceType", "actor", "resources"])
    assert summary.written_rows == 2
    assert w.command(f"SELECT count() FROM kubernetes_audit_logs WHERE workspaceID = '{ws}'") == 2
    assert w.command("SELECT 1 WHERE 0") == ""  # a result, empty: not a summary
    assert w.command("OPTIMIZE TABLE kubernetes_audit_logs FINAL").written_rows == 0  # no result: the summary

    r = client(port, db, READER, compress=compress)
    result = r.query("SELECT id, sourceType, actor, resources, eventTime, toTypeName(sourceType) FROM kubernetes_audit_logs "
                     "WHERE workspaceID = {ws:String} ORDER BY id", parameters={"ws": ws})
    assert result.result_rows == [
        ("e1", "s3", {"username": "alice", "uid": "7"}, ["pods", "secrets"], dt.datetime(2024, 3, 1, 12, 0, 5), "LowCardinality(String)"),
        ("e2", "file", {}, [], dt.datetime(2024, 3, 1, 12, 0, 6), "LowCardinality(String)")]
    assert int(result.summary["read_rows"]) >= 2 and result.summary["query_id"]
    df = r.query_df("SELECT id, resources FROM kubernetes_audit_logs WHERE workspaceID = {ws:String} ORDER BY id",
                    parameters={"ws": ws})
    assert list(df["id"]) == ["e1", "e2"] and list(df["resources"][0]) == ["pods", "secrets"]
    table = r.query_arrow(f"SELECT sourceType, actor FROM kubernetes_audit_logs WHERE workspaceID = '{ws}' ORDER BY id")
    assert table.column("sourceType").to_pylist() == ["s3", "file"]


def test_clickhouse_connect_datetime64_and_nullable(served):
    port, db, _ = served
    w = client(port, db, WRITER, compress="lz4")
    started = dt.datetime(2024, 5, 6, 7, 8, 9, 123000)
    w.insert("ingest_ledger", [["dt64", "a", started, None, started], ["dt64", "b", started, started, started]],
             column_names=["workspaceID", "source", "startedAt", "finishedAt", "updatedAt"])
    w.insert_arrow("ingest_ledger", pa.table({
        "workspaceID": ["dt64"], "source": ["c"],
        "startedAt": pa.array([started], pa.timestamp("ms", tz="UTC")),
        "finishedAt": pa.array([None], pa.timestamp("ms", tz="UTC")),
        "updatedAt": pa.array([started], pa.timestamp("ms", tz="UTC"))}))
    rows = client(port, db, READER).query("SELECT source, startedAt, finishedAt, toTypeName(finishedAt) FROM ingest_ledger "
                                          "WHERE workspaceID = 'dt64' ORDER BY source").result_rows
    assert rows == [("a", started, None, "Nullable(DateTime64(3, 'UTC'))"),
                    ("b", started, started, "Nullable(DateTime64(3, 'UTC'))"),
                    ("c", started, None, "Nullable(DateTime64(3, 'UTC'))")]


def test_clickhouse_connect_form_encoded_parameters(served):
    port, db, _ = served
    r = client(port, db, READER, form_encode_query_params=True)
    assert r.query("SELECT {a:UInt8} + 1, {s:String}", parameters={"a": 41, "s": "x y"}).result_rows == [(42, "x y")]


def test_clickhouse_connect_reader_cannot_write(served):
    port, db, _ = served
    with pytest.raises(DatabaseError) as err:
        client(port, db, READER).insert("ingest_ledger", [["ro", "x"]], column_names=["workspaceID", "source"])
    assert err.value.code == 164


# -- raw requests, as curl sends them --------------------------------------------------------------

def test_get_query_and_response_headers(port):
    status, headers, body = call(port, params={"query": "SELECT 1, 'a'", "query_id": "q-123"})
    assert (status, body) == (200, b"1\ta\n")
    assert headers["X-ClickHouse-Query-Id"] == "q-123"
    assert headers["X-ClickHouse-Format"] == "TabSeparated"
    assert headers["Content-Type"] == "text/tab-separated-values; charset=UTF-8"
    assert headers["X-ClickHouse-Timezone"] == "UTC"
    assert headers["X-ClickHouse-Server-Display-Name"] == "test-server"
    summary = json.loads(headers["X-ClickHouse-Summary"])
    assert summary["read_rows"] == "1" and all(isinstance(v, str) for v in summary.values())
    assert uuid.UUID(call(port, params={"query": "SELECT 1"})[1]["X-ClickHouse-Query-Id"])


def test_post_body_formats_and_default_format(port):
    status, headers, body = call(port, "POST", body=b"SELECT number AS n FROM numbers(2) FORMAT JSON")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert [row["n"] for row in json.loads(body)["data"]] == [0, 1]
    status, headers, body = call(port, "POST", params={"default_format": "JSONEachRow"}, body=b"SELECT 1 AS x")
    assert (status, body, headers["X-ClickHouse-Format"]) == (200, b'{"x":1}\n', "JSONEachRow")
    status, headers, body = call(port, "POST", body=b"SELECT 1 AS x", headers={"X-ClickHouse-Format": "CSVWithNames"})
    assert (status, body) == (200, b'"x"\n1\n') and "header=present" in headers["Content-Type"]
    # the start of the statement in the URL, the rest in the body
    assert call(port, "POST", params={"query": "SELECT"}, body=b"40 + 2")[2] == b"42\n"


def test_parameters_settings_and_database(served):
    port, db, _ = served
    assert call(port, params={"query": "SELECT {n:UInt8} * 2, {s:String}", "param_n": "21", "param_s": "it's"})[2] == b"42\tit\\'s\n"
    assert call(port, params={"query": "SELECT getSetting('max_result_rows')", "max_result_rows": "7"})[2] == b"7\n"
    assert call(port, params={"query": "SELECT currentDatabase()"})[2] == db.encode() + b"\n"  # the warehouse's own
    assert call(port, params={"query": "SELECT currentDatabase()", "database": "system"})[2] == b"system\n"
    assert call(port, params={"query": "SELECT currentDatabase()"}, headers={"X-ClickHouse-Database": "system"})[2] == b"system\n"
    # transport parameters are not settings (the engine would refuse them as unknown)
    transport = {"session_id": "s1", "session_timeout": "60", "wait_end_of_query": "1", "buffer_size": "10",
                 "client_protocol_version": "54405", "send_progress_in_http_headers": "1", "quota_key": "q",
                 "http_headers_progress_interval_ms": "100", "cancel_http_readonly_queries_on_client_close": "1"}
    assert call(port, params={"query": "SELECT 1", **transport})[:3:2] == (200, b"1\n")
    refused(call(port, params={"query": "SELECT 1", "no_such_setting": "1"}), 404, 115)


def test_errors_as_clickhouse_answers_them(port):
    text = refused(call(port, "POST", body=b"SELEC 1"), 400, 62)
    assert "Syntax error" in text
    text = refused(call(port, params={"query": "SELECT * FROM no_such_table"}), 404, 60)
    assert "no_such_table" in text and "(UNKNOWN_TABLE)" in text
    refused(call(port, "POST", body=b""), 400, 62)  # empty query
    refused(call(port, "POST", params={"query": "SELECT 1", "compress": "1"}, body=b""), 501, 48)


def test_unexpected_error_is_a_500_and_logged(port, caplog):
    with caplog.at_level(logging.ERROR, logger="loader.chhttp"):
        text = refused(call(port, path="/boom"), 500, 1001)
    assert "RuntimeError: route failed" in text
    assert any("route failed" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_health_routes_and_404(port):
    assert call(port, path="/ping")[:3:2] == (200, b"Ok.\n")
    assert call(port, "HEAD", path="/ping")[:3:2] == (200, b"")
    assert call(port)[:3:2] == (200, b"Ok.\n")
    status, headers, body = call(port, path="/metrics")
    assert (status, body, headers["Content-Type"]) == (200, b"up 1\n", "text/plain; version=0.0.4")
    status, _, body = call(port, path="/nope")
    assert status == 404 and b"/nope" in body


# -- compression -----------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, pack", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("zstd", lambda b: zstandard.ZstdCompressor().compress(b[:10]) + zstandard.ZstdCompressor().compress(b[10:])),
    ("lz4", lambda b: lz4.frame.compress(b[:10]) + lz4.frame.compress(b[10:])),  # frames, as clickhouse-connect sends blocks
])
def test_compressed_request_body(port, encoding, pack):
    status, _, body = call(port, "POST", body=pack(b"SELECT 'compressed ' || '" + encoding.encode() + b"'"),
                           headers={"Content-Encoding": encoding})
    assert (status, body) == (200, b"compressed " + encoding.encode() + b"\n")


def test_compressed_request_with_data_in_the_body(served):
    port, _, wh = served
    data = gzip.compress(b"gz\tone\ngz\ttwo\n")
    status, _, _ = call(port, "POST", params={"query": "INSERT INTO ingest_ledger (workspaceID, source) FORMAT TSV"},
                        body=data, headers={"Content-Encoding": "gzip", **basic(*WRITER)})
    assert status == 200
    assert call(port, params={"query": "SELECT groupArray(source) FROM (SELECT source FROM ingest_ledger "
                                       "WHERE workspaceID = 'gz' ORDER BY source)"})[2] == b"['one','two']\n"


def test_unknown_or_broken_request_encoding(port):
    refused(call(port, "POST", body=b"SELECT 1", headers={"Content-Encoding": "snappy"}), 400, 36)
    refused(call(port, "POST", body=b"not gzip", headers={"Content-Encoding": "gzip"}), 500, 354)


def test_compressed_response(port):
    status, headers, body = call(port, params={"query": "SELECT repeat('a', 1000)"}, headers={"Accept-Encoding": "gzip"})
    assert (status, headers["Content-Encoding"]) == (200, "gzip")
    assert gzip.decompress(body) == b"a" * 1000 + b"\n"
    status, headers, body = call(port, params={"query": "SELECT 1", "enable_http_compression": "0"},
                                 headers={"Accept-Encoding": "gzip"})
    assert (body, headers["Content-Encoding"]) == (b"1\n", None)
    assert call(port, params={"query": "SELECT 1"})[1]["Content-Encoding"] is None  # not asked for
    assert choose_encoding("gzip, deflate, br;q=0, lz4") == "lz4" and choose_encoding("identity") is None


def test_chunked_request_body(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/", body=iter([b"SELECT 'chun", b"ked'"]), encode_chunked=True)
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"chunked\n")
        conn.request("GET", "/?query=SELECT%202")  # the connection carries another request
        assert conn.getresponse().read() == b"2\n"
    finally:
        conn.close()


# -- access -------------------------------------------------------------------------------------

WRITE = "INSERT INTO ingest_ledger (workspaceID, source) VALUES ('auth', 'x')"


def test_credentials_as_clickhouse_accepts_them(port):
    assert call(port, "POST", body=WRITE.encode(), headers=basic(*WRITER))[0] == 200
    assert call(port, "POST", body=WRITE.encode(), headers={"X-ClickHouse-User": WRITER[0], "X-ClickHouse-Key": WRITER[1]})[0] == 200
    assert call(port, "POST", params={"user": WRITER[0], "password": WRITER[1]}, body=WRITE.encode())[0] == 200
    assert call(port, params={"query": "SELECT 1"}, headers=basic(*READER))[2] == b"1\n"
    assert call(port, params={"query": "SELECT 1"})[2] == b"1\n"  # no credentials: user default


@pytest.mark.parametrize("headers, params", [
    (basic(READER[0], "wrong"), {}),
    (basic("nobody", ""), {}),
    ({"X-ClickHouse-User": WRITER[0], "X-ClickHouse-Key": READER[1]}, {}),
    ({}, {"user": "default", "password": "x"}),
    ({"Authorization": "Bearer abc"}, {}),
    (basic(*READER), {"user": READER[0]}),  # two ways at once
])
def test_authentication_failed(port, headers, params):
    text = refused(call(port, params={"query": "SELECT 1", **params}, headers=headers), 403, 516)
    assert "(AUTHENTICATION_FAILED)" in text


def test_access_checks_passwords():
    access = Access(users={"a": "pw", "b": ""}, writers={"a"})
    assert access.check("a", "pw") and access.check("b", "") and not access.check("a", "") and not access.check("c", "")
    with pytest.raises(ValueError):
        Access(users={"a": "pw"}, writers={"z"})


@pytest.mark.parametrize("sql", [
    WRITE,
    "CREATE TABLE ro_new (a UInt8) ENGINE = Memory",
    "DROP TABLE ingest_ledger",
    "ALTER TABLE ingest_ledger DELETE WHERE 1",
    "SET readonly = 0",
    "SELECT 1 SETTINGS readonly = 0",
    "SELECT * FROM file('/etc/hostname', 'LineAsString')",
])
def test_readers_are_read_only(port, sql):
    text = refused(call(port, "POST", body=sql.encode(), headers=basic(*READER)), 500, 164)
    assert "readonly" in text.lower()
    refused(call(port, "POST", params={"readonly": "0"}, body=sql.encode()), 500, 164)  # a URL setting does not lift it


def test_what_readonly_does_not_stop_is_refused(served, tmp_path):
    """chDB's readonly=1 lets these through (measured): each is refused for read-only requests."""
    port, _, wh = served
    out = tmp_path / "written.txt"
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2")
    # what the guard stops: without it the engine would run these under readonly=1
    assert wh.execute(f"SELECT file('{secret}')".encode(), readonly=True).body == b"hunter2\n"
    wh.execute(f"SELECT 1 INTO OUTFILE '{out}'".encode(), readonly=True)
    assert out.exists()
    out.unlink()

    for headers in ({}, basic(*READER)):
        assert "INTO OUTFILE is not allowed" in refused(
            call(port, "POST", body=f"SELECT 1 /* x */ INTO/**/OUTFILE '{out}'".encode(), headers=headers), 500, 358)
        refused(call(port, params={"query": f"SELECT `file`('{secret}')"}, headers=headers), 500, 164)
        refused(call(port, params={"query": f"WITH (SELECT file('{secret}')) AS s SELECT s"}, headers=headers), 500, 164)
        refused(call(port, params={"query": "KILL QUERY WHERE 1"}, headers=headers), 500, 164)
        text = refused(call(port, "POST", body=f"SELECT 1; SELECT 2 INTO OUTFILE '{out}'".encode(), headers=headers), 400, 62)
        assert "Multi-statements are not allowed" in text
        refused(call(port, "POST", body=f"INSERT INTO ingest_ledger (source) VALUES ('x'); SELECT 2 INTO OUTFILE '{out}'".encode(),
                     headers=headers), 500, 164)
        refused(call(port, "POST", params={"dialect": "prql"}, body=f"from s\"SELECT file('{secret}')\"".encode(),
                     headers=headers), 500, 164)
        refused(call(port, "POST", params={"allow_experimental_eval_table_function": "1"},
                     body=b"SELECT * FROM eval('SELECT 1')", headers=headers), 500, 344)
    assert not out.exists()
    # what stays allowed: the same words inside strings and names
    assert call(port, params={"query": "SELECT 'INTO OUTFILE file(' AS `file(`"})[2] == b"INTO OUTFILE file(\n"
    assert call(port, params={"query": "SELECT 1;"})[2] == b"1\n"
    # the writer (POST) is trusted like an admin: the guard is for read-only requests
    assert call(port, "POST", body=f"SELECT file('{secret}')".encode(), headers=basic(*WRITER))[2] == b"hunter2\n"


def test_get_is_read_only_for_the_writer(port):
    refused(call(port, params={"query": WRITE}, headers=basic(*WRITER)), 500, 164)


def test_writer_can_insert(port):
    before = int(call(port, params={"query": "SELECT count() FROM ingest_ledger WHERE workspaceID = 'w'"})[2])
    status, headers, body = call(port, "POST", body=b"INSERT INTO ingest_ledger (workspaceID, source) VALUES ('w', 'a'), ('w', 'b')",
                                 headers=basic(*WRITER))
    assert (status, body) == (200, b"") and "X-ClickHouse-Format" not in headers
    assert json.loads(headers["X-ClickHouse-Summary"])["written_rows"] == "2"
    assert int(call(port, params={"query": "SELECT count() FROM ingest_ledger WHERE workspaceID = 'w'"})[2]) == before + 2


def test_python_table_function_is_refused(served, monkeypatch):
    """python() reads objects of the server's process: an object the handler's frames reach leaks without the guard
    (allow_python_table_function=0 for every request, which the engine checks before readonly)."""
    port, _, wh = served
    monkeypatch.setattr(chhttp, "SECRET_FRAME", pd.DataFrame({"pw": ["hunter2"]}), raising=False)
    for who in (READER, ("default", "")):
        refused(call(port, "POST", body=b"SELECT * FROM python(SECRET_FRAME)", headers=basic(*who)), 500, 446)
    secret_here = pd.DataFrame({"pw": ["in reach"]})  # noqa: F841 - read by python() from this frame
    with pytest.raises(WarehouseError) as err:  # readonly alone refuses it too
        wh.execute(b"SELECT * FROM python(secret_here)", readonly=True)
    assert err.value.code == 164
    assert wh.execute(b"SELECT * FROM python(secret_here)", readonly=False).body == b"in reach\n"
    text = refused(call(port, "POST", body=b"SELECT * FROM python(SECRET_FRAME)", headers=basic(*WRITER)), 500, 446)
    assert "allow_python_table_function" in text
    refused(call(port, "POST", params={"allow_python_table_function": "1"}, body=b"SELECT * FROM python(SECRET_FRAME)",
                 headers=basic(*WRITER)), 500, 446)  # a URL setting does not lift it
    refused(call(port, "POST", body=b"SELECT * FROM python(SECRET_FRAME) SETTINGS allow_python_table_function = 1",
                 headers=basic(*WRITER)), 500, 392)  # nor does the statement
    unguarded = wh.execute

    def without_guard(sql, **kw):
        kw["settings"] = {k: v for k, v in kw["settings"].items() if k != "allow_python_table_function"}
        return unguarded(sql, **kw)

    monkeypatch.setattr(wh, "execute", without_guard)
    assert call(port, "POST", body=b"SELECT * FROM python(SECRET_FRAME)", headers=basic(*WRITER))[2] == b"hunter2\n"


# -- reader limits --------------------------------------------------------------------------------

def test_reader_limits_are_defaults_and_caps(port):
    ask = "SELECT getSetting('max_execution_time'), getSetting('max_memory_usage')"
    assert call(port, params={"query": ask})[2] == b"1\t4294967296\n"
    assert call(port, params={"query": ask, "max_execution_time": "0.5", "max_memory_usage": "1G"})[2] == b"0.5\t1000000000\n"
    assert "shouldn't be greater than 1" in refused(call(port, params={"query": ask, "max_execution_time": "5"}), 500, 452)
    refused(call(port, params={"query": ask, "max_execution_time": "0"}), 500, 452)  # 0 is no limit
    refused(call(port, params={"query": ask, "max_memory_usage": "5Gi"}), 500, 452)
    refused(call(port, params={"query": ask, "max_execution_time": "soon"}), 400, 27)
    # writers are not limited
    assert call(port, params={"query": ask, "max_execution_time": "5"}, headers=basic(*WRITER))[2].startswith(b"5\t")


def test_reader_query_over_the_time_limit_is_stopped(port):
    text = refused(call(port, params={"query": "SELECT count() FROM numbers(1000000000000) WHERE sipHash64(number) = 1"}),
                   408, 159)
    assert "(TIMEOUT_EXCEEDED)" in text


def test_capped_and_has_result():
    assert capped({}, {"max_execution_time": 10}) == {"max_execution_time": "10"}
    assert capped({"max_execution_time": "2.5", "x": "1"}, {"max_execution_time": 10}) == {"max_execution_time": "2.5", "x": "1"}
    assert capped({"max_execution_time": "0"}, {"max_execution_time": 0}) == {"max_execution_time": "0"}  # no cap
    assert has_result(b"  -- c\n/* x */ (SELECT 1)") and has_result(b"SHOW TABLES") and has_result(b"WITH 1 AS a SELECT a")
    assert not has_result(b"insert into t values (1)") and not has_result(b"\n CREATE TABLE t (a UInt8) ENGINE=Memory")


def test_on_query_counts_and_close_drains_idle_connections(served):
    _, _, wh = served
    seen: list[bool] = []
    server = make_server(wh, Access(users={"default": ""}), "127.0.0.1", 0, on_query=seen.append)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    port = server.server_address[1]
    idle = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    idle.request("GET", "/?query=SELECT%201")
    assert idle.getresponse().read() == b"1\n"  # the connection stays open, waiting for a next request
    assert call(port, params={"query": "SELECT * FROM no_such_table"})[0] == 404
    assert call(port, path="/ping")[0] == 200  # not a statement
    assert seen == [True, False]
    server.shutdown()
    closer = threading.Thread(target=server.server_close)
    closer.start()
    closer.join(10)
    assert not closer.is_alive()  # the idle keep-alive connection did not hold the close
    idle.close()
    thread.join(5)
