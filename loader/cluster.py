"""The cluster form of schema/*.sql: the same objects, ON CLUSTER, replicated, the event tables sharded.

Rules (one per object kind, so operators can predict the DDL `loader schema show --cluster` prints):
- Every statement gets ON CLUSTER <name>.
- Event tables (SHARDED) become <name>_local with a Replicated*MergeTree engine per shard, and <name>
  becomes a Distributed table over them with a stable sharding key. The materialized views keep
  writing TO <name>, so every row goes through Distributed to its shard.
- Bookkeeping tables (the ledger, per-chunk counts, schema_migrations) and lookup tables (ip_networks)
  are small and read right after they are written: one replica set spanning every node, so any node
  answers for all of them (and dictionaries read them locally).
- Null tables, views, dictionaries and functions are the same on every node; the ingest runs where
  the insert lands.
- Deduplication: replicated tables keep insert tokens in Keeper (replicated_deduplication_window*),
  so a chunk retried on any replica of a shard adds nothing. The loader's inserts must reach the
  shards synchronously (distributed_foreground_insert = 1, set in deploy/cluster's loader profile)
  so a failure reaches the loader, which retries with the same token.
"""

from __future__ import annotations

import hashlib
import re

from .warehouse import MIGRATIONS, Warehouse, schema_files, statements

# table -> sharding key of its Distributed table; rows of one key stay on one shard (ReplacingMergeTree
# collapses, ORDER BY ... LIMIT BY and FINAL work per shard).
SHARDED = {
    "kubernetes_audit_logs": "cityHash64(id)",
    "kubernetes_audit_logs_rejects": "cityHash64(source, line, item, record)",
}
SHARD_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
EVERY_NODE_PATH = "/clickhouse/tables/all/{database}/{table}"  # needs a {replica} macro unique per node
_DEDUP = "replicated_deduplication_window = 10000, replicated_deduplication_window_seconds = 604800"

_CREATE = re.compile(r"^CREATE\s+(?:OR\s+REPLACE\s+)?(?P<kind>TABLE|MATERIALIZED\s+VIEW|VIEW|DICTIONARY|FUNCTION)\s+"
                     r"(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>\w+)", re.I | re.M)
# Statements that upgrade what exists: dropping the objects that hold no data, altering tables.
_CHANGE = re.compile(r"^(?P<verb>DROP\s+(?:TABLE|VIEW)\s+IF\s+EXISTS|ALTER\s+TABLE)\s+(?P<name>\w+)", re.I | re.M)
_ENGINE = re.compile(r"ENGINE\s*=\s*(?P<engine>\w*MergeTree)(?:\((?P<args>[^()]*)\))?", re.I)
_SETTINGS = re.compile(r"\bSETTINGS\s+non_replicated_deduplication_window\s*=\s*\d+", re.I)


def _replicated(stmt: str, path: str) -> str:
    def engine(m: re.Match) -> str:
        args = ", ".join(a for a in (f"'{path}'", "'{replica}'", m.group("args")) if a)
        return f"ENGINE = Replicated{m.group('engine')}({args})"
    stmt = _ENGINE.sub(engine, stmt, count=1)
    if _SETTINGS.search(stmt):
        return _SETTINGS.sub(f"SETTINGS {_DEDUP}", stmt)
    return stmt + f"\nSETTINGS {_DEDUP}"


def cluster_statement(stmt: str, cluster: str) -> list[str]:
    """One schema statement in its cluster form (a sharded table becomes two statements)."""
    m = _CREATE.search(stmt)
    if not m and (c := _CHANGE.search(stmt)):
        name = c.group("name")
        if c.group("verb").upper().startswith("ALTER") and name in SHARDED:
            name += "_local"  # the Distributed table holds no data: its shards' tables change
        sync = " SYNC" if c.group("verb").upper().startswith("DROP") else ""
        return [stmt[:c.start("name")] + name + f" ON CLUSTER `{cluster}`" + stmt[c.end():] + sync]
    if not m:
        raise ValueError(f"no cluster form for a statement that creates no object: {stmt[:80]!r}")
    name, on = m.group("name"), f" ON CLUSTER `{cluster}`"
    if not _ENGINE.search(stmt):  # Null tables, views, dictionaries, functions
        return [stmt[:m.end()] + on + stmt[m.end():]]
    if name in SHARDED:
        local = stmt[:m.start("name")] + f"{name}_local" + on + stmt[m.end():]
        dist = (f"-- {name}: every shard's {name}_local, read and written through one name\n"
                f"CREATE TABLE IF NOT EXISTS {name}{on} AS {name}_local\n"
                f"ENGINE = Distributed(`{cluster}`, currentDatabase(), {name}_local, {SHARDED[name]})")
        return [_replicated(local, SHARD_PATH), dist]
    return [_replicated(stmt[:m.end()] + on + stmt[m.end():], EVERY_NODE_PATH)]


def cluster_schema(cluster: str) -> list[tuple[str, list[str]]]:
    """(file, statements) for schema_migrations and every schema file, in apply order."""
    out = [("schema_migrations", cluster_statement(MIGRATIONS, cluster))]
    for f in schema_files():
        out.append((f.name, [s for stmt in statements(f.read_text()) for s in cluster_statement(stmt, cluster)]))
    return out


def apply_cluster(wh: Warehouse, cluster: str, force: bool = False) -> list[str]:
    """Create every object on every node of the cluster; record the files as `apply_schema` does, so
    `ensure_schema` on any node sees the schema as applied. As there, a changed file is re-run with
    every file after it."""
    found = wh.rows("SELECT count() FROM system.clusters WHERE cluster = {c:String}", {"c": cluster})[0][0]
    if not found:
        raise ValueError(f"the server knows no cluster named {cluster!r} (see system.clusters / remote_servers)")
    (_, [migrations]), *files = cluster_schema(cluster)
    wh.command(migrations)
    return wh.apply_files(((name, hashlib.sha256(f.read_bytes()).hexdigest(), stmts)
                           for f, (name, stmts) in zip(schema_files(), files)), force)
