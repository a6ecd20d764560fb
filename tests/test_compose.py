"""The team stack for real: docker-compose.yml up (ClickHouse server, moto S3+SQS, init, sqs-poll loader),
objects uploaded to the bucket, rows read back as the least-privileged users.

Needs a Docker engine and the compose plugin; skipped with the reason when either does not answer.
tests/test_deploy.py checks the same SQL through the embedded engine in the default suite.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CORPUS, load_bytes
from loader.warehouse import Warehouse, WarehouseError


def _docker_problem() -> str | None:
    if not shutil.which("docker"):
        return "no docker command on PATH"
    for cmd in (["docker", "info"], ["docker", "compose", "version"]):
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`{' '.join(cmd)}` failed: {exc}"
        if run.returncode != 0:
            lines = (run.stderr or run.stdout).strip().splitlines()
            return f"`{' '.join(cmd)}` failed: {lines[-1] if lines else f'exit {run.returncode}'}"
    return None


PROBLEM = _docker_problem()
pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(PROBLEM is not None, reason=f"no Docker engine answers here: {PROBLEM}")]

ROOT = Path(__file__).resolve().parents[1]
PASSWORDS = {name: secrets.token_hex(12) for name in
             ("CLICKHOUSE_ADMIN_PASSWORD", "LOADER_PASSWORD", "DETECT_PASSWORD", "ANALYST_PASSWORD")}
SAMPLES = sorted((CORPUS / "sysdiglabs__stackdriver-webhook-bridge").glob("*.json"))[:4]


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    # compose reads the passwords from the environment pytest-docker's `docker compose` inherits
    os.environ.update(PASSWORDS, ANALYSTS="alice:team-a", LOADER_WORKSPACE="team-a", LOADER_TTL_DAYS="0")
    return str(ROOT / "docker-compose.yml")


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"audit-test-{os.getpid()}"


def dsn(services, ip: str, user: str, password: str, database: str = "audit") -> str:
    return f"http://{user}:{password}@{ip}:{services.port_for('clickhouse', 8123)}/{database}"


@pytest.fixture(scope="session")
def stack(docker_services, docker_ip):
    """The stack up, init done (schema applied), and the admin's warehouse connection."""
    admin = dsn(docker_services, docker_ip, "admin", PASSWORDS["CLICKHOUSE_ADMIN_PASSWORD"])

    def ready() -> bool:
        try:
            wh = Warehouse(admin)
            ok = wh.rows("SELECT count() FROM system.tables WHERE database = 'audit' AND name = 'kubernetes_audit_logs_mv'")[0][0]
            wh.close()
            return ok == 1
        except WarehouseError:
            return False

    docker_services.wait_until_responsive(check=ready, timeout=300, pause=2)
    wh = Warehouse(admin)
    yield docker_services, docker_ip, wh
    wh.close()


def test_uploaded_objects_are_loaded_and_analysts_see_only_their_workspace(stack):
    services, ip, admin = stack
    import boto3
    s3 = boto3.client("s3", endpoint_url=f"http://{ip}:{services.port_for('s3', 5000)}", region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
    for f in SAMPLES:
        s3.put_object(Bucket="audit-logs", Key=f"team-a/{f.name}", Body=f.read_bytes())
    load_bytes(admin, b"".join(f.read_bytes() for f in SAMPLES), name="team-b.log", workspace="team-b")

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = admin.rows("SELECT count() FROM ingest_ledger FINAL WHERE workspaceID = 'team-a' AND status = 'done'")[0][0]
        if done == len(SAMPLES):
            break
        time.sleep(2)
    assert done == len(SAMPLES)
    team_a = admin.rows("SELECT count() FROM kubernetes_audit_logs WHERE workspaceID = 'team-a'")[0][0]
    assert team_a > 0

    alice = Warehouse(dsn(services, ip, "alice", PASSWORDS["ANALYST_PASSWORD"]))
    assert alice.rows("SELECT DISTINCT workspaceID FROM kubernetes_audit_logs") == [("team-a",)]
    assert alice.rows("SELECT count() FROM kubernetes_audit_logs")[0][0] == team_a
    assert alice.rows("SELECT count() FROM kubernetes_audit_logs WHERE workspaceID = 'team-b'")[0][0] == 0
    with pytest.raises(WarehouseError):
        alice.command("INSERT INTO kubernetes_audit_logs_ingest (workspaceID, unit) VALUES ('team-b', '{}')")
    with pytest.raises(WarehouseError):
        alice.command("DROP TABLE kubernetes_audit_logs")
    with pytest.raises(WarehouseError):  # the workspace binding is CONST
        alice.rows("SELECT count() FROM kubernetes_audit_logs SETTINGS SQL_workspace = 'team-b'")
    assert admin.rows("SELECT count() FROM kubernetes_audit_logs WHERE workspaceID = 'team-b'")[0][0] > 0
    alice.close()


def test_loader_user_can_ingest_but_not_read_events(stack):
    services, ip, _ = stack
    loader = Warehouse(dsn(services, ip, "loader", PASSWORDS["LOADER_PASSWORD"]))
    assert loader.rows("SELECT count() FROM ingest_chunks")[0][0] >= 0
    with pytest.raises(WarehouseError, match="missing a grant"):
        loader.rows("SELECT count() FROM kubernetes_audit_logs")
    with pytest.raises(WarehouseError, match="missing a grant"):
        loader.command("DROP TABLE ingest_ledger")
    loader.close()


def test_server_errors_are_named(stack):
    services, ip, _ = stack
    with pytest.raises(WarehouseError, match="wrong password for user 'alice'"):
        Warehouse(dsn(services, ip, "alice", "not-the-password"))
    with pytest.raises(WarehouseError, match="unknown database"):
        Warehouse(dsn(services, ip, "admin", PASSWORDS["CLICKHOUSE_ADMIN_PASSWORD"], database="no_such_db")).rows("SELECT 1")


def test_hunt_runs_as_analyst_against_the_server(stack):
    services, ip, _ = stack
    env = {**os.environ, "LOADER_DSN": dsn(services, ip, "alice", PASSWORDS["ANALYST_PASSWORD"])}
    run = subprocess.run([sys.executable, "-m", "loader", "hunt", "run", "--all"], env=env,
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr


def test_default_user_is_gone(stack):
    services, ip, _ = stack
    with pytest.raises(WarehouseError, match="wrong password|no such user"):
        Warehouse(dsn(services, ip, "default", ""))
