"""`loader rules test`: a rule pack's headers and fixtures checked, as `panther_analysis_tool test` does."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..rulecheck import check_pack
from ..warehouse import Warehouse, WarehouseError
from .options import err, fail

rules_app = typer.Typer(help="Rule packs: your own rules in the catalog's format (queries/README.md).",
                        no_args_is_help=True)


@rules_app.command("test")
def rules_test(
    folders: Annotated[list[Path], typer.Argument(help="pack folders (the catalog: the queries/ folder)")],
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Check every rule under the folders: its header, then its <id>.tp.jsonl events all found and its
    <id>.tn.jsonl events not, on a scratch embedded warehouse. Exit 1 if any rule fails."""
    if fmt not in ("text", "json"):
        fail(f"--format: text or json, not {fmt!r}", 2)
    if missing := [str(f) for f in folders if not f.is_dir()]:
        fail(f"not a folder: {', '.join(missing)}", 2)
    with tempfile.TemporaryDirectory(prefix="loader-rules-test-") as scratch:
        try:
            wh = Warehouse(f"chdb://{scratch}")
            wh.apply_schema()
            outcomes = [o for f in folders for o in check_pack(wh, f)]
            wh.close()
        except WarehouseError as exc:
            fail(str(exc))
    if not outcomes:
        fail(f"no .sql rule file under {', '.join(map(str, folders))}", 2)
    failed = [o for o in outcomes if not o.passed]
    if fmt == "json":
        print(json.dumps([{"rule": o.rule, "path": str(o.path), "passed": o.passed, "problems": o.problems}
                          for o in outcomes], indent=2))
    else:
        for o in outcomes:
            mark = "[green]PASS[/green]" if o.passed else "[red]FAIL[/red]"
            err.print(f"{mark} {escape(o.rule)}" + "".join(f"\n     {escape(p)}" for p in o.problems), highlight=False)
    err.print(f"{len(outcomes)} rule(s): {len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
