"""The splitter finds every top-level JSON value, whatever the block boundaries, and loses no byte."""

from __future__ import annotations

from loader.units import split_units

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
