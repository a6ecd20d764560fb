"""The commands as a user runs them: `loader load`, `loader sql`, `loader info`, `loader schema`, in subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import CORPUS

FALCO = CORPUS / "falcosecurity__falco"


def run(*args: str, dsn: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loader", *args, "--dsn", dsn], input=stdin, capture_output=True,
                          timeout=300)


def test_load_then_query(tmp_path):
    dsn = f"chdb://{tmp_path / 'wh'}"
    # a directory (pretty JSON with a BOM, an Azure envelope) and a file that is no Event
    p = run("load", str(CORPUS / "sysdiglabs__aks-audit-log"), str(FALCO / "fal_01_003.json"), "--ttl-days", "0",
            "--workspace", "w1", "--format", "json", dsn=dsn)
    assert p.returncode == 0, p.stderr.decode()
    summary = json.loads(p.stdout.decode().splitlines()[-1])
    assert (summary["events"], summary["rejects"], summary["sources"]) == (24, 1, 4)

    q = run("sql", "SELECT verb, count() AS n FROM kubernetes_audit_logs WHERE workspaceID = {w:String} "
                   "AND verb = {v:String} GROUP BY verb", "--param", "w=w1", "--param", "v=get",
            "--format", "JSONEachRow", dsn=dsn)
    assert q.returncode == 0, q.stderr.decode()
    got = json.loads(q.stdout)
    assert got["verb"] == "get" and got["n"] > 5

    # the query may also come from stdin, and carry its own FORMAT clause
    q = run("sql", "-", dsn=dsn, stdin=b"SELECT count() AS n FROM kubernetes_audit_logs_rejects FORMAT JSONEachRow")
    assert int(json.loads(q.stdout)["n"]) == 1

    info = run("info", "--format", "json", dsn=dsn)
    data = json.loads(info.stdout)
    assert data["rejects"] == 1 and data["sources"] == 4 and data["default_dsn"].startswith("chdb://")


def test_stdin_loads_and_reloading_adds_nothing(tmp_path):
    dsn = f"chdb://{tmp_path / 'wh'}"
    data = (CORPUS / "liggitt__audit2rbac" / "demo.log").read_bytes()
    for _ in range(2):
        p = run("load", "-", "--ttl-days", "0", dsn=dsn, stdin=data)
        assert p.returncode == 0, p.stderr.decode()
        assert "37 events, 0 rejects" in p.stderr.decode()
    q = run("sql", "SELECT count() FROM kubernetes_audit_logs", "--format", "TSV", dsn=dsn)
    assert q.stdout.strip() == b"37"


def test_an_archive_loads_with_the_default_retention(tmp_path):
    """Retention runs from receivedAt: years-old events are kept sourceTTL days, not dropped at insert."""
    dsn = f"chdb://{tmp_path / 'wh'}"
    p = run("load", str(FALCO / "exec_pod.json"), dsn=dsn)
    assert p.returncode == 0 and "1 events, 0 rejects" in p.stderr.decode()
    run("sql", "OPTIMIZE TABLE kubernetes_audit_logs FINAL", dsn=dsn)  # a merge applies TTLs
    q = run("sql", "SELECT count(), any(sourceTTL), any(toYear(eventTime)) < toYear(now()) "
            "FROM kubernetes_audit_logs", "--format", "TSV", dsn=dsn)
    assert q.stdout.split() == [b"1", b"365", b"1"]


def test_unreadable_input_is_an_error(tmp_path):
    p = run("load", str(tmp_path / "missing.log"), dsn=f"chdb://{tmp_path / 'wh'}")
    assert p.returncode == 1
    assert b"missing.log" in p.stderr


def test_schema_apply_is_idempotent(tmp_path):
    dsn = f"chdb://{tmp_path / 'wh'}"
    first = run("schema", "apply", dsn=dsn)
    second = run("schema", "apply", dsn=dsn)
    assert first.returncode == second.returncode == 0
    assert b"applied 010_kubernetes_audit_logs.sql" in first.stderr
    assert b"applied" not in second.stderr


def _help_texts(command, path=()) -> dict[tuple[str, ...], str]:
    """--help of every command and group, as a user sees it."""
    from typer.testing import CliRunner

    from loader.cli import app
    out = {path: CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"}).output}
    for name, sub in getattr(command, "commands", {}).items():
        out.update(_help_texts(sub, (*path, name)))
    return out


def test_every_loader_variable_the_code_reads_is_in_the_help():
    import re
    from pathlib import Path

    import typer.main

    from loader.cli import app

    helps = _help_texts(typer.main.get_command(app))
    shown = set(re.findall(r"LOADER_[A-Z_]+", "\n".join(helps.values())))
    package = Path(__file__).resolve().parent.parent / "loader"
    read = {v for f in package.rglob("*.py") for v in re.findall(r"LOADER_[A-Z_]+", f.read_text())}
    assert read and read <= shown, f"not in any --help: {sorted(read - shown)}"
    assert len(helps) > 20  # every command was reached, not just the root
