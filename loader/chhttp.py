"""ClickHouse's HTTP interface, served from the embedded warehouse (for `loader serve`).

One process owns the embedded folder; this module lets ClickHouse's own HTTP clients reach it as they reach
a server: clickhouse-connect with an http:// DSN, curl, pandas, Grafana's ClickHouse data source in HTTP mode.
Every request runs one statement through `Warehouse.execute` on a handle of its own, so requests run at once.

What is served, as ClickHouse serves it (src/Server/HTTPHandler.cpp):
- GET or POST `/`: the statement in the `query` URL parameter, in the body, or its start in `query` and the
  rest (an INSERT's data) in the body; a multipart/form-data POST may carry `query` and `param_*` as fields.
  `default_format` / X-ClickHouse-Format, `database` / X-ClickHouse-Database, `param_<name>`, `query_id` /
  X-ClickHouse-Query-Id; every other URL parameter is a setting, except the transport parameters, which are
  consumed. GET is read-only for everyone.
- request bodies in Content-Encoding gzip, deflate, zstd, lz4 (one or more frames), xz, bz2 (br with the
  brotli module); responses compressed as Accept-Encoding asks (zstd, br, lz4, gzip, deflate) unless
  enable_http_compression=0 (the engine's default is 1, which is what clients read from system.settings).
- headers X-ClickHouse-Query-Id, -Format (for statements with a result), -Timezone, -Summary,
  -Server-Display-Name; errors with ClickHouse's status for the code, X-ClickHouse-Exception-Code and the
  `Code: N. DB::Exception: ...` line as the body.
- `/ping` and `GET /` without a query answer `Ok.`; the caller's extra GET routes (e.g. /metrics, no
  credentials asked); anything else is 404.
- the caller's pages (the console): HTML for a reader, asked with the same credentials (a browser gets a
  Basic challenge). `GET /` without a query is a page only when the client accepts text/html, so health
  checks that expect `Ok.` still get it.

Access: Basic auth, X-ClickHouse-User/-Key headers or user/password URL parameters (no credentials: user
`default`). Readers run read-only (readonly=1, set after every other setting so nothing sent lifts it) under
the reader limits, which are defaults and caps; writers may write with POST. A read-only request (a reader's,
or any GET) is first parsed by the engine (formatQuery) and refused if it holds what readonly=1 lets through
in chDB: INTO OUTFILE, the scalar file(), KILL (readers), several statements. No statement may use chDB's
python() table function (it reads objects of this process): allow_python_table_function=0 is set for every
request, which the engine refuses to lift within it. A writer's POST is trusted as a ClickHouse admin is:
file(), url() and INSERT INTO FUNCTION file() reach what the server's OS user reaches.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import contextlib
import gzip
import hmac
import io
import json
import logging
import lzma
import re
import socket
import sys
import threading
import uuid
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlparse, urlsplit

import lz4.frame as _lz4
import zstandard as _zstd

from loader.warehouse import SETTING_NAME, Answer, Warehouse, WarehouseError

log = logging.getLogger(__name__)

Route = Callable[[], tuple[bytes, str]]
Page = Callable[[Mapping[str, str]], bytes]  # the request's URL parameters -> HTML; ValueError: a bad parameter

# the pages carry no script: a value from an audit log that looks like markup stays text
PAGE_HEADERS = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                                           "form-action 'self'; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

# -- error codes and the HTTP status ClickHouse answers them with (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp)
SYNTAX_ERROR = 62
NOT_IMPLEMENTED = 48
CANNOT_PARSE_INPUT_ASSERTION_FAILED = 27
BAD_ARGUMENTS = 36
READONLY = 164
INTO_OUTFILE_NOT_ALLOWED = 358
HTTP_LENGTH_REQUIRED = 381
SETTING_CONSTRAINT_VIOLATION = 452
AUTHENTICATION_FAILED = 516
STD_EXCEPTION = 1001

_NAMES = {27: "CANNOT_PARSE_INPUT_ASSERTION_FAILED", 36: "BAD_ARGUMENTS", 48: "NOT_IMPLEMENTED", 62: "SYNTAX_ERROR",
          115: "UNKNOWN_SETTING", 164: "READONLY", 354: "ZLIB_INFLATE_FAILED", 358: "INTO_OUTFILE_NOT_ALLOWED", 381: "HTTP_LENGTH_REQUIRED",
          448: "BROTLI_READ_FAILED", 452: "SETTING_CONSTRAINT_VIOLATION", 516: "AUTHENTICATION_FAILED",
          554: "LZMA_STREAM_DECODER_FAILED", 561: "ZSTD_DECODER_FAILED", 594: "BZIP2_STREAM_DECODER_FAILED",
          618: "LZ4_DECODER_FAILED", 1001: "STD_EXCEPTION"}

_STATUS: dict[int, int] = {194: 401}
_STATUS.update(dict.fromkeys((192, 193, 497, 512, 516), 403))
_STATUS.update(dict.fromkeys((6, 8, 15, 25, 26, 27, 36, 37, 38, 41, 44, 53, 62, 72, 117, 123, 167, 168, 223, 321, 376,
                              427, 441, 675, 676), 400))
_STATUS.update(dict.fromkeys((46, 47, 50, 56, 60, 63, 73, 78, 81, 115, 152, 336, 511), 404))
_STATUS.update({229: 413, 48: 501, 209: 503, 76: 503, 439: 503, 381: 411, 159: 408, 779: 415})


def http_status(code: int | None) -> int:
    """The HTTP status ClickHouse answers an error code with."""
    return _STATUS.get(code or 0, 500)


class ChError(Exception):
    """An error to answer as ClickHouse does: its code and its one line `Code: N. DB::Exception: ...`."""

    def __init__(self, code: int, text: str):
        self.code = code
        self.line = text if text.startswith("Code: ") else f"Code: {code}. DB::Exception: {text}. ({_NAMES.get(code, 'UNKNOWN')})"
        super().__init__(self.line)


# -- access -------------------------------------------------------------------------------------

@dataclass
class Access:
    """Who may use the interface. `users`: name -> password (an empty password is a user without one);
    `writers`: the users that may write (POST only); everyone else reads. `limits`: numeric settings applied to
    every reader's query, as defaults and caps: a reader may send a lower value, never a higher one nor 0
    (which means no limit). Sizes may be written as ClickHouse reads them (10G, 4Gi)."""

    users: Mapping[str, str]
    writers: frozenset[str] | set[str] = frozenset()
    limits: Mapping[str, int | float | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if unknown := set(self.writers) - set(self.users):
            raise ValueError(f"writers without a password entry: {', '.join(sorted(unknown))}")
        for name, value in self.limits.items():
            if not SETTING_NAME.match(name):
                raise ValueError(f"reader limit {name!r} is not a setting name")
            try:
                _number(name, value)
            except ChError as exc:
                raise ValueError(f"reader limit {name}: {value!r} is not a number") from exc

    def check(self, user: str, password: str) -> bool:
        """Whether the password is the user's (compared in constant time; an unknown user compares too)."""
        known = self.users.get(user)
        ok = hmac.compare_digest((known if known is not None else "\0unknown").encode(), password.encode())
        return ok and known is not None


