"""sqs-poll: S3-notified ingestion from an SQS queue, exactly once, surviving crashes.

One receive loop (long polling) hands messages to worker threads; each worker streams every object
the message announces through the same pipeline as `loader load` and deletes the message only after
all of them are committed. Inserts carry tokens from bucket, key, ETag/version and chunk number, so a
redelivery, a second consumer or a restart after SIGKILL adds nothing. A heartbeat thread extends
the visibility of every message in flight, so a slow object is never handed to a second consumer.

Failures never stop the poller: ClickHouse errors are retried with backoff while the message stays
held; an object that is gone or denied is written to the ledger as failed and its message left for
the queue's redrive policy (DLQ); an unparseable body is logged and left likewise.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, fields

from botocore.exceptions import BotoCoreError, ClientError

from .decode import ReadError
from .ledger import Ledger, Progress
from .metrics import Metrics, serve
from .notifications import NotificationError, ObjectRef, parse
from .pipeline import Settings, load_stream
from .sources import SetupError, aws_session, open_s3, s3_client, s3_identity
from .warehouse import Warehouse, WarehouseError

log = logging.getLogger("loader.sqs")

WAIT_SECONDS = 20          # SQS long polling maximum
BATCH = 10                 # SQS receive maximum
MAX_BACKOFF = 30.0
# S3 answers that will not change by retrying: the object is gone, replaced or not ours to read
GONE = {"NoSuchKey", "NoSuchVersion", "NoSuchBucket", "404", "NotFound", "AccessDenied", "403",
        "PreconditionFailed", "412", "InvalidObjectState"}
REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d+")


@dataclass
class PollStats:
    messages_received: int = 0
    messages_deleted: int = 0
    messages_failed: int = 0
    objects: int = 0
    events: int = 0
    rejects: int = 0
    bytes: int = 0


class _Abandoned(Exception):
    """Stop was requested while a message was in flight: leave it for another consumer."""


class _Held:
    """Receipt handles of the messages in flight, which the heartbeat keeps invisible."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handles: set[str] = set()

    def add(self, handle: str) -> None:
        with self._lock:
            self._handles.add(handle)

    def discard(self, handle: str) -> None:
        with self._lock:
            self._handles.discard(handle)

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self._handles)

    def __len__(self) -> int:
        with self._lock:
            return len(self._handles)


def queue_region(queue_url: str) -> str | None:
    """The region an SQS queue URL names (https://sqs.eu-west-1.amazonaws.com/123/q, VPC endpoints too)."""
    host = queue_url.partition("://")[2].partition("/")[0]
    return next((label for label in host.split(".") if REGION.fullmatch(label)), None)


def queue_visibility(client, queue_url: str) -> int:
    """The queue's visibility timeout; SetupError when the queue cannot be read (missing, denied, unreachable)."""
    try:
        attrs = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    except (BotoCoreError, ClientError) as exc:
        raise SetupError(f"cannot read the queue {queue_url}: {exc}") from exc
    return int(attrs["VisibilityTimeout"])


def connect(dsn: str, stop: threading.Event, schema: bool = False) -> Warehouse | None:
    """A warehouse connection, retried with backoff until it answers; None if stop comes first."""
    backoff = 1.0
    while not stop.is_set():
        try:
            wh = Warehouse(dsn)
            if schema:
                wh.ensure_schema()
            return wh
        except WarehouseError as exc:
            log.warning("warehouse unavailable, retrying in %.0fs: %s", backoff, exc,
                        extra={"event": "warehouse_retry", "error": str(exc)})
            stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
    return None


