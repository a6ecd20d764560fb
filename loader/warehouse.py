"""Warehouse: the one ClickHouse connection every command uses, embedded (chdb://) or server (http://).

Both go through clickhouse-connect, so there is one SQL dialect and one code path; only the DSN differs.
This is the only module that uses the client: the rest of the loader calls a Warehouse's methods, whose
errors are WarehouseErrors typed by ClickHouse's error code (Unreachable, AuthError, AccessDenied,
UnknownDatabase, QueryError).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Self, cast
from urllib.parse import parse_qs, quote, unquote, urlparse

import clickhouse_connect
import pyarrow as pa
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError
from urllib3.util.retry import Retry

DEFAULT_HOME = Path(os.environ.get("LOADER_HOME", "~/.local/share/k8s-audit-warehouse")).expanduser()
DEFAULT_DSN = f"chdb://{DEFAULT_HOME / 'warehouse'}"

# Settings for inserts into the ingest table: deduplicate every target of the materialized views by
# the chunk's token, and fail rather than half-insert. Copies of one event (same id) are collapsed by
# ReplacingMergeTree when parts merge, as copies from different chunks always were, not while inserting:
# that costs ~15% of the load (optimize_on_insert).
_INSERT_SETTINGS = {"deduplicate_blocks_in_dependent_materialized_views": 1, "insert_deduplicate": 1,
                    "optimize_on_insert": 0}


class WarehouseError(Exception):
    """ClickHouse could not be reached or refused a statement; `code` is ClickHouse's error code, if it gave one."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code

    def about(self, what: str) -> Self:
        """The same error (class and code), its message led by what failed: "rule k8s-x: ..."."""
        return type(self)(f"{what}: {self}", self.code)


class DsnError(WarehouseError, ValueError):
    """The DSN names no warehouse this loader can open (a usage error)."""


class Unreachable(WarehouseError):
    """No answer: connection refused, timed out, TLS failed."""


class AuthError(WarehouseError):
    """Wrong password, or no such user (516)."""


class AccessDenied(WarehouseError):
    """The user lacks a grant the statement needs (497)."""


class UnknownDatabase(WarehouseError):
    """The database named does not exist (81)."""


class QueryError(WarehouseError):
    """ClickHouse refused a statement: its syntax (62), an unknown identifier (47) or table (60), a parameter
    it cannot read as its type (457, 130, 41, 27, 6, ...), or any other code; also rows the client cannot
    convert to a table's columns (no code)."""


# the codes that mean something other than "this statement is wrong"; every other code is a QueryError
_KINDS: dict[int | None, type[WarehouseError]] = {516: AuthError, 497: AccessDenied, 81: UnknownDatabase}


DSN_FORMS = "chdb:///absolute/folder, chdb:relative/folder, chdb://memory or http(s)://user:pass@host:8123/db"


def check_dsn(dsn: str) -> str:
    """The DSN as the loader opens it (a relative chdb: folder made absolute), or DsnError saying why not.

    `chdb://name/...` is refused rather than guessed: clickhouse-connect reads it as folder `name` with
    database `...`, while users mean a path."""
    u = urlparse(dsn)
    if u.scheme in ("http", "https"):
        if not u.hostname:
            raise DsnError(f"{redact_dsn(dsn)} names no host: use {DSN_FORMS}")
        return dsn
    if not u.scheme:
        raise DsnError(f"{dsn!r} has no scheme: a folder is chdb:{dsn} (embedded); or use {DSN_FORMS}")
    if u.scheme != "chdb":
        raise DsnError(f"unknown DSN scheme {u.scheme!r}: use {DSN_FORMS}")
    if u.netloc == "memory":
        return dsn
    if u.netloc:
        raise DsnError(f"{dsn}: '{u.netloc}' would be read as a host; a folder is chdb:///absolute/path "
                       f"(three slashes) or chdb:relative/path")
    if not u.path:
        raise DsnError(f"{dsn} names no folder: use {DSN_FORMS}")
    folder = Path(unquote(u.path)).expanduser().resolve()
    return f"chdb://{folder}" + (f"?{u.query}" if u.query else "")


def package_dir(name: str) -> Path:
    """schema/ or queries/: inside the installed package (wheel), else beside it (source checkout)."""
    inside = Path(str(resources.files("loader"))) / name
    return inside if inside.is_dir() else Path(__file__).resolve().parent.parent / name


def schema_files() -> list[Path]:
    return sorted(package_dir("schema").glob("*.sql"))


