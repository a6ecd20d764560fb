"""`loader schema apply|show`: the schema/ files, on one server or ON CLUSTER."""

from __future__ import annotations

from typing import Annotated

import typer

from ..cluster import apply_cluster, cluster_schema
from ..warehouse import DEFAULT_DSN, Warehouse, WarehouseError, redact_dsn, schema_files, statements
from .options import Dsn, err, fail

schema_app = typer.Typer(help="The warehouse schema (schema/*.sql).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(schema_app, name="schema")


# not --cluster: on load, sqs-poll and backfill that is the Kubernetes cluster tag of the rows
OnCluster = Annotated[str, typer.Option("--on-cluster", envvar="LOADER_ON_CLUSTER",
                                        help="ClickHouse cluster (remote_servers) for ON CLUSTER, replicated, sharded DDL")]


@schema_app.command("apply")
def schema_apply(dsn: Dsn = DEFAULT_DSN,
                 force: Annotated[bool, typer.Option(help="re-run every file, not only changed ones")] = False,
                 on_cluster: OnCluster = "") -> None:
    """Create or upgrade every object in schema/ (idempotent); with --on-cluster, the cluster form on every node."""
    try:
        wh = Warehouse(dsn)
        applied = apply_cluster(wh, on_cluster, force=force) if on_cluster else wh.apply_schema(force=force)
        wh.close()
    except (WarehouseError, ValueError) as exc:
        fail(str(exc))
    err.print(f"schema up to date at {redact_dsn(dsn)}" + (f"; applied {', '.join(applied)}" if applied else ""))


@schema_app.command("show")
def schema_show(on_cluster: OnCluster = "") -> None:
    """Print the schema SQL, in apply order; with --on-cluster, the SQL `schema apply --on-cluster` runs."""
    pieces = cluster_schema(on_cluster) if on_cluster else [(f.name, statements(f.read_text())) for f in schema_files()]
    for name, stmts in pieces:
        print(f"-- {name}")
        print("".join(stmt + ";\n\n" for stmt in stmts), end="")
