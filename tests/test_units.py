"""The splitter finds every top-level JSON value, whatever the block boundaries, and loses no byte."""

from __future__ import annotations

import hashlib

from loader.units import REJECT_CAP, split_units

STREAM = (b'{"a":1}\n\n  {"b":\n  {"c": "x}{y"}\n}\n{"d":1}{"e":[1,2]} {"f":2}\ngarbage here\n'
          b'{"trunc": \n{"g":1}\n[\n{"h":1},\n{"i":2}\n]\n{"j": "unterminated')
EXPECTED = [(1, b'{"a":1}'), (3, b'{"b":\n  {"c": "x}{y"}\n}'), (6, b'{"d":1}'), (6, b'{"e":[1,2]}'), (6, b'{"f":2}'),
            (7, b"garbage here"), (8, b'{"trunc":'), (9, b'{"g":1}'), (10, b'[\n{"h":1},\n{"i":2}\n]'),
            (14, b'{"j": "unterminated')]


def test_values_lines_and_offsets_do_not_depend_on_block_size():
    for size in (1, 2, 3, 7, 64, len(STREAM)):
        units = list(split_units(STREAM[i:i + size] for i in range(0, len(STREAM), size)))
        assert [(u.line, u.text) for u in units] == EXPECTED, size
        assert all(STREAM[u.offset:u.offset + len(u.text)] == u.text for u in units)


def test_a_value_over_the_limit_is_rejected_with_its_size_and_digest():
    big = b'{"x":"' + b"a" * 100 + b'"}'
    units = list(split_units([big + b'\n{"y":1}\n'], max_unit=50))
    assert [(u.line, u.reason != "", u.size) for u in units] == [(1, True, len(big)), (2, False, 0)]
    assert units[0].reason == f"too large: {len(big)} bytes, the limit is 50"


def test_a_long_single_line_of_concatenated_values_streams():
    # Firehose writes CloudWatch payloads back to back on one line; no newline ever comes
    values = [b'{"n":%d,"pad":"%s"}' % (i, b"p" * 50) for i in range(2000)]
    stream = b"".join(values)
    units = list(split_units((stream[i:i + 4096] for i in range(0, len(stream), 4096)), max_unit=1000))
    assert [u.text for u in units] == values


MiB = 1024 * 1024


def blocks_of(*parts: bytes, size: int = 4 * MiB):
    """The stream made of parts, as blocks of `size` bytes cut wherever they fall."""
    stream = b"".join(parts)
    return (stream[i:i + size] for i in range(0, len(stream), size))


def test_a_long_blank_run_keeps_lines_and_offsets_exact():
    for blank in (b"\n", b"\r\n", b"  \n", b"\t \r\n"):
        run = blank * (50 * MiB // len(blank))
        head, tail = b'{"a":1}\n', b'  {"b":2}\r\n{"c":3}'
        units = list(split_units(blocks_of(head, run, tail)))
        lines = 2 + len(run) // len(blank)
        assert [(u.text, u.line, u.offset) for u in units] == [
            (b'{"a":1}', 1, 0), (b'{"b":2}', lines, len(head) + len(run) + 2),
            (b'{"c":3}', lines + 1, len(head) + len(run) + len(tail) - 7)], blank


def test_blank_lines_and_blank_tails_at_every_block_boundary():
    stream = b' \t\n\r\n{"a":1}  \n   \n\n\t{"b":\n\n  \t\n1}\r\n   \n[1]\n    \n'
    want = [(3, 5, b'{"a":1}'), (6, 21, b'{"b":\n\n  \t\n1}'), (11, 40, b"[1]")]
    for size in range(1, len(stream) + 1):
        units = list(split_units(blocks_of(stream, size=size)))
        assert [(u.line, u.offset, u.text) for u in units] == want, size


def test_a_line_over_the_limit_is_one_reject_read_in_bounded_memory():
    # 64 MiB of one byte and no newline (a gzip bomb of zeros decodes to this): read on to the line's end
    # block by block, never held whole, and rejected once with the size and digest of all of it
    block, limit = 64 * 1024, MiB
    for byte in (b"x", b"\x00", b'{"a":"' + b"v"):
        line = byte * (64 * MiB)
        units = list(split_units(blocks_of(line, b'\n{"a":1}\n', size=block), max_unit=limit))
        (piece, last) = units
        assert last.text == b'{"a":1}' and (last.line, last.offset) == (2, len(line) + 1)
        assert piece.reason == f"too large: {len(line)} bytes, the limit is {limit}"
        assert (piece.line, piece.offset, piece.size) == (1, 0, len(line))
        assert piece.sha256 == hashlib.sha256(line).hexdigest() and len(piece.text) == REJECT_CAP


def test_a_secret_over_the_limit_is_flagged_wherever_it_says_secrets():
    # a Secret list response whose objectRef comes after the cut: the whole line is one reject, flagged so
    # that redaction keeps none of its bodies
    line = b'{"responseObject":{"items":[' + b'{"data":{"k":"djE="}},' * 200_000 + b'{}]},"objectRef":{"resource":"secrets"}}'
    (piece, last) = split_units(blocks_of(line, b'\n{"a":1}\n', size=4096), max_unit=MiB)
    assert piece.reason.startswith("too large") and piece.sensitive and last.text == b'{"a":1}'


def test_a_line_cut_at_the_limit_leaves_the_next_lines_right():
    # the value is cut before its newline comes (its trailing blanks pass the limit): no newline is
    # stepped over there, so what follows keeps its line and offset
    stream = b"[1,2]" + b" " * 30 + b'\n{"b":1}\n'
    units = list(split_units(blocks_of(stream, size=4), max_unit=20))
    assert [(u.text, u.line, u.offset) for u in units] == [(b"[1,2]", 1, 0), (b'{"b":1}', 2, 36)]