DEFAULT_READER_LIMITS: dict[str, int | float | str] = {"max_execution_time": 300, "max_memory_usage": "8Gi"}

_NUMBER = re.compile(r"^(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)([KMGTPE]i?)?$", re.IGNORECASE)
_UNITS = {"": 1, **{p: 1000 ** (i + 1) for i, p in enumerate("kmgtpe")}, **{p + "i": 1024 ** (i + 1) for i, p in enumerate("kmgtpe")}}


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    m = _NUMBER.match(str(value).strip())
    if not m:
        raise ChError(CANNOT_PARSE_INPUT_ASSERTION_FAILED, f"Cannot parse '{value}' as a number for setting {name}")
    return float(m.group(1)) * _UNITS[(m.group(2) or "").lower()]


def _plain(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def capped(settings: Mapping[str, str], limits: Mapping[str, Any]) -> dict[str, str]:
    """A reader's settings under the limits: each limit is set to its value unless the reader asked for less
    (the value then passed on is the number as read here, so the engine cannot read it otherwise)."""
    out = dict(settings)
    for name, limit in limits.items():
        cap = _number(name, limit)
        if name not in out:
            out[name] = _plain(cap)
            continue
        asked = _number(name, out[name])
        if cap and (asked > cap or asked == 0):
            raise ChError(SETTING_CONSTRAINT_VIOLATION, f"Setting {name} shouldn't be greater than {_plain(cap)}"
                          + (" (0 means no limit)" if asked == 0 else ""))
        out[name] = _plain(asked)
    return out


# -- request parameters ------------------------------------------------------------------------

# ClickHouse's transport parameters: consumed here (or read for what they mean), never passed on as settings
_TRANSPORT = frozenset({"query", "database", "default_format", "query_id", "user", "password", "quota_key", "role",
                        "session_id", "session_timeout", "session_check", "close_session", "compress", "decompress",
                        "buffer_size", "wait_end_of_query", "stacktrace", "client_protocol_version",
                        "enable_http_compression", "send_progress_in_http_headers", "add_http_cors_header",
                        "cancel_http_readonly_queries_on_client_close"})

# statements that produce no result (so no X-ClickHouse-Format: clickhouse-connect's command() then returns the summary)
_NO_RESULT = frozenset({"INSERT", "CREATE", "DROP", "ALTER", "TRUNCATE", "RENAME", "SET", "USE", "OPTIMIZE", "SYSTEM",
                        "GRANT", "REVOKE", "DETACH", "ATTACH", "EXCHANGE", "UNDROP", "DELETE", "UPDATE", "MOVE",
                        "BEGIN", "COMMIT", "ROLLBACK"})
_LEADING = re.compile(rb"\A(?:\s+|--[^\n]*(?:\n|\Z)|#[^\n]*(?:\n|\Z)|/\*.*?\*/|\()*", re.DOTALL)
_WORD = re.compile(rb"[A-Za-z_]+")


def has_result(sql: bytes) -> bool:
    """Whether a statement produces a result in an output format (SELECT, SHOW, DESCRIBE, ...)."""
    leading = _LEADING.match(sql)  # matches always (possibly nothing)
    m = _WORD.match(sql, leading.end() if leading else 0)
    return not m or m.group().upper().decode() not in _NO_RESULT


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def content_type(fmt: str) -> str:
    """The Content-Type ClickHouse's output formats answer with."""
    f = fmt.lower()
    if f.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if f.startswith("csv"):
        return f"text/csv; charset=UTF-8; header={'present' if 'withnames' in f else 'absent'}"
    if f in ("json", "jsoncompact", "jsonstrings", "jsoncompactstrings", "jsoncolumns", "jsoncompactcolumns",
             "jsoncolumnswithmetadata", "jsonobjecteachrow"):
        return "application/json; charset=UTF-8"
    if f == "xml":
        return "application/xml; charset=UTF-8"
    if f.startswith(("native", "rowbinary", "parquet", "arrow", "orc", "avro", "protobuf", "capnproto", "msgpack",
                     "bsoneachrow", "rawblob", "npy")):
        return "application/octet-stream"
    if f == "prometheus":
        return "text/plain; version=0.0.4; charset=UTF-8"
    return "text/plain; charset=UTF-8"


# -- compression ------------------------------------------------------------------------------

_brotli: Any
try:
    import brotli as _brotli  # type: ignore[import-not-found, no-redef]  # optional: br only when installed
except ImportError:
    _brotli = None


def _lz4_frames(data: bytes) -> bytes:
    out = []
    while data:
        d = _lz4.LZ4FrameDecompressor()
        out.append(d.decompress(data))
        if not d.eof:
            raise ValueError("the LZ4 frame is truncated")
        data = d.unused_data
    return b"".join(out)


def _inflate(data: bytes) -> bytes:
    try:
        return zlib.decompress(data)
    except zlib.error:
        return zlib.decompress(data, -15)  # raw deflate, as some clients send it


_DECODERS: dict[str, tuple[Callable[[bytes], bytes] | None, int]] = {
    "gzip": (gzip.decompress, 354), "x-gzip": (gzip.decompress, 354), "deflate": (_inflate, 354),
    "zstd": (lambda b: _zstd.ZstdDecompressor().stream_reader(io.BytesIO(b), read_across_frames=True).read(), 561),
    "lz4": (_lz4_frames, 618),
    "br": (_brotli.decompress if _brotli else None, 448),
    "xz": (lzma.decompress, 554), "bz2": (bz2.decompress, 594),
}


def decode_body(data: bytes, encoding: str) -> bytes:
    """The request body with its Content-Encoding (one or more, as listed) undone."""
    for enc in reversed([e.strip().lower() for e in encoding.split(",")]):
        if enc in ("", "identity", "none"):
            continue
        decoder, code = _DECODERS.get(enc, (None, BAD_ARGUMENTS))
        if decoder is None:
            raise ChError(BAD_ARGUMENTS, f"Unknown compression method '{enc}'. Supported request Content-Encodings: "
                          + ", ".join(k for k, (d, _) in _DECODERS.items() if d))
        try:
            data = decoder(data)
        except Exception as exc:
            raise ChError(code, f"Cannot decompress the request body ({enc}): {exc}") from None
    return data


# response encodings in ClickHouse's order of preference (chooseHTTPCompressionMethod)
_ENCODERS: dict[str, Callable[[bytes, int], bytes] | None] = {
    "zstd": lambda b, level: _zstd.ZstdCompressor(level=max(1, min(level, 22))).compress(b),
    "br": (lambda b, level: _brotli.compress(b, quality=max(0, min(level, 11)))) if _brotli else None,
    "lz4": lambda b, level: _lz4.compress(b),
    "gzip": lambda b, level: gzip.compress(b, compresslevel=max(1, min(level, 9)), mtime=0),
    "deflate": lambda b, level: zlib.compress(b, max(1, min(level, 9))),
}


def choose_encoding(accept: str) -> str | None:
    """The response encoding to use for an Accept-Encoding header, or None."""
    offered = set()
    for item in accept.split(","):
        name, _, params = item.strip().partition(";")
        q = re.search(r"q\s*=\s*(0(?:\.0*)?)\s*(?:;|$)", params)  # q=0: not acceptable
        if name and not q:
            offered.add(name.strip().lower())
    return next((name for name, enc in _ENCODERS.items() if enc and (name in offered or (name == "gzip" and "x-gzip" in offered))), None)


# -- what readonly=1 does not stop ------------------------------------------------------------
# Measured on chDB 4.4 with readonly=1: `SELECT ... INTO OUTFILE` still writes a file, the scalar file() still
# reads any file (e.g. serve.json with the writer's password), KILL QUERY still kills anyone's query, several
# statements separated by ';' all run (ClickHouse's HTTP interface runs one), and a dialect other than
# clickhouse (PRQL s-strings) or eval() carry SQL that no check sees. So a read-only request is first parsed
# by the engine itself (formatQuery, with the request's own settings: the same parser) and its canonical text
# checked; eval() and other dialects are switched off for it.

_TOKEN = re.compile(r"'(?:[^'\\]|\\.)*'" r"|`((?:[^`\\]|\\.)*)`" r'|"((?:[^"\\]|\\.)*)"', re.DOTALL)  # a string, or a quoted name
_INTO_OUTFILE = re.compile(r"\bINTO\s+OUTFILE\b", re.IGNORECASE)
_FILE_CALL = re.compile(r"\bfile\s*\(", re.IGNORECASE)
_FIRST = re.compile(r"^[\s(]*([A-Za-z_]+)")


def _escaped(text: str) -> str:
    """A value as a {name:String} query parameter reads it (escaped, as in TSV)."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def check_read_only(canonical: str, writer: bool) -> None:
    """Refuse what readonly=1 lets through, given the engine's canonical text of the statement (formatQuery:
    no comments, one statement, string literals single-quoted with backslash escapes)."""
    # one pass left to right, so a quote inside a name never starts a string (nor the reverse); a quoted name
    # that is a plain word stays that word (`file`(...) is file(...)), any other becomes a neutral one
    def neutral(m: re.Match) -> str:
        if m.group(1) is None and m.group(2) is None:
            return "''"
        name = m.group(1) if m.group(1) is not None else m.group(2)
        return name if re.fullmatch(r"\w+", name) else "_name_"

    code = _TOKEN.sub(neutral, canonical)
    first = (m.group(1).upper() if (m := _FIRST.match(code)) else "")
    if first == "INSERT" or (first == "KILL" and not writer):
        raise ChError(READONLY, "Cannot execute query in readonly mode")
    if _INTO_OUTFILE.search(code):
        raise ChError(INTO_OUTFILE_NOT_ALLOWED, "INTO OUTFILE is not allowed")
    if _FILE_CALL.search(code):
        raise ChError(READONLY, "file() reads the server's files: it cannot be used in readonly mode")


# -- the server -------------------------------------------------------------------------------

class ClickHouseHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer serving ClickHouse's HTTP interface from one embedded warehouse.

    server_close() drains: connections waiting for a request are closed, requests under way are answered
    (with Connection: close) and waited for."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], wh: Warehouse, access: Access, routes: Mapping[str, Route],
                 display_name: str, on_query: Callable[[bool], None] | None = None,
                 pages: Mapping[str, Page] | None = None):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.wh, self.access, self.routes, self.display_name = wh, access, dict(routes), display_name
        self.pages = dict(pages or {})
        self.on_query = on_query
        self.closing = False
        self._idle: dict[socket.socket, bool] = {}  # each open connection: whether it waits for a request
        self._idle_lock = threading.Lock()
        # the database a request that names none uses: the warehouse's own (its DSN's ?database=), else default
        self.database = parse_qs(urlparse(wh.dsn).query).get("database", [""])[0] or None
        super().__init__(address, _Handler)

    def idle(self, conn: socket.socket, waiting: bool | None) -> None:
        """Record a connection as waiting for a request (True), answering one (False), or gone (None)."""
        with self._idle_lock:
            if waiting is None:
                self._idle.pop(conn, None)
            else:
                self._idle[conn] = waiting

    def server_close(self) -> None:
        with self._idle_lock:
            self.closing = True
            for conn, waiting in self._idle.items():
                if waiting:
                    with contextlib.suppress(OSError):
                        conn.shutdown(socket.SHUT_RDWR)
        super().server_close()  # joins the request threads

    def handle_error(self, request, client_address) -> None:
        """An error outside a request's own handling (a client gone mid-answer is not one)."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        log.error("HTTP interface: error serving %s", client_address[0], exc_info=exc)


