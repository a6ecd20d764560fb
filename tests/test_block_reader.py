"""decode.BlockReader: decoded blocks read back as a file (what `loader ipdb` reads its CSVs through)."""

from __future__ import annotations

import csv
import gzip
import io

from loader.decode import BlockReader, decode


def test_blocks_read_back_whole_whatever_their_cut():
    data = b"".join(b"line %d\n" % i for i in range(1000))
    blocks = [data[:1], b"", data[1:4000], b"", b"", data[4000:4001], data[4001:]]
    assert io.BufferedReader(BlockReader(blocks), 64).read() == data
    lines = io.TextIOWrapper(BlockReader(iter(blocks)), encoding="utf-8", newline="").readlines()
    assert lines == [f"line {i}\n" for i in range(1000)]
    assert BlockReader([]).read() == b""


def test_a_compressed_csv_reads_as_text_through_decode():
    text = "network,geoname_id\n" + "".join(f"10.{i}.0.0/16,{i}\n" for i in range(256))
    rows = list(csv.DictReader(io.TextIOWrapper(BlockReader(decode(io.BytesIO(gzip.compress(text.encode())))),
                                                encoding="utf-8", newline="")))
    assert len(rows) == 256 and rows[255] == {"network": "10.255.0.0/16", "geoname_id": "255"}
