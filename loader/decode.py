"""Decode: turn a byte stream into decompressed blocks, whatever the compression.

The format is told from the first bytes, never from a name: gzip (every member of a multi-member
file, as Firehose writes them), zstd (every frame), bzip2 (every stream) or plain. A UTF-8 BOM at the
start of the decoded text is dropped; text that starts with a UTF-16 or UTF-32 BOM (PowerShell's
`Out-File`, Windows editors) is turned into UTF-8 as it streams. Memory does not grow with the
decompressed size: every decompressor call gives a bounded output, so a bomb of a few KB comes out
about BLOCK bytes at a time.
"""

from __future__ import annotations

import bz2
import codecs
import io
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Any, Protocol

import zstandard

BLOCK = 4 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZIP2_MAGIC = b"BZh"
BOM = b"\xef\xbb\xbf"
# UTF-32's BOMs first: UTF-32-LE's starts with UTF-16-LE's
WIDE_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
             (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Input is fed STEP bytes at a time so that unused_data and unconsumed_tail, copies of the input not
# yet used, stay small however many members a block holds. zstd's decompressobj has no max_length,
# but a 4-byte RLE block expands to at most 128 KiB: 128 input bytes give at most about BLOCK.
STEP = 64 * 1024
ZSTD_STEP = 128
_NULS = re.compile(rb"\x00*")
_ERRORS = (zlib.error, OSError, EOFError, zstandard.ZstdError)


class DecodeError(Exception):
    """The bytes claim a compression format but cannot be decompressed."""


class Readable(Protocol):
    """All decode needs of its input: a binary file, or a wrapper with only read() (the pipeline's counter)."""

    def read(self, n: int = -1, /) -> bytes: ...


class ReadError(Exception):
    """Reading the source failed (disk, network): not the data's fault, so no reject; the load fails.
    Kept apart from OSError, which the decompressors also raise for damaged data."""


def _read(stream: Readable) -> bytes:
    try:
        return stream.read(BLOCK)
    except OSError as exc:
        raise ReadError(f"reading the source failed: {exc}") from exc


def sniff(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(BZIP2_MAGIC) and len(head) >= 4 and head[3:4].isdigit():
        return "bzip2"
    return "plain"


def _raw_blocks(stream: Readable, first: bytes) -> Iterator[bytes]:
    if first:
        yield first
    while block := _read(stream):
        yield block


# what a decompressor is fed: a slice of a read block, or the unused data a finished member left over
_Input = bytes | memoryview


def _inflate_gzip(decoder: Any, data: _Input) -> Iterator[bytes]:
    out = decoder.decompress(data, BLOCK)
    yield out
    # a full output can leave more to come even when all the input was taken
    while not decoder.eof and (decoder.unconsumed_tail or len(out) == BLOCK):
        out = decoder.decompress(decoder.unconsumed_tail, BLOCK)
        yield out


def _inflate_bzip2(decoder: Any, data: _Input) -> Iterator[bytes]:
    yield decoder.decompress(data, BLOCK)
    while not decoder.eof and not decoder.needs_input:  # the input it holds has more output to give
        yield decoder.decompress(b"", BLOCK)


def _inflate_zstd(decoder: Any, data: _Input) -> Iterable[bytes]:
    return (decoder.decompress(data),)


def _members(blocks: Iterable[bytes], new: Callable[[], Any], step: int,
             inflate: Callable[[Any, _Input], Iterable[bytes]]) -> Iterator[bytes]:
    """Decompress concatenated members (gzip), streams (bzip2) or frames (zstd): each one's unused_data
    starts the next."""
    decoder, fed = new(), False
    for block in blocks:
        view = memoryview(block)
        for i in range(0, len(view), step):
            data: _Input = view[i:i + step]
            while data:
                if not fed and _NULS.fullmatch(data):
                    break  # NUL padding after the last member is ignored, as gzip(1) does
                fed = True
                yield from inflate(decoder, data)
                data = b""
                if decoder.eof:
                    data, decoder, fed = decoder.unused_data, new(), False
    if fed and not decoder.eof:
        raise DecodeError("the compressed stream ends in the middle of a member")


def _gather(pieces: Iterable[bytes], kind: str) -> Iterator[bytes]:
    """Join decompressed pieces into blocks of about BLOCK (zstd's come a few KiB at a time). On damage,
    what decoded before it is yielded first, then DecodeError is raised."""
    pending: list[bytes] = []
    held = 0
    try:
        for piece in pieces:
            if held + len(piece) > BLOCK and pending:
                yield b"".join(pending)
                pending, held = [], 0
            pending.append(piece)
            held += len(piece)
    except (DecodeError, *_ERRORS) as exc:
        yield b"".join(pending)
        if isinstance(exc, DecodeError):
            raise
        raise DecodeError(f"undecodable {kind} data: {exc}") from exc
    yield b"".join(pending)


def decode(stream: Readable) -> Iterator[bytes]:
    """Yield decompressed blocks of `stream`, each of at most about BLOCK bytes; raise DecodeError on
    corrupt compressed input."""
    head = _read(stream)
    kind = sniff(head)
    blocks = _raw_blocks(stream, head)
    if kind == "gzip":
        pieces = _members(blocks, lambda: zlib.decompressobj(wbits=31), STEP, _inflate_gzip)
    elif kind == "bzip2":
        pieces = _members(blocks, bz2.BZ2Decompressor, STEP, _inflate_bzip2)
    elif kind == "zstd":
        pieces = _members(blocks, zstandard.ZstdDecompressor().decompressobj, ZSTD_STEP, _inflate_zstd)
    else:
        pieces = blocks
    blocks = _gather(pieces, kind)
    first = next(blocks, b"")
    wide = next((enc for bom, enc in WIDE_BOMS if first.startswith(bom)), None)
    if wide:
        yield from _to_utf8(wide, first, blocks)
        return
    for block in chain((first.removeprefix(BOM),), blocks):
        if block:
            yield block


def _to_utf8(encoding: str, first: bytes, rest: Iterable[bytes]) -> Iterator[bytes]:
    """UTF-16/32 text (its BOM tells the byte order) as UTF-8, block by block; a code unit split
    between blocks is carried over. An invalid sequence becomes U+FFFD, as a text editor shows it:
    the event still loads."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    for block in chain((first,), rest):
        if out := decoder.decode(block).encode():
            yield out
    if tail := decoder.decode(b"", final=True).encode():
        yield tail


class BlockReader(io.RawIOBase):
    """A readable binary stream over an iterator of byte blocks (decode's output), for code that wants a
    file object rather than blocks: a TextIOWrapper for csv, an io.BufferedReader. A read gives at most
    what is left of the current block; the next block is taken only when that is used up."""

    def __init__(self, blocks: Iterable[bytes]):
        self._blocks, self._buf = iter(blocks), b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            block = next(self._blocks, None)
            if block is None:
                return 0
            self._buf = block
        n = min(len(b), len(self._buf))
        b[:n], self._buf = self._buf[:n], self._buf[n:]
        return n