def make_server(wh: Warehouse, access: Access, host: str = "127.0.0.1", port: int = 8123,
                routes: Mapping[str, Route] | None = None, *, display_name: str | None = None,
                on_query: Callable[[bool], None] | None = None,
                pages: Mapping[str, Page] | None = None) -> ClickHouseHTTPServer:
    """A server for ClickHouse's HTTP interface on host:port (port 0: a free one, read server.server_address).
    No thread is started: the caller runs serve_forever(), then shutdown() and server_close() (which drains).
    `on_query(ok)` is called after each statement answered (ok: without an error), e.g. to count them.
    `pages`: path -> Page, HTML for readers (GET)."""
    if not wh.embedded or wh.via:
        raise ValueError("the HTTP interface serves an embedded warehouse held by this process")
    if access.limits:  # a limit that is no setting would fail every reader's query: say so now
        names = ", ".join(f"'{n}'" for n in access.limits)
        known = {line for line in wh.execute(f"SELECT name FROM system.settings WHERE name IN ({names})".encode()).body.decode().split("\n") if line}
        if unknown := set(access.limits) - known:
            raise ValueError(f"reader limits name unknown settings: {', '.join(sorted(unknown))}")
    return ClickHouseHTTPServer((host, port), wh, access, routes or {}, display_name or socket.gethostname(), on_query,
                                pages)


