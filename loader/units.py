"""Split a decoded byte stream into units: the top-level JSON values it holds, with where each starts.

Python does not parse events. Line-delimited input (the common case) is split on newlines and each
line is handed to ClickHouse as it is. Anything else (pretty-printed JSON, values concatenated on
one line as Firehose writes CloudWatch payloads, garbage) goes through a string-aware bracket
scanner that finds where each value ends. Whether a unit is valid JSON, an envelope or an event is
decided in SQL (schema/040_ingest.sql); every byte that is not whitespace ends up in a unit.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .redact import names_secrets

DEFAULT_MAX_UNIT = 64 * 1024 * 1024
REJECT_CAP = 1024 * 1024

# A JSON string (group s), a string cut off by the end of the buffer (group u), or a bracket.
# Strings never span lines: a raw newline cannot occur inside a valid JSON string.
_TOKEN = re.compile(rb'(?P<s>"(?:[^"\\\n]|\\.)*")|(?P<u>"(?:[^"\\\n]|\\.)*\\?\Z)|[{}\[\]]')
_NOT_SPACE = re.compile(rb"\S")
_BLANKS = re.compile(rb"[ \t\r\n]*")
_OPEN = frozenset(b"{[")


@dataclass(slots=True)
class Unit:
    text: bytes
    line: int          # 1-based line where the unit starts
    offset: int        # byte offset in the decoded stream
    reason: str = ""   # set when the loader itself rejects the unit (too large)
    size: int = 0      # original size when text was truncated
    sha256: str = ""   # original SHA-256 when text was truncated
    sensitive: bool = False  # a truncated unit that mentions secrets or tokens anywhere, kept part or not


class _Oversized:
    """A line over the limit, read on to its end in bounded memory: it becomes one reject, whose size and
    SHA-256 cover all of it, and nothing of its rest is mistaken for units of its own (that rest may be
    the values of a Secret list whose objectRef came first)."""

    def __init__(self, text: bytes, line: int, offset: int, max_unit: int):
        self.head, self.line, self.offset, self.max_unit = text[:REJECT_CAP], line, offset, max_unit
        self.sha, self.size, self.tail = hashlib.sha256(), 0, b""
        self.sensitive = False
        self.add(text)

    def add(self, data: bytes) -> None:
        self.sha.update(data)
        self.size += len(data)
        self.sensitive = self.sensitive or names_secrets(self.tail + data[:64]) or names_secrets(data)
        self.tail = data[-16:]

    def unit(self) -> Unit:
        return Unit(self.head, self.line, self.offset, f"too large: {self.size} bytes, the limit is {self.max_unit}",
                    self.size, self.sha.hexdigest(), self.sensitive)


def _unit(text: bytes, line: int, offset: int, max_unit: int) -> Unit:
    if len(text) <= max_unit:
        return Unit(text, line, offset)
    return Unit(text[:REJECT_CAP], line, offset, f"too large: {len(text)} bytes, the limit is {max_unit}",
                len(text), hashlib.sha256(text).hexdigest(), names_secrets(text))


def _garbage_end(buf: bytes, i: int, end: int) -> int:
    """Where non-JSON text ends: the first newline or opening bracket in buf[i:end], or -1. bytes.find
    is far faster than a regex over a long run (a bomb's NULs); brackets are looked for only up to the
    newline, so a short garbage line costs little."""
    j = buf.find(b"\n", i, end)
    for c in b"{[":
        k = buf.find(c, i, end if j < 0 else j)
        if k >= 0:
            j = k
    return j


def _scan(buf: bytes, start: int, end: int, final: bool) -> tuple[list[tuple[int, int]], int]:
    """Find complete values, and runs of non-JSON text, in buf[start:end].

    Returns their spans and the position up to which buf is consumed; an incomplete value at the end
    is left unconsumed unless final. A value opening at column 0 while an object is still open means
    the object was truncated (pretty printers indent what an object holds): it is cut there, so one
    broken record cannot swallow the next ones. Inside a top-level array, column 0 is allowed.
    """
    spans: list[tuple[int, int]] = []
    i = start
    while m := _NOT_SPACE.search(buf, i, end):
        i = m.start()
        if buf[i] not in _OPEN:
            j = _garbage_end(buf, i + 1, end)
            if j < 0 and not final:
                return spans, i
            j = end if j < 0 else j
            spans.append((i, j))
            i = j
            continue
        depth, closed = 0, -1
        for tok in _TOKEN.finditer(buf, i, end):
            kind = tok.lastgroup
            if kind == "s":
                continue
            if kind == "u":
                break
            if buf[tok.start()] in _OPEN:
                if depth > 0 and buf[i] == 0x7B and buf[tok.start() - 1] == 0x0A:
                    spans.append((i, tok.start()))
                    i, depth = tok.start(), 0
                depth += 1
            else:
                depth -= 1
                if depth <= 0:
                    closed = tok.end()
                    break
        if closed < 0:
            if final:
                spans.append((i, end))
                return spans, end
            return spans, i
        spans.append((i, closed))
        i = closed
    return spans, end


def _is_one_line_value(buf: bytes, s: int, e: int) -> bool:
    first, last = buf[s], buf[e - 1]
    return ((first == 0x7B and last == 0x7D) or (first == 0x5B and last == 0x5D)) \
        and buf.find(b"}{", s, e) < 0 and buf.find(b"} {", s, e) < 0


def split_units(blocks: Iterable[bytes], max_unit: int = DEFAULT_MAX_UNIT) -> Iterator[Unit]:
    """Yield the units of a stream given as decoded blocks, in order, in bounded memory."""
    buf = b""
    line = 1          # line number at buf[pos]
    base = 0          # stream offset of buf[0]
    held: list[bytes] = []  # blocks not joined to buf yet
    waiting = 0       # when > 0, buf ends with that much of a unit whose line has no newline yet
    over: _Oversized | None = None  # a line over the limit, still being read to its end
    it = iter(blocks)
    final = False
    while not final:
        block = next(it, None)
        if over:
            j = block.find(b"\n") if block is not None else -1
            if block is not None:
                over.add(block if j < 0 else block[:j])
            if block is not None and j < 0:
                base += len(block)
                continue
            yield over.unit()
            over = None
            if block is not None:
                base, line, block = base + j + 1, line + 1, block[j + 1:]
        if block is None:
            final = True
        else:
            held.append(block)
            if waiting and waiting + len(block) <= max_unit and b"\n" not in block:
                # nothing in a line ends before its newline or the limit: join its blocks once, not one
                # copy of the growing line per block
                waiting += len(block)
                continue
        buf = b"".join([buf, *held])
        held, waiting = [], 0
        pos, n = 0, len(buf)
        while pos < n:
            # blank lines are skipped in bulk, not one Python step each: pos goes to the start of the
            # line holding the next byte that is not blank
            blanks = _BLANKS.match(buf, pos, n)
            assert blanks is not None  # [ \t\r\n]* matches anywhere, if only the empty string
            s = blanks.end()
            start = buf.rfind(b"\n", pos, s) + 1
            if start:
                line += buf.count(b"\n", pos, start)
                pos = start
            if s == n:
                pos = n  # a blank tail holds nothing
                break
            nl = buf.find(b"\n", s)
            if nl < 0:
                if not final and n - s <= max_unit:  # the limit counts the unit, not blanks before it
                    waiting = n - s
                    break
                if not final and _is_one_line_value(buf, s, n):
                    # one value over the limit with no end in sight: read on to the line's end
                    over = _Oversized(buf[s:n], line, base + s, max_unit)
                    pos = n
                    break
                nl = n
            e = nl
            if buf[e - 1] in b" \t\r":  # trailing blanks (a CRLF's \r, or a long run) are stripped in C
                e = s + len(buf[s:e].rstrip(b" \t\r"))
            if _is_one_line_value(buf, s, e):
                yield _unit(buf[s:e], line, base + s, max_unit)
                # a line cut at the limit (or the end) has no newline to step over
                pos, line = (nl + 1, line + 1) if nl < n else (n, line)
                continue
            # slow path: pretty-printed or concatenated values, or garbage; may span lines
            spans, consumed = _scan(buf, s, n, final)
            at = pos
            for a, b in spans:
                line += buf.count(b"\n", at, a)
                at = a
                yield _unit(buf[a:b].rstrip(), line, base + a, max_unit)
            line += buf.count(b"\n", at, consumed)
            pos = consumed
            if pos < n:
                if n - pos > max_unit and not final and buf.find(b"\n", pos, n) < 0:
                    # an open value on one line, over the limit: it is rejected whole, to the line's end
                    over = _Oversized(buf[pos:n], line, base + pos, max_unit)
                    pos = n
                elif n - pos > max_unit:
                    # an open pretty-printed value already over the limit: reject what is held, carry on after it
                    yield _unit(buf[pos:n], line, base + pos, max_unit)
                    line += buf.count(b"\n", pos, n)
                    pos = n
                break
        buf = buf[pos:]
        base += pos
