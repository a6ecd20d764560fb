"""IP databases the user already has, read into rows of `ip_networks` (schema/046_ip_intel.sql).

Formats, told from the bytes and the header, never from the name:
- MMDB (any MaxMind-format database: GeoLite2/GeoIP2 City, ASN, ISP, Connection-Type, Enterprise, DB-IP),
  read with the maxminddb library;
- MaxMind CSV: a `network` header (Blocks-IPv4/IPv6 files; City/Country blocks take names from the
  `*-Locations-en.csv` beside them); a directory or .zip of such files is read whole;
- IPtoASN TSV (range_start, range_end, AS_number, country_code, AS_description);
- DB-IP lite CSV without header: country (3 columns), ASN (4) or city (8).
Any of the text formats may be gzip/zstd/bzip2-compressed. Ranges become the CIDRs that cover them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import ipaddress
import socket
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import maxminddb
import pyarrow as pa

from .decode import BlockReader, decode
from .warehouse import Warehouse

COLUMNS = ["network", "countryCode", "city", "latitude", "longitude", "asNumber", "asOrganization",
           "asCountryCode", "isp", "connectionType", "userType"]
DICTIONARIES = ("ip_geo", "ip_asn", "ip_conn")
MMDB_MARKER = b"\xab\xcd\xefMaxMind.com"
BATCH = 100_000


class IpdbError(ValueError):
    """A file is no IP database this module can read."""


@dataclass
class Imported:
    source: str
    format: str
    networks: int = 0
    size: int = 0
    sha256: str = ""
    modified: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


# -- one row ----------------------------------------------------------------------------------
def _row(network: str, **values: Any) -> dict[str, Any] | None:
    """A normalized row, or None when it carries nothing the src* columns use."""
    row = {"network": network, "countryCode": values.get("countryCode") or "", "city": values.get("city") or "",
           "latitude": _float(values.get("latitude")), "longitude": _float(values.get("longitude")),
           "asNumber": _int(values.get("asNumber")), "asOrganization": values.get("asOrganization") or "",
           "asCountryCode": values.get("asCountryCode") or "", "isp": values.get("isp") or "",
           "connectionType": values.get("connectionType") or "", "userType": values.get("userType") or ""}
    return row if any(v for k, v in row.items() if k != "network") else None


def _float(v: Any) -> float:
    try:
        return float(v) if v not in (None, "") else 0.0
    except ValueError:
        return 0.0


def _int(v: Any) -> int:
    try:
        return int(str(v).removeprefix("AS")) if v not in (None, "") else 0
    except ValueError:
        return 0


def _cidrs(start: str, end: str) -> list[str]:
    """The fewest CIDRs covering start..end; integer arithmetic, as ipaddress is too slow for millions of ranges."""
    family, bits = (socket.AF_INET6, 128) if ":" in start else (socket.AF_INET, 32)
    try:
        first = int.from_bytes(socket.inet_pton(family, start), "big")
        last = int.from_bytes(socket.inet_pton(family, end), "big")
    except OSError:
        raise IpdbError(f"not an address range: {start} - {end}") from None
    out = []
    while first <= last:
        size = min((first & -first).bit_length() - 1 if first else bits, (last - first + 1).bit_length() - 1)
        out.append(f"{socket.inet_ntop(family, first.to_bytes(bits // 8, 'big'))}/{bits - size}")
        first += 1 << size
    return out


# -- MMDB -------------------------------------------------------------------------------------
def _get(record: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def _mmdb_rows(path: Path) -> Iterator[dict[str, Any]]:
    with maxminddb.open_database(str(path)) as reader:
        for network, rec in reader:
            if not isinstance(rec, dict):
                continue
            if network.version == 6 and network.subnet_of(ipaddress.ip_network("::ffff:0:0/96")):
                continue  # IPv4-mapped alias of the IPv4 tree, which the iterator already yields as IPv4
            row = _row(
                str(network),
                countryCode=_get(rec, "country", "iso_code") or _get(rec, "country_code"),
                city=_get(rec, "city", "names", "en") or (_get(rec, "city") if isinstance(_get(rec, "city"), str) else None),
                latitude=_get(rec, "location", "latitude") or _get(rec, "latitude"),
                longitude=_get(rec, "location", "longitude") or _get(rec, "longitude"),
                asNumber=_get(rec, "autonomous_system_number") or _get(rec, "traits", "autonomous_system_number"),
                asOrganization=_get(rec, "autonomous_system_organization")
                or _get(rec, "traits", "autonomous_system_organization"),
                isp=_get(rec, "isp") or _get(rec, "traits", "isp"),
                connectionType=_get(rec, "connection_type") or _get(rec, "traits", "connection_type"),
                userType=_get(rec, "user_type") or _get(rec, "traits", "user_type"))
            if row:
                yield row


# -- text formats -----------------------------------------------------------------------------
def _text(stream: IO[bytes]) -> io.TextIOBase:
    """Decompressed UTF-8 text of a stream, read as it goes."""
    blocks = decode(stream)
    return io.TextIOWrapper(cast(BinaryIO, BlockReader(blocks)), encoding="utf-8", errors="replace", newline="")


def _locations(text: io.TextIOBase) -> dict[str, tuple[str, str]]:
    """geoname_id -> (country ISO code, city name) from a MaxMind *-Locations-*.csv."""
    return {r["geoname_id"]: (r.get("country_iso_code", ""), r.get("city_name", "")) for r in csv.DictReader(text)}


def _maxmind_rows(rows: Iterable[dict[str, str]], places: dict[str, tuple[str, str]]) -> Iterator[dict[str, Any]]:
    for r in rows:
        country, city = places.get(r.get("geoname_id") or "", ("", ""))
        if not country:
            country = places.get(r.get("registered_country_geoname_id") or "", ("", ""))[0]
        row = _row(r["network"], countryCode=country, city=city, latitude=r.get("latitude"),
                   longitude=r.get("longitude"), asNumber=r.get("autonomous_system_number"),
                   asOrganization=r.get("autonomous_system_organization"), isp=r.get("isp"),
                   connectionType=r.get("connection_type"), userType=r.get("user_type"))
        if row:
            yield row


def _range_rows(lines: Iterable[list[str]], fmt: str) -> Iterator[dict[str, Any]]:
    """IPtoASN and DB-IP rows: a start and end address, then the values."""
    for f in lines:
        if len(f) < 3:
            continue
        if fmt == "iptoasn":
            values = dict(asNumber=f[2], asCountryCode=f[3] if f[3] != "None" else "", asOrganization=f[4])
            if _int(f[2]) == 0:
                continue  # "Not routed"
        elif len(f) == 3:
            values = dict(countryCode=f[2])
        elif len(f) == 4:
            values = dict(asNumber=f[2], asOrganization=f[3])
        else:
            values = dict(countryCode=f[3], city=f[5], latitude=f[6], longitude=f[7])
        for cidr in _cidrs(f[0], f[1]):
            if row := _row(cidr, **values):
                yield row


def _sniff_text(first_line: str) -> str:
    if "\t" in first_line:
        return "iptoasn"
    head = next(csv.reader([first_line]), [])
    if head and head[0] == "network":
        return "maxmind-csv"
    try:
        ipaddress.ip_address(head[0] if head else "")
    except ValueError:
        raise IpdbError("not an IP database: expected an MMDB file, a MaxMind CSV (network,...), "
                        "an IPtoASN TSV or a DB-IP CSV") from None
    return "dbip-csv"


# -- files ------------------------------------------------------------------------------------
Opener = Callable[[], IO[bytes]]


def _members(path: Path) -> list[tuple[str, Opener]]:
    """The files a PATH names: itself, the files of a directory, or the members of a .zip."""
    if path.is_dir():
        return [(str(p), _opener(p)) for p in sorted(path.rglob("*")) if p.is_file()]
    if zipfile.is_zipfile(path):
        z = zipfile.ZipFile(path)
        return [(f"{path}!{n}", partial(z.open, n)) for n in sorted(z.namelist()) if not n.endswith("/")]
    return [(str(path), _opener(path))]


def _opener(path: Path) -> Opener:
    return lambda: path.open("rb")


def _is_mmdb(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - 128 * 1024))
        return MMDB_MARKER in f.read()


def read(path: Path) -> tuple[str, Iterator[dict[str, Any]]]:
    """(format, rows) of one database PATH (file, directory or .zip)."""
    if path.is_file() and not zipfile.is_zipfile(path) and _is_mmdb(path):
        return "mmdb", _mmdb_rows(path)
    members = _members(path)
    places: dict[str, tuple[str, str]] = {}
    for name, opener in members:
        if "-Locations-en" in Path(name).name:
            with opener() as f:
                places.update(_locations(_text(f)))
    formats: list[str] = []
    readers: list[Callable[[], Iterator[dict[str, Any]]]] = []
    for name, opener in members:
        base = Path(name).name
        if "-Locations-" in base or not base.lower().endswith((".csv", ".tsv", ".gz", ".zst", ".bz2")):
            continue
        with opener() as f:
            first = _text(f).readline()
        fmt = _sniff_text(first)
        formats.append(fmt)
        readers.append(partial(_file_rows, opener, fmt, places))
    if not readers:
        raise IpdbError(f"{path}: no IP database file found")
    return "+".join(sorted(set(formats))), (row for r in readers for row in r())


def _file_rows(opener: Opener, fmt: str, places: dict[str, tuple[str, str]]) -> Iterator[dict[str, Any]]:
    with opener() as f:
        text = _text(f)
        if fmt == "maxmind-csv":
            yield from _maxmind_rows(csv.DictReader(text), places)
        else:
            yield from _range_rows(csv.reader(text, delimiter="\t" if fmt == "iptoasn" else ","), fmt)


def fingerprint(path: Path) -> tuple[int, str, datetime]:
    """(size, sha256, modified) of a PATH; a directory's is over its files, in name order."""
    h, size = hashlib.sha256(), 0
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in files:
        with p.open("rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
                size += len(block)
    mtime = max((p.stat().st_mtime for p in files), default=0)
    return size, h.hexdigest(), datetime.fromtimestamp(mtime, timezone.utc)


# -- warehouse --------------------------------------------------------------------------------
def import_path(wh: Warehouse, path: Path, on_rows: Callable[[int], None] = lambda n: None) -> Imported:
    """Replace the rows of PATH in ip_networks, record it in ip_databases. Dictionaries are not reloaded."""
    source = str(path.resolve())
    fmt, rows = read(path)
    size, digest, modified = fingerprint(path)
    out = Imported(source, fmt, 0, size, digest, modified)
    wh.command("ALTER TABLE ip_networks DELETE WHERE source = {s:String} SETTINGS mutations_sync = 2", {"s": source})
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            _insert(wh, source, batch)
            out.networks += len(batch)
            on_rows(len(batch))
            batch = []
    if batch:
        _insert(wh, source, batch)
        out.networks += len(batch)
        on_rows(len(batch))
    wh.insert("ip_databases", [[source, fmt, out.networks, size, digest, modified, datetime.now(timezone.utc)]],
              ["source", "format", "networks", "size", "sha256", "modifiedAt", "loadedAt"])
    return out


def _insert(wh: Warehouse, source: str, batch: list[dict[str, Any]]) -> None:
    table = pa.Table.from_pylist(batch, schema=pa.schema(
        [("network", pa.string()), ("countryCode", pa.string()), ("city", pa.string()), ("latitude", pa.float64()),
         ("longitude", pa.float64()), ("asNumber", pa.uint32()), ("asOrganization", pa.string()),
         ("asCountryCode", pa.string()), ("isp", pa.string()), ("connectionType", pa.string()),
         ("userType", pa.string())]))
    table = table.append_column("source", pa.array([source] * len(batch), pa.string()))
    wh.insert_arrow("ip_networks", table)


def reload_dictionaries(wh: Warehouse) -> None:
    for name in DICTIONARIES:
        wh.command(f"SYSTEM RELOAD DICTIONARY {name}")


def forget(wh: Warehouse, source: str) -> None:
    """Drop a database whose file is gone from ip_networks and ip_databases."""
    for table in ("ip_networks", "ip_databases"):
        wh.command(f"ALTER TABLE {table} DELETE WHERE source = {{s:String}} SETTINGS mutations_sync = 2", {"s": source})


def databases(wh: Warehouse) -> list[dict[str, Any]]:
    """What is loaded: one dict per file, newest import, with its age."""
    rows = wh.rows("SELECT source, format, networks, size, sha256, modifiedAt, loadedAt, "
                   "dateDiff('second', loadedAt, now()), dateDiff('second', modifiedAt, now()) "
                   "FROM ip_databases FINAL ORDER BY source")
    keys = ["source", "format", "networks", "size", "sha256", "modifiedAt", "loadedAt", "loadedAgeSeconds", "fileAgeSeconds"]
    return [dict(zip(keys, r)) for r in rows]


def dictionary_status(wh: Warehouse) -> list[dict[str, Any]]:
    rows = wh.rows("SELECT name, status, element_count, last_exception FROM system.dictionaries "
                   "WHERE database = currentDatabase() AND name IN {n:Array(String)} ORDER BY name",
                   {"n": list(DICTIONARIES)})
    return [dict(zip(["name", "status", "networks", "error"], (r[0], str(r[1]), r[2], r[3]))) for r in rows]
