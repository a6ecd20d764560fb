"""Decode: turn a byte stream into decompressed blocks, whatever the compression.

The format is told from the first bytes, never from a name: gzip (every member of a multi-member
file, as Firehose writes them), zstd (every frame), bzip2 (every stream) or plain. A UTF-8 BOM at the
start of the decoded text is dropped.
"""

from __future__ import annotations

import bz2
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import zstandard

BLOCK = 4 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZIP2_MAGIC = b"BZh"
BOM = b"\xef\xbb\xbf"


class DecodeError(Exception):
    """The bytes claim a compression format but cannot be decompressed."""


def sniff(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(BZIP2_MAGIC) and len(head) >= 4 and head[3:4].isdigit():
        return "bzip2"
    return "plain"


def _raw_blocks(stream: BinaryIO, first: bytes) -> Iterator[bytes]:
    if first:
        yield first
    while block := stream.read(BLOCK):
        yield block


def _multi_member(blocks: Iterator[bytes], new) -> Iterator[bytes]:
    """Decompress concatenated members (gzip) or streams (bzip2): each one's unused_data starts the next."""
    decoder, fed = new(), False
    for block in blocks:
        data = block
        while data:
            out = decoder.decompress(data)
            fed = True
            if out:
                yield out
            if not decoder.eof:
                break
            data = decoder.unused_data
            decoder, fed = new(), False
            if not data.strip(b"\x00"):
                break  # NUL padding after the last member is ignored, as gzip(1) does
    if fed and not decoder.eof:
        raise DecodeError("the compressed stream ends in the middle of a member")


def decode(stream: BinaryIO) -> Iterator[bytes]:
    """Yield decompressed blocks of `stream`; raise DecodeError on corrupt compressed input."""
    head = stream.read(BLOCK)
    kind = sniff(head)
    blocks = _raw_blocks(stream, head)
    try:
        if kind == "gzip":
            out = _multi_member(blocks, lambda: zlib.decompressobj(wbits=31))
        elif kind == "bzip2":
            out = _multi_member(blocks, bz2.BZ2Decompressor)
        elif kind == "zstd":
            reader = zstandard.ZstdDecompressor().stream_reader(_BlockReader(blocks), read_across_frames=True)
            out = iter(lambda: reader.read(BLOCK), b"")
        else:
            out = blocks
        first = True
        for block in out:
            if first:
                block = block.removeprefix(BOM)
                first = False
            if block:
                yield block
    except (zlib.error, OSError, EOFError, zstandard.ZstdError) as exc:
        raise DecodeError(f"undecodable {kind} data: {exc}") from exc


class _BlockReader:
    """A file-like view of an iterator of blocks, for zstandard's stream_reader."""

    def __init__(self, blocks: Iterator[bytes]):
        self._blocks = blocks
        self._buf = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            block = next(self._blocks, None)
            if block is None:
                break
            self._buf += block
        if size < 0:
            size = len(self._buf)
        out, self._buf = self._buf[:size], self._buf[size:]
        return out
