"""deploy/grafana: the dashboard's structure and provisioning, and every SQL in it run against a loaded
warehouse after the expansion Grafana and the ClickHouse plugin apply (no Grafana runs here).

The expansion is a port of grafana-clickhouse-datasource v4.20.0, the version docker-compose.yml installs:
the frontend's $__conditionalAll and variable format (src/data/CHDatasource.ts: applyConditionalAll,
getMacroArgs, format), then the backend's macros (pkg/macros/macros.go: TimeFilter, TimeInterval,
IntervalSeconds). test_expansion_matches_the_plugins_own_tests holds the port to the plugin's test vectors.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from conftest import CORPUS, load_bytes

from loader.cluster import SHARDED
from loader.detect import run_once
from loader.ledger import Ledger, Progress
from loader.rules import load_rules
from loader.warehouse import Warehouse, statements

ROOT = Path(__file__).resolve().parents[1]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = json.loads((GRAFANA / "dashboards" / "k8s-audit.json").read_text())
DATASOURCES = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "clickhouse.yaml").read_text())
PROVIDERS = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "dashboards.yaml").read_text())
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
ACCESS = ROOT / "deploy" / "clickhouse" / "access.sql"
INITDB = ROOT / "deploy" / "clickhouse" / "initdb" / "10-access.sh"
PLUGIN = "grafana-clickhouse-datasource"
PLUGIN_VERSION = "4.20.0"
DS = {"type": PLUGIN, "uid": DATASOURCES["datasources"][0]["uid"]}

PANELS = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
VARIABLES = {v["name"]: v for v in DASHBOARD["templating"]["list"]}


# -- the plugin's expansion, ported ---------------------------------------------------------------
def macro_args(query: str, args_index: int) -> list[str]:
    """CHDatasource.getMacroArgs: the arguments of the macro whose '(' is at args_index, split at the
    commas of its own level; [] when the parentheses do not close."""
    args, depth, last = [], 0, 1
    sub = query[args_index:]
    for m in re.finditer(r"[(),]", sub):
        if m.group() == "(":
            depth += 1
        elif m.group() == ")":
            depth -= 1
        if m.group() == "," and depth == 1:
            args.append(sub[last:m.end() - 1])
            last = m.end()
        if depth == 0:
            args.append(sub[last:m.end() - 1])
            return args
    return []


def conditional_all(sql: str, current: dict[str, str | list[str]]) -> str:
    """CHDatasource.applyConditionalAll: $__conditionalAll(condition, $var) becomes 1=1 when the variable's
    current value is All ($__all) or empty, else the condition; last occurrence first."""
    macro = "$__conditionalAll("
    at = sql.rfind(macro)
    while at != -1:
        params = macro_args(sql, at + len(macro) - 1)
        if len(params) != 2:
            return sql
        phrase = params[0]
        var = re.search(r"(?<=\$\{)\w+(?=\})|(?<=\$)\w+", params[1].strip())
        if var and var.group() in current:
            value = current[var.group()]
            if (",".join(value) if isinstance(value, list) else value) in ("", "$__all"):  # JS Array.toString
                phrase = "1=1"
        sql = sql.replace(f"{macro}{params[0]},{params[1]})", phrase, 1)
        at = sql.rfind(macro)
    return sql


def replace_variables(sql: str, current: dict[str, str | list[str]]) -> str:
    """Grafana's templateSrv.replace with the plugin's format: a multi-value variable becomes 'a','b',
    a single value is inserted as is; names that are no variable stay (the backend's $__ macros)."""
    def value(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name not in current:
            return m.group()
        v = current[name]
        if isinstance(v, list):
            assert "$__all" not in v, "All reached the SQL outside $__conditionalAll"
            return "'" + "','".join(v) + "'"
        return v
    return re.sub(r"\$(\w+)|\$\{(\w+)\}", value, sql)


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    interval: timedelta  # what Grafana sends as the query's interval (range / max data points, rounded)

    def seconds(self) -> int:
        return int(max(self.interval.total_seconds(), 1))


MACROS = {  # pkg/macros/macros.go: name -> (argument count, expansion)
    "timeFilter": (1, lambda a, r: f"{a[0]} >= toDateTime({int(r.start.timestamp())}) AND "
                                   f"{a[0]} <= toDateTime({int(r.end.timestamp())})"),
    "timeInterval": (1, lambda a, r: f"toStartOfInterval(toDateTime({a[0]}), INTERVAL {r.seconds()} second)"),
    "interval_s": (0, lambda a, r: str(r.seconds())),
}


def expand_macros(sql: str, rng: TimeRange) -> str:
    """The backend's pass: $__name or $__name(args), arguments split at their own level's commas and
    trimmed. A macro this port lacks fails here, as it would in ClickHouse."""
    out, pos = [], 0
    for m in re.finditer(r"\$__(\w+)", sql):
        assert m.start() >= pos, "a macro inside another's arguments: the port does not nest"
        assert m.group(1) in MACROS, f"macro $__{m.group(1)} is not in the port"
        count, expand = MACROS[m.group(1)]
        assert not count or sql.startswith("(", m.end()), f"$__{m.group(1)} needs its arguments"
        raw = macro_args(sql, m.end()) if count else []
        assert len(raw) == count, f"$__{m.group(1)} takes {count} argument(s), got {raw}"
        out += [sql[pos:m.start()], expand([a.strip() for a in raw], rng)]
        pos = m.end() + (len(",".join(raw)) + 2 if count else 0)  # past the closing parenthesis
    return "".join(out + [sql[pos:]])


def grafana_sql(sql: str, current: dict[str, str | list[str]], rng: TimeRange) -> str:
    """What reaches ClickHouse: the frontend's applyTemplateVariables, then the backend's macros."""
    return expand_macros(replace_variables(conditional_all(sql, current), current), rng)


def test_expansion_matches_the_plugins_own_tests():
    # src/data/CHDatasource.test.ts, 'Conditional All'
    sql = "select stuff from table where $__conditionalAll(fieldVal in ($fieldVal), $fieldVal);"
    assert conditional_all(sql, {"fieldVal": "$__all"}) == "select stuff from table where 1=1;"
    assert conditional_all(sql, {"fieldVal": "'val1', 'val2'"}) == "select stuff from table where fieldVal in ($fieldVal);"
    two = sql.rstrip(";") + " and $__conditionalAll(fieldVal in ($fieldVal2), $fieldVal2);"
    assert conditional_all(two, {"fieldVal": "'val1', 'val2'", "fieldVal2": "$__all"}) == \
        "select stuff from table where fieldVal in ($fieldVal) and 1=1;"
    # pkg/macros/macros_test.go, TestInterpolate and TestMacroTimeInterval / TestMacroIntervalSeconds
    rng = TimeRange(datetime(2014, 11, 12, 11, 45, 26, 123000, timezone.utc),
                    datetime(2015, 11, 12, 11, 45, 26, 456000, timezone.utc), timedelta(seconds=20))
    for given in ("select * from foo where $__timeFilter(cast(sth as timestamp))",
                  "select * from foo where $__timeFilter(cast(sth as timestamp) )"):
        assert expand_macros(given, rng) == ("select * from foo where cast(sth as timestamp) >= toDateTime(1415792726) "
                                             "AND cast(sth as timestamp) <= toDateTime(1447328726)")
    assert expand_macros("$__timeInterval(col)", rng) == "toStartOfInterval(toDateTime(col), INTERVAL 20 second)"
    assert expand_macros("$__interval_s", rng) == "20"
    # Grafana's format for a multi-value variable
    assert replace_variables("x IN (${workspace})", {"workspace": ["a", "b"]}) == "x IN ('a','b')"


# -- structure -------------------------------------------------------------------------------------

def test_every_panel_queries_the_provisioned_datasource_with_one_sql_target():
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    assert {p["type"] for p in PANELS} == {"timeseries", "stat", "table"}
    for p in PANELS:
        assert p["datasource"] == DS, p["title"]
        [t] = p["targets"]
        assert t["datasource"] == DS and t["editorType"] == "sql" and t["rawSql"].strip(), p["title"]
        assert t["pluginVersion"] == PLUGIN_VERSION
        # sqlds formats: 0 time series (long frames are turned wide), 1 table
        assert t["format"] == (0 if p["type"] == "timeseries" else 1), p["title"]
        # the port does not model how the plugin strips comments, so the SQL has none
        assert "--" not in t["rawSql"] and "/*" not in t["rawSql"], p["title"]
    for v in VARIABLES.values():
        assert v["datasource"] == DS and v["query"]["rawSql"].strip()


def test_panels_fit_the_grid_without_overlapping():
    cells: dict[tuple[int, int], str] = {}
    for p in DASHBOARD["panels"]:
        g = p["gridPos"]
        assert g["w"] > 0 and g["h"] > 0 and 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]


def test_sql_names_only_dashboard_variables_and_ported_macros():
    for p in PANELS:
        sql = p["targets"][0]["rawSql"]
        for name in re.findall(r"\$__(\w+)", sql):
            assert name in MACROS or name == "conditionalAll", (p["title"], name)
        for a, b in re.findall(r"\$(?!__)(\w+)|\$\{(\w+)\}", sql):
            assert (a or b) in VARIABLES, (p["title"], a or b)


# -- provisioning and compose ----------------------------------------------------------------------
def dashboard_tables() -> set[str]:
    sqls = [p["targets"][0]["rawSql"] for p in PANELS] + [v["query"]["rawSql"] for v in VARIABLES.values()]
    return {t for sql in sqls for t in re.findall(r"\bFROM\s+(\w+)", sql)}


def test_datasource_points_at_the_compose_server_as_the_dashboard_user():
    [ds] = DATASOURCES["datasources"]
    assert ds["type"] == PLUGIN and DATASOURCES["apiVersion"] == 1
    j = ds["jsonData"]
    clickhouse = COMPOSE["services"][j["host"]]
    assert j["protocol"] == "http" and any(p.endswith(f":{j['port']}") for p in clickhouse["ports"])
    assert j["defaultDatabase"] == clickhouse["environment"]["CLICKHOUSE_DB"]
    grafana = COMPOSE["services"]["grafana"]
    # the password reaches Grafana's environment from .env, and the server's first start from the same variable
    secret = re.fullmatch(r"\$\{(\w+)\}", ds["secureJsonData"]["password"]).group(1)
    assert secret in grafana["environment"] and secret in clickhouse["environment"]
    assert j["username"] == "grafana"


def test_dashboard_user_reads_exactly_what_the_panels_query(wh, tmp_path):
    grants = {t for s in statements(ACCESS.read_text())
              for t in re.findall(r"^GRANT SELECT ON (\w+) TO dashboard$", s, re.M)}
    tables = dashboard_tables()
    assert tables == {t for t in grants if not t.endswith("_local")}
    assert {f"{t}_local" for t in tables & SHARDED.keys()} == {t for t in grants if t.endswith("_local")}
    assert "CREATE ROLE IF NOT EXISTS dashboard SETTINGS PROFILE 'analyst_limits'" in ACCESS.read_text()
    # the first-start script makes the grafana user with that role when its password is set (as
    # test_deploy.py does, with `clickhouse` replaced by a recorder of the SQL it is given)
    log, shim = tmp_path / "sql.log", tmp_path / "bin" / "clickhouse"
    shim.parent.mkdir()
    shim.write_text("#!/bin/bash\nwhile [ $# -gt 0 ]; do [ \"$1\" = --query ] && { printf '%s;\\n' \"$2\" >>\"$LOG\"; shift; }; "
                    "shift; done\n")
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{shim.parent}:{os.environ['PATH']}", "LOG": str(log), "CLICKHOUSE_USER": "admin",
           "CLICKHOUSE_PASSWORD": "a", "CLICKHOUSE_DB": "audit", "LOADER_PASSWORD": "l", "DETECT_PASSWORD": "d",
           "GRAFANA_CLICKHOUSE_PASSWORD": "grafana-secret"}
    run = subprocess.run(["bash", str(INITDB)], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    recorded = log.read_text()
    assert "CREATE USER IF NOT EXISTS grafana IDENTIFIED WITH sha256_hash" in recorded and "grafana-secret" not in recorded
    assert "GRANT dashboard TO grafana;" in recorded
    for s in statements(recorded):  # the real parser accepts what the script sends
        wh.rows("SELECT formatQuery({q:String})", {"q": s})


def container_path(service: dict, host: Path) -> str:
    """Where a bind mount of `host` (a path in the repository) appears in the service's container."""
    for v in service["volumes"]:
        source, target = v.split(":")[:2]
        if (ROOT / source).resolve() == host:
            return target
    raise AssertionError(f"{host} is not mounted")


def test_compose_installs_the_pinned_plugin_and_mounts_the_provisioning():
    grafana = COMPOSE["services"]["grafana"]
    image, tag = grafana["image"].split(":")
    assert image == "grafana/grafana" and re.fullmatch(r"\d+\.\d+\.\d+", tag)
    assert grafana["environment"]["GF_PLUGINS_PREINSTALL_SYNC"] == f"{PLUGIN}@{PLUGIN_VERSION}"
    assert grafana["ports"] == ["127.0.0.1:3000:3000"]
    assert container_path(grafana, GRAFANA / "provisioning") == "/etc/grafana/provisioning"
    dashboards = container_path(grafana, GRAFANA / "dashboards")
    [provider] = PROVIDERS["providers"]
    assert provider["type"] == "file" and provider["options"]["path"] == dashboards
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (GRAFANA / "dashboards" / Path(home).relative_to(dashboards)).is_file()
    # the entrypoint refuses to start without either password rather than fall back to admin/admin
    script = grafana["entrypoint"][-1].replace("$$", "$")
    for var in ("GF_SECURITY_ADMIN_PASSWORD", "GRAFANA_CLICKHOUSE_PASSWORD"):
        assert f'"${{{var}:?' in script and var in grafana["environment"]
    assert script.endswith("exec /run.sh")


# -- every SQL against a loaded warehouse ---------------------------------------------------------
NOW = datetime(2024, 6, 3, 12, 0, tzinfo=timezone.utc)
RULES = ("k8s-pod-exec", "k8s-exec-into-kube-namespace", "k8s-secret-read-denied")


def event(n: int, user: str, verb: str, uri: str, ref: dict, code: int) -> dict:
    ts = (NOW - timedelta(minutes=30 - n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"grafana-{n}",
            "stage": "ResponseComplete", "requestURI": uri, "verb": verb, "user": {"username": user},
            "sourceIPs": ["203.0.113.5"], "userAgent": "kubectl/v1.29.0", "objectRef": ref,
            "responseStatus": {"code": code}, "requestReceivedTimestamp": ts, "stageTimestamp": ts}


def seed(wh: Warehouse) -> None:
    """Two workspaces: team-a with events that three rules find (two severities), a 401 and a 403,
    a reject and a failed object; team-b with real audit logs from the corpus."""
    events = [
        event(1, "mallory@example.com", "create", "/api/v1/namespaces/kube-system/pods/dns-1/exec?command=sh",
              {"resource": "pods", "namespace": "kube-system", "name": "dns-1", "subresource": "exec"}, 101),
        event(2, "system:serviceaccount:web:default", "get", "/api/v1/namespaces/prod/secrets/db",
              {"resource": "secrets", "namespace": "prod", "name": "db", "apiVersion": "v1"}, 403),
        event(3, "system:anonymous", "get", "/api/v1/namespaces", {"resource": "namespaces", "apiVersion": "v1"}, 401),
    ]
    data = "".join(json.dumps(e) + "\n" for e in events).encode() + b"not json\n"
    assert load_bytes(wh, data, name="team-a.log", workspace="team-a").rejects == 1
    corpus = b"".join(f.read_bytes() for f in sorted((CORPUS / "sysdiglabs__stackdriver-webhook-bridge").glob("*.json"))[:3])
    assert load_bytes(wh, corpus, name="team-b.log", workspace="team-b").events > 0
    Ledger(wh, "team-a", "s3", "s3://audit-logs/team-a/broken.gz").failed(Progress("etag", 10), "gzip: invalid header")
    rules = [r for r in load_rules() if r.id in RULES]
    assert run_once(wh, rules, emit=lambda f: None, now=NOW, since=timedelta(days=1)).new == len(RULES)


# Grafana's range for the test: everything loaded (old events, ledger rows stamped now), hourly buckets
RANGE = TimeRange(datetime(2000, 1, 1, tzinfo=timezone.utc), datetime.now(timezone.utc) + timedelta(hours=1),
                  timedelta(hours=1))
NUMERIC = re.compile(r"(Nullable\()?(U?Int\d+|Float\d+|Decimal)")
DATETIME = re.compile(r"(Nullable\()?DateTime")


def run(wh: Warehouse, panel: dict, current: dict[str, str | list[str]]) -> tuple[list[dict], list[list]]:
    answer = json.loads(wh.raw(grafana_sql(panel["targets"][0]["rawSql"], current, RANGE), "JSONCompact"))
    return answer["meta"], answer["data"]


def check_shape(panel: dict, meta: list[dict], data: list[list]) -> None:
    """What each panel type needs of its query's result."""
    title, names = panel["title"], [c["name"] for c in meta]
    if panel["type"] == "timeseries":
        # a wide frame: time first, then one numeric column per series, rows in time order (sqlds's
        # LongToWide refuses unsorted time, and string columns would make it a long frame)
        assert DATETIME.match(meta[0]["type"]), (title, meta[0])
        assert all(NUMERIC.match(c["type"]) for c in meta[1:]), (title, meta)
        assert [r[0] for r in data] == sorted(r[0] for r in data), title
    if panel["type"] == "stat":
        assert len(data) == 1 and all(NUMERIC.match(c["type"]) for c in meta), (title, meta)
    for o in panel["fieldConfig"]["overrides"]:
        assert o["matcher"]["options"] in names, (title, o["matcher"]["options"], names)


def test_every_query_runs_and_returns_what_its_panel_shows(wh):
    seed(wh)
    workspaces = [r[0] for r in wh.rows(VARIABLES["workspace"]["query"]["rawSql"])]
    assert workspaces == ["team-a", "team-b"]
    for current in ({"workspace": ["$__all"]}, {"workspace": ["team-a"]}, {"workspace": workspaces}):
        for panel in PANELS:
            meta, data = run(wh, panel, current)
            check_shape(panel, meta, data)
            assert data, (panel["title"], current)  # the seeded warehouse has something for every panel


def test_workspace_filter_narrows_events_and_ledger_but_not_findings(wh):
    seed(wh)
    by_title = {p["title"]: p for p in PANELS}

    def rows(title: str, *workspaces: str) -> list[list]:
        return run(wh, by_title[title], {"workspace": list(workspaces) or ["$__all"]})[1]

    assert len(rows("Failed objects")) == 1 and rows("Failed objects", "team-b") == []
    identities = {r[0] for r in rows("Top identities by requests", "team-a")}
    assert "mallory@example.com" in identities
    assert "mallory@example.com" not in {r[0] for r in rows("Top identities by requests", "team-b")}
    assert rows("Denied requests", "team-b") == [] and rows("Denied requests", "team-a")
    assert rows("Findings by rule", "team-b") == rows("Findings by rule")
    assert {r[0] for r in rows("Findings by rule")} == set(RULES)
    assert {r[0] for r in rows("Top identities by findings")} == {"mallory@example.com", "system:serviceaccount:web:default"}