def statements(sql: str) -> list[str]:
    """Split a .sql file into statements (on ';' at the end of a line), dropping comment-only pieces."""
    out = []
    for piece in re.split(r";[ \t]*(?:\n|$)", sql):
        body = "\n".join(line for line in piece.splitlines() if not line.strip().startswith("--")).strip()
        if body:
            out.append(piece.strip())
    return out


@dataclass
class Answer:
    """What one statement sent as text returned: its bytes in `fmt`, and ClickHouse's counters."""

    body: bytes
    fmt: str
    read_rows: int = 0
    read_bytes: int = 0
    written_rows: int = 0
    written_bytes: int = 0
    elapsed_ns: int = 0


SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # what may follow SET: checked, never quoted


def quote_string(text: str) -> str:
    """A ClickHouse string literal: backslash and quote escaped."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
_FORMAT_CLAUSE = re.compile(rb"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_ERROR_CODE = re.compile(r"Code: (\d+)")


# where apply_schema (and cluster.apply_cluster) record the digest of each schema file applied
MIGRATIONS = ("CREATE TABLE IF NOT EXISTS schema_migrations (file String, sha256 String, "
              "appliedAt DateTime DEFAULT now()) ENGINE = ReplacingMergeTree(appliedAt) ORDER BY file")


def schema_digest() -> str:
    h = hashlib.sha256()
    for f in schema_files():
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


@dataclass
class Warehouse:
    dsn: str

    def __post_init__(self) -> None:
        self.dsn = check_dsn(self.dsn)
        # the `loader serve` process this embedded warehouse is reached through, when one holds its folder
        self.via: str | None = None
        try:
            if self.embedded and (served := serving(urlparse(self.dsn).path)):
                self.via = served.url
                self._client = _server_client(served.dsn(parse_qs(urlparse(self.dsn).query).get("database", [""])[0]))
            elif self.embedded:
                self._client = self._open_embedded()
            else:
                self._client = _server_client(self.dsn)
        except WarehouseError:
            raise
        except Exception as exc:  # connection refused, bad password, unknown database, ...
            through = f" through `loader serve` at {self.via}, which holds it" if self.via else ""
            raise typed(exc, self.dsn).about(f"cannot connect to {redact_dsn(self.dsn)}{through}") from exc

    def _open_embedded(self):
        """Open the folder; when another process holds it (chDB allows one), say which one. chDB prints
        its own "Cannot lock file" line on stderr first: that line is dropped, anything else it prints kept."""
        folder = urlparse(self.dsn).path
        with _stderr_captured() as captured:
            try:
                self._prepare_embedded()
                return clickhouse_connect.get_client(dsn=self.dsn, settings={"session_timezone": "UTC"})
            except Exception:
                if holder := _holder(folder):
                    captured.replay = False
                    raise WarehouseError(
                        f"the warehouse {folder} is in use by another process ({holder}); embedded ClickHouse "
                        "opens a folder in one process at a time: wait for it to finish or stop it, or use a "
                        "ClickHouse server (docker-compose.yml)") from None
                raise

    def _prepare_embedded(self) -> None:
        """An embedded warehouse is created on first use: its folder and, if named (?database=), its database."""
        u = urlparse(self.dsn)
        if u.path.startswith("/") and not u.netloc:
            Path(u.path).mkdir(parents=True, exist_ok=True)
        database = parse_qs(u.query).get("database", [""])[0]
        if database:
            bare = clickhouse_connect.get_client(dsn=u._replace(query="").geturl())
            bare.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
            bare.close()

    @property
    def embedded(self) -> bool:
        return self.dsn.startswith("chdb:")

    @property
    def server_version(self) -> str:
        return self._client.server_version or ""

    def close(self) -> None:
        self._client.close()

    # -- schema -------------------------------------------------------------------------------
    def apply_schema(self, force: bool = False) -> list[str]:
        """Create or upgrade every object in schema/, idempotently; return the files applied.

        Every file can be re-run: tables are created IF NOT EXISTS and changed by ALTERs, the objects
        that hold no data (Null tables, views, functions) are dropped and created again. A changed file
        is re-run with every file after it, since later files build on what it recreates.
        """
        self.command(MIGRATIONS)
        return self.apply_files(((f.name, hashlib.sha256(f.read_bytes()).hexdigest(), statements(f.read_text()))
                                 for f in schema_files()), force)

    def apply_files(self, files: Iterable[tuple[str, str, list[str]]], force: bool = False) -> list[str]:
        """Run (name, digest, statements) files in order from the first one whose digest schema_migrations
        does not hold (every file when forced), recording each; return the names run."""
        # FINAL keeps the newest row of a file, the last inserted when two share a second
        done: dict[str, str] = {f: d for f, d in self.rows("SELECT file, sha256 FROM schema_migrations FINAL")}
        applied: list[str] = []
        for name, digest, stmts in files:
            if not force and not applied and done.get(name) == digest:
                continue
            for stmt in stmts:
                self.command(stmt)
            self.command("INSERT INTO schema_migrations (file, sha256) VALUES ({f:String}, {d:String})",
                         {"f": name, "d": digest})
            applied.append(name)
        return applied

    def ensure_schema(self) -> None:
        """Apply the schema unless this exact version is already applied (one cheap query)."""
        try:
            rows = self.rows("SELECT count() FROM schema_migrations FINAL "
                             "WHERE (file, sha256) IN {pairs:Array(Tuple(String, String))}",
                             {"pairs": [(f.name, hashlib.sha256(f.read_bytes()).hexdigest()) for f in schema_files()]})
            if rows[0][0] == len(schema_files()):
                return
        except WarehouseError:
            pass  # no schema_migrations yet; anything worse, apply_schema meets and raises
        self.apply_schema()

    # -- statements: every call to the client goes through _refused, which types its errors ------
    @contextmanager
    def _refused(self, what: str = "") -> Iterator[None]:
        try:
            yield
        except ClickHouseError as exc:
            error = typed(exc, self.dsn)
            raise (error.about(what) if what else error) from exc

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Any:
        with self._refused():
            return self._client.command(sql, parameters=parameters)

    def rows(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Sequence[Sequence[Any]]:
        with self._refused():
            return self._client.query(sql, parameters=parameters).result_rows

    def query_dicts(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The rows as {column: value}."""
        with self._refused():
            result = self._client.query(sql, parameters=parameters)
            return [dict(zip(result.column_names, r)) for r in result.result_rows]

    def raw(self, sql: str, fmt: str, parameters: Mapping[str, Any] | None = None) -> bytes:
        with self._refused():
            return self._client.raw_query(sql, parameters=parameters, fmt=fmt)

    def insert(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]) -> None:
        with self._refused(f"{table} write failed"):
            try:
                self._client.insert(table, rows, column_names=column_names)
            except (ValueError, TypeError) as exc:  # the client converts the rows to the columns' types first
                raise QueryError(f"{table} write failed: {exc}") from exc

    def insert_arrow(self, table: str, data: pa.Table, settings: Mapping[str, Any] | None = None) -> None:
        with self._refused(f"{table} write failed"):
            self._client.insert_arrow(table, data, settings=settings)

    # -- statements as text, for `loader serve`'s HTTP interface ------------------------------
    def execute(self, sql: bytes, *, default_format: str = "TabSeparated", params: Mapping[str, str] | None = None,
                settings: Mapping[str, str] | None = None, database: str | None = None,
                readonly: bool = True) -> Answer:
        """Run one statement, as ClickHouse's HTTP interface does: its own FORMAT clause or `default_format`,
        `{name:Type}` parameters, settings applied first; an INSERT may carry its data after its FORMAT clause.

        Embedded only. Each call has a handle of its own on the engine (about 1 ms), so its settings end with
        it; `readonly` is set last (readonly=1: no INSERT, no DDL, no file()/url() table functions, no SETTINGS
        that change anything), so no setting sent with the request can lift it. In chDB readonly=1 still lets
        INTO OUTFILE, the scalar file(), KILL and several statements through: a caller taking statements from
        others checks them first (chhttp.check_read_only)."""
        if not self.embedded or self.via:
            raise WarehouseError("execute() runs in the process that holds an embedded warehouse")
        import chdb  # only an embedded warehouse needs the engine's own handle

        for name in settings or {}:
            if not SETTING_NAME.match(name):
                raise QueryError(f"Code: 115. DB::Exception: Unknown setting '{name}'. (UNKNOWN_SETTING)", 115)
        folder = urlparse(self.dsn)
        handle = chdb.connect(":memory:" if folder.netloc == "memory" else folder.path)
        try:
            if database:
                handle.query(f"USE `{database.replace('`', '``')}`")
            for name, value in (settings or {}).items():
                handle.query(f"SET {name} = {quote_string(str(value))}")
            if readonly:
                handle.query("SET readonly = 1")
            match = _FORMAT_CLAUSE.search(sql[-200:]) if not sql.lstrip()[:6].upper().startswith(b"INSERT") else None
            result = handle.query(sql, default_format, params=dict(params or {}))
            return Answer(bytes(result.bytes() or b""), match.group(1).decode() if match else default_format,
                          result.rows_read(), result.bytes_read(), result.rows_written(), result.bytes_written(),
                          int(result.elapsed() * 1e9))
        except Exception as exc:
            if isinstance(exc, WarehouseError):
                raise
            text = " ".join(str(exc).split())
            code = int(m.group(1)) if (m := _ERROR_CODE.search(text)) else None
            raise _KINDS.get(code, QueryError)(_tidy(text[text.find("Code: "):] if code else text), code) from exc
        finally:
            handle.close()

    # -- ingest -------------------------------------------------------------------------------
    def insert_units(self, table: pa.Table, token: str) -> None:
        """Insert one chunk of units; a repeat with the same token adds nothing anywhere."""
        self.insert_arrow("kubernetes_audit_logs_ingest", table,
                          {**_INSERT_SETTINGS, "insert_deduplication_token": token})

    def chunk_loaded(self, token: str) -> bool:
        """Whether a chunk with this token was inserted before (inserting it again adds nothing)."""
        return bool(self.rows("SELECT count() > 0 FROM ingest_chunks WHERE token = {t:String}", {"t": token})[0][0])

    def chunk_counts(self, token: str) -> tuple[int, int]:
        """(events, rejects) that the chunk with this token produced."""
        row = self.rows("SELECT sum(events), sum(rejects) FROM ingest_chunks WHERE token = {t:String}",
                        {"t": token})[0]
        return int(row[0] or 0), int(row[1] or 0)


