"""Kubernetes audit-log warehouse on ClickHouse."""

__version__ = "0.1.0"
