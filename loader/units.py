"""Split a decoded byte stream into units: the top-level JSON values it holds, with where each starts.

Python does not parse events. Line-delimited input (the common case) is split on newlines and each
line is handed to ClickHouse as it is. Anything else (pretty-printed JSON, values concatenated on
one line as Firehose writes CloudWatch payloads, garbage) goes through a string-aware bracket
scanner that finds where each value ends. Whether a unit is valid JSON, an envelope or an event is
decided in SQL (schema/045_ingest_events.sql); every byte that is not whitespace ends up in a unit.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

DEFAULT_MAX_UNIT = 64 * 1024 * 1024
REJECT_CAP = 1024 * 1024

# A JSON string (group s), a string cut off by the end of the buffer (group u), or a bracket.
# Strings never span lines: a raw newline cannot occur inside a valid JSON string.
_TOKEN = re.compile(rb'(?P<s>"(?:[^"\\\n]|\\.)*")|(?P<u>"(?:[^"\\\n]|\\.)*\\?\Z)|[{}\[\]]')
_NOT_SPACE = re.compile(rb"\S")
_GARBAGE_END = re.compile(rb"[{\[\n]")
_OPEN = frozenset(b"{[")


@dataclass(slots=True)
class Unit:
    text: bytes
    line: int          # 1-based line where the unit starts
    offset: int        # byte offset in the decoded stream
    reason: str = ""   # set when the loader itself rejects the unit (too large)
    size: int = 0      # original size when text was truncated
    sha256: str = ""   # original SHA-256 when text was truncated


def _unit(text: bytes, line: int, offset: int, max_unit: int) -> Unit:
    if len(text) <= max_unit:
        return Unit(text, line, offset)
    return Unit(text[:REJECT_CAP], line, offset, f"too large: {len(text)} bytes, the limit is {max_unit}",
                len(text), hashlib.sha256(text).hexdigest())


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
            g = _GARBAGE_END.search(buf, i + 1, end)
            if not g and not final:
                return spans, i
            j = g.start() if g else end
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
    it = iter(blocks)
    final = False
    while not final:
        block = next(it, None)
        if block is None:
            final = True
        else:
            buf += block
        pos, n = 0, len(buf)
        while pos < n:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                if not final and n - pos <= max_unit:
                    break
                nl = n
            s, e = pos, nl
            while s < e and buf[s] in b" \t\r":
                s += 1
            while e > s and buf[e - 1] in b" \t\r":
                e -= 1
            if s == e:
                pos, line = nl + 1, line + 1
                continue
            if _is_one_line_value(buf, s, e):
                yield _unit(buf[s:e], line, base + s, max_unit)
                pos, line = nl + 1, line + 1
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
                if n - pos > max_unit:
                    # an open value already over the limit: reject what is held and carry on after it
                    yield _unit(buf[pos:n], line, base + pos, max_unit)
                    line += buf.count(b"\n", pos, n)
                    pos = n
                break
        buf = buf[pos:]
        base += pos