SERVE_FILE = "serve.json"


@dataclass
class Served:
    """The record `loader serve` keeps in the folder it holds: where it listens, and the credentials of the
    local writer it made for this run (the file is readable by its owner only, like the data beside it)."""

    pid: int
    url: str
    user: str
    password: str

    def dsn(self, database: str = "") -> str:
        u = urlparse(self.url)
        return f"{u.scheme}://{quote(self.user, safe='')}:{quote(self.password, safe='')}@{u.netloc}/{database}"

    def write(self, folder: str) -> Path:
        path = Path(folder, SERVE_FILE)
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            json.dump(asdict(self), f)
        tmp.replace(path)  # readers never see half a record
        return path


def serving(folder: str) -> Served | None:
    """The live `loader serve` process, other than this one, that holds this folder; None when there is none
    (no record, or the one it left when killed: its process is gone)."""
    try:
        served = Served(**json.loads(Path(folder, SERVE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if served.pid == os.getpid() or _alive(served.pid) is False:
        return None
    return served


def _alive(pid: int) -> bool | None:
    """True if the process lives, False if not, None if it lives as another user (not ours to signal)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return None
    return True


def _holder(folder: str) -> str | None:
    """The live process, other than this one, that holds an embedded warehouse folder (chDB writes its
    PID and start time to the folder's status file), as 'PID n: command line, since time'."""
    try:
        fields = dict(line.split(": ", 1) for line in Path(folder, "status").read_text().splitlines() if ": " in line)
        pid = int(fields["PID"])
    except (OSError, KeyError, ValueError):
        return None
    if pid == os.getpid() or _alive(pid) is False:
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        command = " ".join(command.split())[:200]
    except OSError:
        command = ""
    since = f", since {fields['Started at']}" if "Started at" in fields else ""
    return f"PID {pid}{': ' + command if command else ''}{since}"


@dataclass
class _Captured:
    replay: bool = True  # write what was captured to stderr after the block


_STDERR = threading.Lock()  # descriptor 2 is the process's: two threads opening warehouses take turns


@contextmanager
def _stderr_captured() -> Iterator[_Captured]:
    """Hold back what native code writes to file descriptor 2 inside the block."""
    sys.stderr.flush()
    with _STDERR, tempfile.TemporaryFile() as tmp:
        saved, captured = os.dup(2), _Captured()
        os.dup2(tmp.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            if (text := tmp.read()) and captured.replay:
                os.write(2, text)


# -- server connections ----------------------------------------------------------------------
# Inserts are compressed, waits are bounded, and what is worth retrying (connection errors, 429,
# 502/503/504 from the server or a proxy) is retried with exponential backoff. Retrying an insert is
# safe: its chunk carries a deduplication token. TLS: an https:// DSN (clickhouse-connect reads no
# scheme from a DSN, so it is passed on); a private CA from ?ca_cert=... in the DSN or LOADER_CA_FILE.

def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        raise WarehouseError(f"{name} must be a number, got {os.environ[name]!r}") from None


def _server_client(dsn: str):
    retries, backoff = int(_env_number("LOADER_RETRIES", 4)), _env_number("LOADER_RETRY_BACKOFF", 0.5)
    if retries < 0 or backoff < 0:
        raise WarehouseError("LOADER_RETRIES and LOADER_RETRY_BACKOFF must not be negative")
    options: dict[str, Any] = {
        "interface": "https" if dsn.startswith("https:") else "http",
        "compress": "lz4",
        "connect_timeout": _env_number("LOADER_CONNECT_TIMEOUT", 10),
        "send_receive_timeout": _env_number("LOADER_QUERY_TIMEOUT", 300),
        "settings": {"session_timezone": "UTC"},
    }
    if os.environ.get("LOADER_CA_FILE") and "ca_cert=" not in dsn:
        options["ca_cert"] = os.environ["LOADER_CA_FILE"]
    for attempt in range(retries + 1):
        try:
            client = clickhouse_connect.get_client(dsn=dsn, **options)
            break
        except OperationalError:  # the server did not answer: wait, then ask again
            if attempt == retries:
                raise
            time.sleep(backoff * 2 ** attempt)
    # the HTTP client hands this to urllib3 (typed int in clickhouse-connect, a Retry works)
    cast(Any, client).http_retries = Retry(total=retries, backoff_factor=backoff, status_forcelist=(429, 502, 503, 504),
                                allowed_methods=None, raise_on_status=False, respect_retry_after_header=True)
    return client


_GRANT = re.compile(r"necessary to have the grant ([^.]+?)\.? \(ACCESS_DENIED\)|necessary to have the grant (.+?)\. ")


_NESTED = re.compile(r"(?:Code: \d+\. DB::Exception: )+(?=Code: \d+\. DB::Exception: )")
_TRAILER = re.compile(r"(?: \(version [\d.]+\)|\. \([A-Z_]+\))+$")


def _tidy(text: str) -> str:
    """One line of ClickHouse's message. chDB nests its error in itself ("Code: 73. DB::Exception: Code: 73.
    DB::Exception: ... (X) (version ...). (X)"): keep one message and one code name."""
    text = _NESTED.sub("", " ".join(text.split()))
    if m := _TRAILER.search(text):
        name = re.search(r"\(([A-Z_]+)\)", m.group())
        text = text[:m.start()] + (f" ({name.group(1)})" if name else "")
    return text


def _kind(exc: BaseException) -> type[WarehouseError]:
    """The WarehouseError an error of the client means. clickhouse-connect gives ClickHouse's code as `code`
    on both paths: from the HTTP response's header, or read from chDB's message ("Code: 62. DB::Exception")."""
    code = getattr(exc, "code", None)
    if code is not None:
        return _KINDS.get(code, QueryError)
    if isinstance(exc, OperationalError) or "Max retries exceeded" in str(exc):
        return Unreachable
    return WarehouseError


def typed(exc: BaseException, dsn: str) -> WarehouseError:
    """An error of the client (or of opening the warehouse) as its WarehouseError, with a one-line message."""
    kind = _kind(exc)
    return kind(_explain(kind, exc, dsn), getattr(exc, "code", None))


def _explain(kind: type[WarehouseError], exc: BaseException, dsn: str) -> str:
    """ClickHouse's or the network's error, led by what it means for the person running the loader."""
    text, u = _tidy(str(exc)), urlparse(dsn)
    user = unquote(u.username or "default")
    if kind is AuthError:
        return f"wrong password for user {user!r}, or no such user (check the DSN or LOADER_DSN)"
    if kind is UnknownDatabase:
        name = re.search(r"Database `?([^`\s]+?)`? does(?:n't| not) exist", text)
        return (f"unknown database {name.group(1) if name else ''!r}: create it or fix the DSN's path "
                f"(ClickHouse: {text[:300]})")
    if kind is AccessDenied:
        grant = _GRANT.search(text)
        need = grant.group(1) or grant.group(2) if grant else "a grant this statement needs"
        return f"user {user!r} is missing a grant: needs {need} (an admin grants it, or use a user that has it)"
    if kind is Unreachable:
        reason = ("connection refused: is the server running, and is the port right?" if "refused" in text.lower() else
                  "timed out (LOADER_CONNECT_TIMEOUT / LOADER_QUERY_TIMEOUT)" if "timed out" in text.lower() else
                  "TLS failed: an https:// server with a private CA needs LOADER_CA_FILE or ?ca_cert= in the DSN"
                  if "SSL" in text or "CERTIFICATE" in text else text[:300])
        return f"cannot reach {u.hostname}:{u.port or ''}: {reason}"
    return text


def redact_dsn(dsn: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", dsn)