class Poller:
    def __init__(self, queue_url: str, dsn: str, settings: Settings, *, workers: int, idle_exit: float | None,
                 stop: threading.Event, visibility_timeout: int | None, metrics: Metrics):
        self.queue_url, self.dsn, self.settings = queue_url, dsn, settings
        self.workers, self.idle_exit, self.stop, self.metrics = max(1, workers), idle_exit, stop, metrics
        # clients are thread-safe, a session is not: every thread's clients are made here, from one session
        self.session = aws_session(queue_region(queue_url))
        self.sqs = self.session.client("sqs")
        queue_default = queue_visibility(self.sqs, queue_url)  # fails at once on a queue that cannot be read
        self.visibility = visibility_timeout or queue_default
        self.held = _Held()
        self.slots = threading.Semaphore(self.workers)
        self.done = threading.Event()   # the receive loop has ended: heartbeat and workers wind down
        self._work: list[dict] = []
        self._work_ready = threading.Condition()

    # -- receive loop (the caller's thread) -----------------------------------------------------
    def run(self) -> None:
        wh = connect(self.dsn, self.stop, schema=True)
        if wh is None:
            return
        wh.close()
        threads = [threading.Thread(target=self._heartbeat, args=(self.session.client("sqs"),), name="heartbeat",
                                    daemon=True)]
        threads += [threading.Thread(target=self._worker, args=(self.session.client("sqs"), s3_client(self.session)),
                                     name=f"worker-{i}", daemon=True) for i in range(self.workers)]
        for t in threads:
            t.start()
        try:
            self._receive_loop()
        finally:
            self.done.set()
            with self._work_ready:
                self._work_ready.notify_all()
            for t in threads:
                t.join()

    def _receive_loop(self) -> None:
        wait = WAIT_SECONDS if self.idle_exit is None else max(1, min(WAIT_SECONDS, int(self.idle_exit)))
        idle_since = time.monotonic()
        backoff = 1.0
        while not self.stop.is_set():
            free = self._free_slots()
            if not free:
                idle_since = time.monotonic()
                continue
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=min(BATCH, free), WaitTimeSeconds=wait,
                    VisibilityTimeout=self.visibility, AttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
                ).get("Messages", [])
                backoff = 1.0
            except (BotoCoreError, ClientError) as exc:
                self._release_slots(free)
                log.warning("receive failed, retrying in %.0fs: %s", backoff, exc, extra={"event": "receive_retry"})
                self.stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            self._release_slots(free - len(messages))
            if not messages:
                self.metrics.set("oldest_message_age_seconds", 0)
                if len(self.held) or self._queued():
                    idle_since = time.monotonic()
                elif self.idle_exit is not None and time.monotonic() - idle_since >= self.idle_exit:
                    log.info("queue empty for %ss, exiting", self.idle_exit, extra={"event": "idle_exit"})
                    return
                continue
            idle_since = time.monotonic()
            self.metrics.add("messages_received", len(messages))
            oldest = min(int(m.get("Attributes", {}).get("SentTimestamp", time.time() * 1000)) for m in messages)
            self.metrics.set("oldest_message_age_seconds", max(0.0, time.time() - oldest / 1000))
            for m in messages:
                self.held.add(m["ReceiptHandle"])
            with self._work_ready:
                self._work.extend(messages)
                self._work_ready.notify_all()

    def _free_slots(self) -> int:
        """Take every free worker slot (waiting briefly for one); the caller releases those it cannot fill."""
        if not self.slots.acquire(timeout=0.2):
            return 0
        n = 1
        while n < BATCH and self.slots.acquire(blocking=False):
            n += 1
        return n

    def _release_slots(self, n: int) -> None:
        for _ in range(n):
            self.slots.release()

    def _queued(self) -> int:
        with self._work_ready:
            return len(self._work)

    # -- heartbeat ------------------------------------------------------------------------------
    def _heartbeat(self, client) -> None:
        interval = max(0.5, self.visibility / 3)
        while not self.done.wait(interval):
            for handle in self.held.snapshot():
                try:
                    client.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=handle,
                                                     VisibilityTimeout=self.visibility)
                    self.metrics.add("visibility_extensions")
                except (BotoCoreError, ClientError) as exc:  # deleted meanwhile, or SQS briefly down
                    log.debug("visibility extension failed: %s", exc)

    # -- workers --------------------------------------------------------------------------------
    def _next(self) -> dict | None:
        with self._work_ready:
            while not self._work:
                if self.done.is_set():
                    return None
                self._work_ready.wait(0.5)
            return self._work.pop(0)

    def _worker(self, sqs, s3) -> None:
        wh: Warehouse | None = None
        try:
            while (message := self._next()) is not None:
                handle = message["ReceiptHandle"]
                try:
                    if self.stop.is_set():
                        raise _Abandoned
                    if wh is None:
                        wh = connect(self.dsn, self.stop)
                        if wh is None:
                            raise _Abandoned
                    if self._handle(message, wh, s3):
                        self._delete(sqs, handle)
                    else:
                        self.metrics.add("messages_failed")
                except _Abandoned:
                    self.metrics.add("messages_failed")
                    self._release(sqs, handle)
                except Exception:  # a bug must not stop the poller: the message stays for the DLQ
                    self.metrics.add("messages_failed")
                    log.exception("unexpected error on message %s", message.get("MessageId"),
                                  extra={"event": "message_error", "message_id": message.get("MessageId")})
                finally:
                    self.held.discard(handle)
                    self.slots.release()
        finally:
            if wh is not None:
                wh.close()

    def _delete(self, sqs, handle: str) -> None:
        try:
            sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=handle)
            self.metrics.add("messages_deleted")
        except (BotoCoreError, ClientError) as exc:  # redelivered later, then skipped via the ledger
            self.metrics.add("messages_failed")
            log.warning("delete failed (the message will come back and load nothing new): %s", exc,
                        extra={"event": "delete_failed"})

    def _release(self, sqs, handle: str) -> None:
        """Make an abandoned message visible again at once, for another consumer."""
        try:
            sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
        except (BotoCoreError, ClientError):
            pass  # it becomes visible when its timeout runs out anyway

    def _handle(self, message: dict, wh: Warehouse, s3) -> bool:
        """Load every object of one message; True when all are committed (the message may go)."""
        mid = message.get("MessageId")
        try:
            note = parse(message.get("Body", ""))
        except NotificationError as exc:
            log.warning("unparseable message %s left for the DLQ: %s", mid, exc,
                        extra={"event": "bad_message", "message_id": mid, "error": str(exc),
                               "receive_count": message.get("Attributes", {}).get("ApproximateReceiveCount")})
            return False
        if note.test_event:
            log.info("s3:TestEvent message %s deleted", mid, extra={"event": "test_event", "message_id": mid})
            return True
        ok = True
        for ref in note.objects:
            ok = self._load(ref, wh, s3) and ok
        return ok

    def _load(self, ref: ObjectRef, wh: Warehouse, s3) -> bool:
        """One object, retrying ClickHouse failures until they pass or stop; False if S3 refuses it."""
        backoff = 1.0
        while True:
            try:
                return self._load_once(ref, wh, s3)
            except WarehouseError as exc:
                log.warning("warehouse failed on s3://%s/%s, retrying in %.0fs: %s", ref.bucket, ref.key, backoff, exc,
                            extra={"event": "warehouse_retry", "bucket": ref.bucket, "key": ref.key, "error": str(exc)})
                if self.stop.wait(backoff):
                    raise _Abandoned from exc
                backoff = min(backoff * 2, MAX_BACKOFF)

    def _load_once(self, ref: ObjectRef, wh: Warehouse, s3) -> bool:
        s = self.settings
        source = f"s3://{ref.bucket}/{ref.key}"
        ledger = Ledger(wh, s.workspace, s.source_id, source)
        if ref.etag and ledger.loaded(s3_identity(ref.etag, ref.version)):
            self.metrics.add("objects")
            log.info("%s already loaded", source, extra={"event": "already_loaded", "source": source})
            return True

        def on_bytes(_: int) -> None:
            if self.stop.is_set():
                raise _Abandoned

        try:
            with open_s3(ref.bucket, ref.key, s3, etag=ref.etag, version=ref.version) as src:
                r = load_stream(wh, src.name, src.stream, s, identity=src.identity, size=src.size, on_bytes=on_bytes)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            log.error("cannot read %s (%s), message left for the DLQ: %s", source, code, exc,
                      extra={"event": "object_failed", "bucket": ref.bucket, "key": ref.key, "code": code})
            if code in GONE:
                ledger.failed(Progress(s3_identity(ref.etag or "", ref.version), ref.size or 0), f"{code}: {exc}")
            return False
        except (BotoCoreError, ReadError) as exc:  # connection dropped mid-object: the redelivery loads it
            log.error("reading %s failed, message left for retry: %s", source, exc,
                      extra={"event": "object_failed", "bucket": ref.bucket, "key": ref.key})
            return False
        for name in ("events", "rejects"):
            self.metrics.add(name, getattr(r, name))
        self.metrics.add("objects")
        self.metrics.add("bytes", r.size)
        log.info("loaded %s: %d events, %d rejects, %d bytes in %.1fs", source, r.events, r.rejects, r.size, r.seconds,
                 extra={"event": "loaded", "source": source, "events": r.events, "rejects": r.rejects, "bytes": r.size})
        return True


def poll(queue_url: str, dsn: str, settings: Settings, *, workers: int = 2, idle_exit: float | None = None,
         stop: threading.Event | None = None, metrics_port: int | None = None,
         visibility_timeout: int | None = None, metrics: Metrics | None = None) -> PollStats:
    """Consume queue_url until stop is set (or the queue has been empty for idle_exit seconds), counting
    into metrics (`loader serve` shares its own) and serving them on metrics_port if given.

    Raises SetupError before any work: no AWS region or credentials, a queue it cannot read, a port taken."""
    metrics = metrics or Metrics()
    try:
        server = serve(metrics, metrics_port) if metrics_port is not None else None
    except OSError as exc:  # taken, or privileged
        raise SetupError(f"--metrics-port {metrics_port}: {exc.strerror or exc}") from exc
    try:
        Poller(queue_url, dsn, settings, workers=workers, idle_exit=idle_exit, stop=stop or threading.Event(),
               visibility_timeout=visibility_timeout, metrics=metrics).run()
    finally:
        if server:
            server.shutdown()
            server.server_close()
    return PollStats(**{f.name: int(metrics.values[f.name]) for f in fields(PollStats)})
