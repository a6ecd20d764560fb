"""Custom rule packs: `--rules DIR` adds a user's rules to hunt and detect; `loader rules test DIR` checks a
pack's headers and fixtures as `panther_analysis_tool test` does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from loader.rules import RuleError, load_catalog
from loader.warehouse import package_dir

EXEC = package_dir("queries") / "execution" / "k8s-pod-exec"


def loader(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loader", *args], capture_output=True, text=True, timeout=300, **kw)


def pack(tmp_path: Path, rule_id: str = "acme-exec", tn_lines: slice = slice(0, 0)) -> Path:
    """A pack with one rule: the catalog's exec rule under another id, its fixtures, and a tn fixture made of
    the tp lines in tn_lines plus the catalog's own tn events."""
    folder = tmp_path / "pack" / "execution"
    folder.mkdir(parents=True)
    (folder / f"{rule_id}.sql").write_text(EXEC.with_suffix(".sql").read_text().replace("k8s-pod-exec", rule_id))
    tp = EXEC.with_name(EXEC.name + ".tp.jsonl").read_text()
    tn = EXEC.with_name(EXEC.name + ".tn.jsonl").read_text()
    (folder / f"{rule_id}.tp.jsonl").write_text(tp)
    (folder / f"{rule_id}.tn.jsonl").write_text("".join(tp.splitlines(keepends=True)[tn_lines]) + tn)
    return tmp_path / "pack"


def test_rules_test_passes_a_good_pack_and_fails_a_wrong_one(tmp_path):
    good = loader("rules", "test", str(pack(tmp_path / "a")))
    assert good.returncode == 0, good.stderr
    assert "PASS acme-exec" in good.stderr and "1 passed, 0 failed" in good.stderr
    # a true-negative fixture holding one of the rule's true positives: the rule matches it
    wrong = loader("rules", "test", str(pack(tmp_path / "b", tn_lines=slice(0, 1))), "--format", "json")
    assert wrong.returncode == 1
    [outcome] = json.loads(wrong.stdout)
    assert not outcome["passed"] and "true-negative" in outcome["problems"][0]


def test_rules_test_finds_a_rule_that_misses_some_true_positives(tmp_path):
    folder = pack(tmp_path)
    rule = next(folder.rglob("*.sql"))
    # the rule now finds one namespace's execs only: the other true positives are missed
    rule.write_text(rule.read_text().replace("WHERE eventTime", "WHERE `objectRef.namespace` = 'nonexistent' AND eventTime"))
    out = loader("rules", "test", str(folder), "--format", "json")
    assert out.returncode == 1
    assert "true positives not found" in json.loads(out.stdout)[0]["problems"][0]


def test_rules_test_reports_header_errors(tmp_path):
    folder = pack(tmp_path)
    rule = next(folder.rglob("*.sql"))
    rule.write_text(rule.read_text().replace("-- severity: medium", "-- severity: urgent"))
    out = loader("rules", "test", str(folder))
    assert out.returncode == 1 and "severity 'urgent'" in out.stderr


def test_packs_add_rules_to_hunt_and_detect(tmp_path):
    folder = pack(tmp_path)
    listed = loader("hunt", "list", "--format", "json", "--rules", str(folder))
    assert listed.returncode == 0, listed.stderr
    assert "acme-exec" in {r["id"] for r in json.loads(listed.stdout)}
    dsn = f"chdb://{tmp_path / 'wh'}"
    tp = next(folder.rglob("*.tp.jsonl"))
    assert loader("load", str(tp), "--dsn", dsn, "--ttl-days", "0").returncode == 0
    ran = loader("hunt", "run", "acme-exec", "--rules", str(folder), "--start", "2000-01-01", "--format", "json",
                 "--dsn", dsn)
    assert ran.returncode == 0, ran.stderr
    assert {h["rule"] for h in json.loads(ran.stdout)} == {"acme-exec"}
    found = loader("detect", "--rule", "acme-exec", "--since", f"{(datetime.now(timezone.utc).year - 1999) * 366}d",
                   "--dsn", dsn, env={**os.environ, "LOADER_RULES": str(folder)})
    assert found.returncode == 0, found.stderr
    assert {json.loads(line)["rule"] for line in found.stdout.splitlines()} == {"acme-exec"}


def test_a_pack_reusing_a_catalog_id_is_refused(tmp_path):
    folder = pack(tmp_path, rule_id="k8s-pod-exec")
    with pytest.raises(RuleError, match="k8s-pod-exec.*also used by"):
        load_catalog([folder])
    out = loader("hunt", "list", "--rules", str(folder))
    assert out.returncode == 2 and "also used by" in out.stderr
    shutil.rmtree(folder)
    missing = loader("hunt", "list", "--rules", str(folder))
    assert missing.returncode == 2 and "not a folder" in missing.stderr
