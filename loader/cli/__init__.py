"""The `loader` command line (app.py); one module per group of commands, options.py for what they share."""

from .app import app, main

__all__ = ["app", "main"]
