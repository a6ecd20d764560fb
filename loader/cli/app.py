"""The `loader` command: the app, its entry point, and every command registered on it."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.markup import escape

from .. import __version__
from . import demo, hunt, investigate, ipdb, load, report, rules, schema, serve, sql, sqs
from .options import ENVIRONMENT, EXIT_CODES, err

app = typer.Typer(help="Kubernetes audit logs into ClickHouse: load, hunt, detect.", no_args_is_help=True,
                  epilog=f"{EXIT_CODES}\n\n{ENVIRONMENT}", pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]})
for module in (load, sql, schema, sqs, serve, hunt, report, investigate, rules, ipdb, demo):
    module.register(app)


def main() -> None:
    """The `loader` command. An error no command expected is still one line, with a hint to the traceback:
    it is a bug, and LOADER_DEBUG=1 shows where."""
    try:
        app()
    except Exception as exc:
        if os.environ.get("LOADER_DEBUG"):
            raise
        err.print(f"[red]error:[/red] {escape(type(exc).__name__)}: {escape(str(exc) or '')} "
                  "(unexpected: please report it; LOADER_DEBUG=1 shows the traceback)")
        sys.exit(1)


def _version(value: bool) -> None:
    if value:
        print(f"loader {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False) -> None:
    pass