@dataclass
class _Reply:
    status: int
    body: bytes
    headers: dict[str, str]


NOT_FOUND = ("There is no handle {path}\n\nUse / or /ping for health checks.\n\n"
             "Send queries from your program with POST method or GET /?query=...\n")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "k8s-audit-warehouse"
    server: ClickHouseHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
        pass  # no line per request

    def setup(self) -> None:
        super().setup()
        self.server.idle(self.connection, True)

    def finish(self) -> None:
        self.server.idle(self.connection, None)
        super().finish()

    def parse_request(self) -> bool:
        self.server.idle(self.connection, False)  # a request arrived: answered before the server closes
        return super().parse_request()

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    # -- dispatch ---------------------------------------------------------------------------
    def _serve(self, method: str) -> None:
        self._body_read = method != "POST" and not self._has_body()
        self._statement = False
        try:
            reply = self._route(method)
        except ChError as exc:
            reply = self._error(exc.code, exc.line)
        except WarehouseError as exc:
            reply = self._error(exc.code or STD_EXCEPTION, _one_trailer(str(exc)))
        except Exception as exc:  # never lost: logged, and answered as ClickHouse answers a std::exception
            log.exception("HTTP interface: unexpected error answering %s %s", method, urlsplit(self.path).path)
            reply = self._error(STD_EXCEPTION, f"Code: {STD_EXCEPTION}. DB::Exception: {type(exc).__name__}: {exc}. (STD_EXCEPTION)")
        if self._statement and self.server.on_query:
            try:
                self.server.on_query(reply.status == 200)
            except Exception:  # a counter failing is logged, the answer still sent
                log.exception("HTTP interface: on_query failed")
        self._send(reply, head=method == "HEAD")
        self.server.idle(self.connection, not self.close_connection)

    def _has_body(self) -> bool:
        return bool(self.headers.get("Content-Length", "0").strip() not in ("", "0") or self.headers.get("Transfer-Encoding"))

    def _route(self, method: str) -> _Reply:
        url = urlsplit(self.path)
        pairs = parse_qsl(url.query, keep_blank_values=True)
        path = url.path or "/"
        if path == "/ping" and method != "POST":
            return _Reply(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
        if path in self.server.routes and method != "POST":
            body, ctype = self.server.routes[path]()
            return _Reply(200, body, {"Content-Type": ctype})
        asks_page = method != "POST" and not self._has_body() and not any(k == "query" for k, _ in pairs)
        if asks_page and path in self.server.pages and (path != "/" or "text/html" in self.headers.get("Accept", "")):
            return self._page(path, pairs)
        if path != "/":
            return _Reply(404, NOT_FOUND.format(path=path).encode(), {"Content-Type": "text/plain; charset=UTF-8"})
        if asks_page:
            return _Reply(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
        return self._query(method, pairs)

    def _page(self, path: str, pairs: list[tuple[str, str]]) -> _Reply:
        """A page for a reader; a browser without (valid) credentials is asked for them."""
        params = dict(pairs)
        try:
            self._authenticate(params)
        except ChError as exc:
            return _Reply(401, f"{exc.line}\n".encode(), {"Content-Type": "text/plain; charset=UTF-8",
                                                            "WWW-Authenticate": 'Basic realm="loader serve", charset="UTF-8"'})
        try:
            body = self.server.pages[path]({k: v for k, v in params.items() if k not in ("user", "password")})
        except ValueError as exc:  # a filter the page cannot read: say which, in one line
            return _Reply(400, f"{exc}\n".encode(), {"Content-Type": "text/plain; charset=UTF-8"})
        return _Reply(200, body, dict(PAGE_HEADERS))

    # -- a statement --------------------------------------------------------------------------
    def _query(self, method: str, pairs: list[tuple[str, str]]) -> _Reply:
        self._statement = True
        params = dict(pairs)
        user, writer = self._authenticate(params)
        if _truthy(params.get("compress")) or _truthy(params.get("decompress")):
            raise ChError(NOT_IMPLEMENTED, "ClickHouse's native block compression (compress=1, decompress=1) is not "
                          "supported by this server: use HTTP compression (Content-Encoding, Accept-Encoding)")
        body = decode_body(self._read_body(), self.headers.get("Content-Encoding", ""))
        query = params.get("query", "")
        ctype = self.headers.get("Content-Type", "")
        if ctype.lower().startswith("multipart/form-data"):
            fields = _form(ctype, body)
            body = b""
            pairs = pairs + [(k, v) for k, v in fields if k != "query"]
            query += "".join(v for k, v in fields if k == "query")
            params = dict(pairs)
        sql = (query.encode() + b"\n" + body) if query else body
        if not sql.strip():
            raise ChError(SYNTAX_ERROR, "Empty query")

        settings: dict[str, str] = {}
        query_params: dict[str, str] = {}
        for key, value in pairs:
            if key.startswith("param_"):
                query_params.setdefault(key[6:], value)  # the first one, as ClickHouse keeps it
            elif key and key not in _TRANSPORT and not key.startswith("http_"):
                settings[key] = value
        readonly = not (writer and method == "POST")
        if not writer:
            settings = capped(settings, self.server.access.limits)
        settings.setdefault("session_timezone", "UTC")
        settings["allow_python_table_function"] = "0"  # nothing of this process is a client's to read
        fmt = self.headers.get("X-ClickHouse-Format") or params.get("default_format") or "TabSeparated"
        database = self.headers.get("X-ClickHouse-Database") or params.get("database") or self.server.database
        query_id = params.get("query_id") or self.headers.get("X-ClickHouse-Query-Id") or str(uuid.uuid4())

        wh = self.server.wh
        if readonly:
            if settings.get("dialect", "clickhouse").strip().lower() != "clickhouse":
                raise ChError(READONLY, "Only the clickhouse dialect can be used in readonly mode")
            settings.update(dialect="clickhouse", allow_experimental_eval_table_function="0")
            canonical = wh.execute(b"SELECT formatQuery({q:String})", default_format="RawBLOB",
                                   params={"q": _escaped(sql.decode("utf-8", errors="replace"))},
                                   settings=settings, database=database, readonly=True)
            check_read_only(canonical.body.decode("utf-8", errors="replace"), writer)
        answer = wh.execute(sql, default_format=fmt, params=query_params, settings=settings,
                            database=database, readonly=readonly)
        headers = {"X-ClickHouse-Query-Id": query_id, "X-ClickHouse-Timezone": settings["session_timezone"] or "UTC",
                   "X-ClickHouse-Summary": summary(answer)}
        if has_result(sql):
            headers["X-ClickHouse-Format"] = answer.fmt
            headers["Content-Type"] = content_type(answer.fmt)
        else:
            headers["Content-Type"] = "text/plain; charset=UTF-8"
        if _truthy(params.get("add_http_cors_header")) and self.headers.get("Origin"):
            headers["Access-Control-Allow-Origin"] = "*"
        out = answer.body
        if out and params.get("enable_http_compression", "1").strip().lower() not in ("0", "false"):
            if encoding := choose_encoding(self.headers.get("Accept-Encoding", "")):
                level = int(_number("http_zlib_compression_level", params.get("http_zlib_compression_level") or 3))
                encode = _ENCODERS[encoding]
                assert encode is not None  # choose_encoding offers only those present
                out = encode(out, level)
                headers["Content-Encoding"] = encoding
        return _Reply(200, out, headers)

    def _authenticate(self, params: Mapping[str, str]) -> tuple[str, bool]:
        """(user, is a writer) from the credentials, checked as ClickHouse accepts them; else AUTHENTICATION_FAILED."""
        h_user, h_key = self.headers.get("X-ClickHouse-User", ""), self.headers.get("X-ClickHouse-Key", "")
        authorization = self.headers.get("Authorization", "")
        in_params = any(k in params for k in ("user", "password", "quota_key"))
        if h_user or h_key:
            if authorization or in_params:
                raise ChError(AUTHENTICATION_FAILED, "Invalid authentication: it is not allowed to use X-ClickHouse HTTP "
                              "headers and other authentication methods simultaneously")
            user, password = h_user, h_key
        elif authorization:
            if in_params:
                raise ChError(AUTHENTICATION_FAILED, "Invalid authentication: it is not allowed to use Authorization HTTP "
                              "header and authentication via parameters simultaneously")
            scheme, _, info = authorization.strip().partition(" ")
            if scheme.lower() != "basic":
                raise ChError(AUTHENTICATION_FAILED, f"Invalid authentication: '{scheme}' HTTP Authorization scheme is not supported")
            try:
                user, _, password = base64.b64decode(info.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise ChError(AUTHENTICATION_FAILED, "Invalid authentication: the Basic credentials cannot be read") from None
        else:
            user, password = params.get("user") or "default", params.get("password", "")
        access = self.server.access
        if not access.check(user, password):
            raise ChError(AUTHENTICATION_FAILED, f"{user}: Authentication failed: password is incorrect, or there is no "
                          "user with such name")
        return user, user in access.writers

    def _read_body(self) -> bytes:
        if self._body_read:
            return b""
        self._body_read = True
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                line = self.rfile.readline(65537)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    self.close_connection = True
                    raise ChError(BAD_ARGUMENTS, "Malformed chunked encoding in the request body") from None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = self.headers.get("Content-Length")
        if length is None:
            if self.command == "POST":
                self.close_connection = True
                raise ChError(HTTP_LENGTH_REQUIRED, "The Transfer-Encoding is not chunked and there is no Content-Length "
                              "header for POST request")
            return b""
        try:
            return self.rfile.read(int(length))
        except ValueError:
            self.close_connection = True
            raise ChError(BAD_ARGUMENTS, f"Bad Content-Length: {length!r}") from None

    # -- answers ----------------------------------------------------------------------------
    def _error(self, code: int, line: str) -> _Reply:
        return _Reply(http_status(code), (line.rstrip("\n") + "\n").encode(),
                      {"Content-Type": "text/plain; charset=UTF-8", "X-ClickHouse-Exception-Code": str(code)})

    def _send(self, reply: _Reply, head: bool = False) -> None:
        if not self._body_read or self.server.closing:
            self.close_connection = True  # the request body was not read, or the server closes: no next request
        try:
            self.send_response(reply.status)
            self.send_header("X-ClickHouse-Server-Display-Name", self.server.display_name)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if not head:
                self.wfile.write(reply.body)
        except (ConnectionError, TimeoutError):
            self.close_connection = True


def summary(answer: Answer) -> str:
    """X-ClickHouse-Summary: ClickHouse's counters, each a string (result_rows is not known for a SELECT)."""
    counters = {"read_rows": answer.read_rows, "read_bytes": answer.read_bytes, "written_rows": answer.written_rows,
                "written_bytes": answer.written_bytes, "total_rows_to_read": answer.read_rows}
    if answer.written_rows:
        counters.update(result_rows=answer.written_rows, result_bytes=answer.written_bytes)
    counters["elapsed_ns"] = answer.elapsed_ns
    return json.dumps({k: str(v) for k, v in counters.items()}, separators=(",", ":"))


_TRAILER = re.compile(r"( \(version [^)]*\))\. \([A-Z_]+\)$")


def _one_trailer(text: str) -> str:
    """chDB's `... (X) (version V). (X)` as ClickHouse writes it: `... (X) (version V)`."""
    return _TRAILER.sub(r"\1", text)


def _form(ctype: str, body: bytes) -> list[tuple[str, str]]:
    """The fields of a multipart/form-data body; external data (a file part) is refused."""
    msg = BytesParser(policy=policy.HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        raise ChError(BAD_ARGUMENTS, "Cannot read the multipart/form-data body")
    fields = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_filename() is not None:
            raise ChError(NOT_IMPLEMENTED, f"External data (the file part '{name}') is not supported by this server")
        payload = part.get_payload(decode=True) or b""
        assert isinstance(payload, bytes)  # decode=True on a leaf part gives bytes
        fields.append((str(name or ""), payload.decode("utf-8", errors="replace")))
    return fields
