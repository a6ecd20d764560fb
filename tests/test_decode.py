"""Decoding is bounded: a bomb comes out in blocks of at most BLOCK bytes, whatever it expands to, and
every member, stream or frame of a file decodes; a truncated or damaged one raises DecodeError after
what decoded before it."""

from __future__ import annotations

import bz2
import gzip
import io
import zlib

import pytest
import zstandard

from loader.decode import BLOCK, DecodeError, decode

MiB = 1024 * 1024
ZEROS = bytes(MiB)


def bomb(compressor, mib: int) -> bytes:
    """The compression of `mib` MiB of zeros, fed a MiB at a time so the test never holds them."""
    return b"".join([compressor.compress(ZEROS) for _ in range(mib)] + [compressor.flush()])


def block_sizes(data: bytes) -> list[int]:
    return [len(b) for b in decode(io.BytesIO(data))]


@pytest.mark.parametrize("compressor, mib", [
    (lambda: zlib.compressobj(9, zlib.DEFLATED, 31), 256),
    (lambda: bz2.BZ2Compressor(9), 64),  # bzip2 compresses slowly; 64 MiB is still 16 blocks
    (lambda: zstandard.ZstdCompressor().compressobj(), 256),
], ids=["gzip", "bzip2", "zstd"])
def test_a_bomb_comes_out_a_block_at_a_time(compressor, mib):
    data = bomb(compressor(), mib)
    assert len(data) < mib * MiB // 1000  # a single member, stream or frame a thousand times smaller
    sizes = block_sizes(data)
    assert sum(sizes) == mib * MiB
    assert max(sizes) <= BLOCK


PLAIN = b"".join(b'{"n":%d,"pad":"%s"}\n' % (i, b"p" * (i % 50)) for i in range(40_000))  # ~2.4 MB
CUTS = (0, 300, 70_000, 1_000_000, len(PLAIN))  # members of every size, some across the 64 KiB input steps


def pieces(compress) -> bytes:
    return b"".join(compress(PLAIN[a:b]) for a, b in zip(CUTS, CUTS[1:]))


@pytest.mark.parametrize("data", [
    pieces(gzip.compress),
    pieces(bz2.compress),
    pieces(zstandard.ZstdCompressor().compress),
    b"".join(gzip.compress(PLAIN[i:i + 500]) for i in range(0, len(PLAIN), 500)),  # Firehose: many small members
    pieces(gzip.compress) + bytes(100),                      # NUL padding after the last member
    pieces(gzip.compress) + bytes(BLOCK + 10),               # padding that runs over into the next read
], ids=["gzip members", "bzip2 streams", "zstd frames", "many gzip members", "NUL padding", "long NUL padding"])
def test_every_member_decodes(data):
    assert b"".join(decode(io.BytesIO(data))) == PLAIN


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, zstandard.ZstdCompressor().compress],
                         ids=["gzip", "bzip2", "zstd"])
def test_a_truncated_member_raises_after_what_decoded_before_it(compress):
    data = compress(PLAIN[:1000]) + compress(PLAIN[1000:])
    got = []
    with pytest.raises(DecodeError, match="ends in the middle of a member"):
        for block in decode(io.BytesIO(data[:-20])):
            got.append(block)
    assert b"".join(got).startswith(PLAIN[:1000])


def test_damage_after_a_member_raises_after_what_decoded_before_it():
    got = []
    with pytest.raises(DecodeError, match="undecodable gzip data"):
        for block in decode(io.BytesIO(gzip.compress(PLAIN) + b"\x1f\x8bnot deflate at all")):
            got.append(block)
    assert b"".join(got) == PLAIN


@pytest.mark.parametrize("compress", [lambda b: b, gzip.compress, zstandard.ZstdCompressor().compress],
                         ids=["plain", "gzip", "zstd"])
def test_a_bom_is_dropped(compress):
    assert b"".join(decode(io.BytesIO(compress(b"\xef\xbb\xbf" + PLAIN)))) == PLAIN


WIDE = "".join(f'{{"auditID": "{i}", "user": {{"username": "émile-日本-🚀"}}}}\n' for i in range(3))


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("compress", [lambda b: b, gzip.compress], ids=["plain", "gzip"])
def test_utf16_and_utf32_with_a_bom_become_utf8(encoding, compress):
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff",
           "utf-32-le": b"\xff\xfe\x00\x00", "utf-32-be": b"\x00\x00\xfe\xff"}[encoding]
    data = compress(bom + WIDE.encode(encoding))
    assert b"".join(decode(io.BytesIO(data))) == WIDE.encode()


def test_a_utf16_code_unit_split_between_blocks_is_carried_over():
    # the first block (BLOCK bytes) ends between the two surrogates of the rocket
    text = "x" * ((BLOCK - 3) // 2) + "🚀" + "\n"
    data = b"\xff\xfe" + text.encode("utf-16-le")
    assert data.index("🚀".encode("utf-16-le")) == BLOCK - 2
    assert b"".join(decode(io.BytesIO(data))) == text.encode()
