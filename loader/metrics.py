"""Metrics: the poller's counters, and a Prometheus text-exposition endpoint (stdlib http.server only)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# name -> (type, help); every counter is also a field of PollStats
SQS_METRICS = {
    "messages_received": ("counter", "SQS messages received"),
    "messages_deleted": ("counter", "SQS messages deleted after every record was committed"),
    "messages_failed": ("counter", "SQS messages left in the queue (bad body, object gone or denied, abandoned)"),
    "objects": ("counter", "S3 objects loaded (or found already loaded)"),
    "events": ("counter", "audit events committed"),
    "rejects": ("counter", "units rejected into kubernetes_audit_logs_rejects"),
    "bytes": ("counter", "object bytes read from S3"),
    "visibility_extensions": ("counter", "ChangeMessageVisibility heartbeats sent"),
    "oldest_message_age_seconds": ("gauge", "lag: age of the oldest message in the last receive (0 when the queue is empty)"),
}


# what `loader serve` adds to the poller's
SERVE_METRICS = {
    "detect_runs": ("counter", "detection passes run"),
    "detect_errors": ("counter", "rules that failed in a detection pass"),
    "detect_findings": ("counter", "new findings"),
    "detect_delivery_failures": ("counter", "findings the webhook did not take (retried next pass)"),
    "detect_last_success_timestamp_seconds": ("gauge", "when the last detection pass without a failed rule ended"),
    "http_queries": ("counter", "statements answered on the HTTP interface"),
    "http_errors": ("counter", "statements the HTTP interface answered with an error"),
}


class Metrics:
    """Counters and gauges of one family (loader_sqs_*, loader_serve_*), in Prometheus' text format."""

    def __init__(self, spec: dict[str, tuple[str, str]] = SQS_METRICS, prefix: str = "loader_sqs_") -> None:
        self._lock = threading.Lock()
        self.spec, self.prefix = spec, prefix
        self.values: dict[str, float] = dict.fromkeys(spec, 0)

    def add(self, name: str, n: float = 1) -> None:
        with self._lock:
            self.values[name] += n

    def set(self, name: str, value: float) -> None:
        with self._lock:
            self.values[name] = value

    def exposition(self) -> str:
        with self._lock:
            values = dict(self.values)
        lines = []
        for name, (kind, text) in self.spec.items():
            full = self.prefix + name + ("_total" if kind == "counter" else "")
            lines += [f"# HELP {full} {text}", f"# TYPE {full} {kind}", f"{full} {values[name]:g}"]
        return "\n".join(lines) + "\n"


def serve(metrics: Metrics, port: int, host: str = "") -> ThreadingHTTPServer:
    """Serve /metrics on port (0 = any free port: see server.server_port) in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.split("?")[0] not in ("/metrics", "/"):
                self.send_error(404)
                return
            body = metrics.exposition().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # scrapes are not worth a log line each
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
