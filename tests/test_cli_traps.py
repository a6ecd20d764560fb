"""First-hour traps, with the CLI run as a user runs it: each gives one clear line and an exit code a
script can trust, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_cli_exit import run

EVENTS = [{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"bom-{i}",
           "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/default/pods", "verb": "list",
           "user": {"username": "émile-日本-🚀"}, "stageTimestamp": "2026-12-01T00:00:00.000000Z",
           "requestReceivedTimestamp": "2026-12-01T00:00:00.000000Z"} for i in range(3)]


def one_line_error(p: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    return lines[0]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_and_utf32_files_with_a_bom_load(tmp_path, encoding):
    path = tmp_path / "events.json"
    path.write_bytes("".join(json.dumps(e, ensure_ascii=False) + "\r\n" for e in EVENTS).encode(encoding))
    assert path.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")  # Python writes the BOM
    dsn = f"chdb://{tmp_path / 'wh'}"
    p = run("load", str(path), dsn=dsn)
    assert p.returncode == 0 and "3 events, 0 rejects read" in p.stderr, p.stderr
    names = run("sql", "SELECT DISTINCT `user.username` FROM kubernetes_audit_logs", "--format", "TSV", dsn=dsn).stdout
    assert names == "émile-日本-🚀\n"


@pytest.mark.parametrize("dsn, says", [
    ("foo://bar", "unknown DSN scheme 'foo'"),
    ("chdb://wh/data", "'wh' would be read as a host"),
    ("/tmp/wh", "has no scheme: a folder is chdb:/tmp/wh"),
    ("http://", "names no host"),
])
def test_a_dsn_the_loader_cannot_open_is_a_usage_error(dsn, says):
    p = run("info", dsn=dsn)
    assert p.returncode == 2
    assert says in one_line_error(p)


def test_a_relative_chdb_dsn_is_a_folder_under_the_working_directory(tmp_path):
    p = subprocess.run([sys.executable, "-m", "loader", "info", "--format", "json", "--dsn", "chdb:rel/wh"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["dsn"] == f"chdb://{tmp_path / 'rel' / 'wh'}"
    assert (tmp_path / "rel" / "wh" / "metadata").is_dir()


def test_a_warehouse_held_by_another_process_names_it(tmp_path):
    folder = tmp_path / "wh"
    dsn = f"chdb://{folder}"
    assert run("info", dsn=dsn).returncode == 0  # the schema exists: the holder below waits on stdin at once
    holder = subprocess.Popen([sys.executable, "-m", "loader", "load", "-", "--dsn", dsn], stdin=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        status = folder / "status"  # chDB writes its PID there while it holds the folder
        while not status.exists() or f"PID: {holder.pid}\n" not in status.read_text():
            assert holder.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        p = run("sql", "SELECT 1", dsn=dsn)
        assert p.returncode == 1
        line = one_line_error(p)
        assert f"in use by another process (PID {holder.pid}: " in line and "-m loader load -" in line
        assert "Cannot lock file" not in p.stderr
    finally:
        holder.stdin.close()
        assert holder.wait(timeout=300) == 0


@pytest.mark.parametrize("fmt, says", [("Nope", "'Nope' is not a ClickHouse output format"),
                                       ("tsv", "did you mean TSV?")])
def test_sql_format_is_checked(tmp_path, fmt, says):
    p = run("sql", "SELECT 1", "--format", fmt, dsn=f"chdb://{tmp_path / 'wh'}")
    assert p.returncode == 2
    assert says in one_line_error(p)


def test_a_clickhouse_error_is_said_once(tmp_path):
    p = run("sql", "SELECT nope", dsn=f"chdb://{tmp_path / 'wh'}")
    assert p.returncode == 1
    line = one_line_error(p)
    assert line.count("DB::Exception") == 1 and line.count("UNKNOWN_IDENTIFIER") == 1 and "version" not in line


@pytest.mark.parametrize("args, code, says", [
    (["generate", "-n", "3", "--day", "notaday"], 2, "--day: 'notaday' is not a day (YYYY-MM-DD)"),
    (["generate", "-n", "3", "-o", "/nonexistent/dir/x.jsonl"], 1, "/nonexistent/dir/x.jsonl: No such file or directory"),
    (["info", "--format", "yaml", "--dsn", "chdb://memory"], 2, "--format: text or json, not 'yaml'"),
    (["sql", "-", "--dsn", "chdb://memory"], 2, "no SQL given on stdin"),
])
def test_bad_values_are_one_line(args, code, says):
    p = subprocess.run([sys.executable, "-m", "loader", *args], input="", capture_output=True, text=True, timeout=300)
    assert p.returncode == code
    assert one_line_error(p) == f"error: {says}"


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback():
    boom = ("import loader.cli as c\n"
            "c.app.command('boom')(lambda: {}['missing'])\n"
            "c.main()\n")
    p = subprocess.run([sys.executable, "-c", boom, "boom"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert one_line_error(p).startswith("error: KeyError: 'missing' (unexpected: please report it")
    debug = subprocess.run([sys.executable, "-c", boom, "boom"], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "LOADER_DEBUG": "1"})
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "KeyError" in debug.stderr
