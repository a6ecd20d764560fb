"""IP intelligence: databases made here in each real format, imported into chDB, looked up by the flattening MV."""

from __future__ import annotations

import csv
import gzip
import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet
from typer.testing import CliRunner

from conftest import load_bytes, one
from loader.cli import app
from loader.ipdb import IpdbError, import_path, read, reload_dictionaries

SRC = "srcASCountryCode, srcASNumber, srcASOrganization, srcCity, srcConnectionType, srcISP, srcLatitude, srcLongitude, srcUserType"
EMPTY = ("", 0, "", "", "", "", 0.0, 0.0, "")


def events(*pairs: tuple[str, str], when: datetime | None = None) -> bytes:
    """One audit event per (sourceIP, username)."""
    t = (when or datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return b"".join(json.dumps({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": str(uuid.uuid4()),
        "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/default/secrets", "verb": "list",
        "user": {"username": user}, "sourceIPs": [ip] if ip else [], "userAgent": "kubectl/v1.30",
        "objectRef": {"resource": "secrets", "namespace": "default", "apiVersion": "v1"},
        "responseStatus": {"code": 200}, "requestReceivedTimestamp": t, "stageTimestamp": t}).encode() + b"\n"
        for ip, user in pairs)


def src(wh, ip: str) -> tuple:
    return tuple(one(wh, f"SELECT {SRC} FROM kubernetes_audit_logs WHERE srcIP = {{ip:String}}", ip=ip))


def write_csv(path: Path, header: list[str] | None, rows: list[list]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        if header:
            w.writerow(header)
        w.writerows(rows)
    return path


def maxmind_dir(tmp_path: Path) -> Path:
    """A GeoLite2 City CSV download (blocks IPv4 + IPv6 + English locations) and a GeoLite2 ASN CSV beside it."""
    d = tmp_path / "GeoLite2-City-CSV_20240101"
    d.mkdir()
    blocks = ["network", "geoname_id", "registered_country_geoname_id", "represented_country_geoname_id",
              "is_anonymous_proxy", "is_satellite_provider", "postal_code", "latitude", "longitude", "accuracy_radius"]
    write_csv(d / "GeoLite2-City-Blocks-IPv4.csv", blocks, [
        ["81.2.69.0/24", "2643743", "2635167", "", "0", "0", "EC1A", "51.5142", "-0.0931", "20"],
        ["10.20.0.0/16", "2950159", "2921044", "", "0", "0", "", "52.5244", "13.4105", "5"],  # a user's own office range
    ])
    write_csv(d / "GeoLite2-City-Blocks-IPv6.csv", blocks, [
        ["2a02:c7f::/32", "", "2635167", "", "0", "0", "", "51.4964", "-0.1224", "100"],
    ])
    write_csv(d / "GeoLite2-City-Locations-en.csv",
              ["geoname_id", "locale_code", "continent_code", "continent_name", "country_iso_code", "country_name",
               "subdivision_1_iso_code", "subdivision_1_name", "subdivision_2_iso_code", "subdivision_2_name",
               "city_name", "metro_code", "time_zone", "is_in_european_union"], [
        ["2643743", "en", "EU", "Europe", "GB", "United Kingdom", "ENG", "England", "", "", "London", "", "Europe/London", "0"],
        ["2635167", "en", "EU", "Europe", "GB", "United Kingdom", "", "", "", "", "", "", "Europe/London", "0"],
        ["2950159", "en", "EU", "Europe", "DE", "Germany", "BE", "Land Berlin", "", "", "Berlin", "", "Europe/Berlin", "1"],
    ])
    write_csv(d / "GeoLite2-ASN-Blocks-IPv4.csv", ["network", "autonomous_system_number", "autonomous_system_organization"],
              [["81.2.64.0/19", "20712", "Andrews & Arnold Ltd"]])
    write_csv(d / "GeoLite2-ASN-Blocks-IPv6.csv", ["network", "autonomous_system_number", "autonomous_system_organization"],
              [["2a02:c7c::/30", "5607", "Sky UK Limited"]])
    return d


def enterprise_mmdb(path: Path) -> Path:
    """A GeoIP2-Enterprise-shaped MMDB (IPv6 tree with IPv4 inside), written by mmdb-writer."""
    w = MMDBWriter(ip_version=6, database_type="GeoIP2-Enterprise", ipv4_compatible=True)
    w.insert_network(IPSet(["203.0.113.0/24"]), {
        "country": {"iso_code": "SG"}, "city": {"names": {"en": "Singapore"}},
        "location": {"latitude": 1.2897, "longitude": 103.8501},
        "traits": {"autonomous_system_number": 16509, "autonomous_system_organization": "AMAZON-02",
                   "isp": "Amazon.com", "connection_type": "Corporate", "user_type": "hosting"}})
    w.insert_network(IPSet(["2001:db8:1::/48"]), {
        "country": {"iso_code": "US"}, "city": {"names": {"en": "Ashburn"}},
        "location": {"latitude": 39.0437, "longitude": -77.4875},
        "traits": {"autonomous_system_number": 14618, "autonomous_system_organization": "AMAZON-AES",
                   "isp": "Amazon.com", "connection_type": "Corporate", "user_type": "hosting"}})
    w.insert_network(IPSet(["198.51.100.0/24"]), {
        "country": {"iso_code": "FR"}, "traits": {"isp": "Orange", "connection_type": "Cable/DSL", "user_type": "residential"}})
    w.to_db_file(str(path))
    return path


def test_without_a_database_only_private_addresses_are_marked_internal(wh):
    load_bytes(wh, events(("10.1.2.3", "a"), ("100.64.0.9", "b"), ("8.8.8.8", "c"), ("fe80::1", "d"),
                          ("2001:4860::8888", "e"), ("", "f")))
    assert src(wh, "10.1.2.3") == ("", 0, "", "", "internal", "", 0.0, 0.0, "")
    assert src(wh, "100.64.0.9")[4] == "internal"
    assert src(wh, "fe80::1")[4] == "internal"
    assert src(wh, "8.8.8.8") == EMPTY
    assert src(wh, "2001:4860::8888") == EMPTY
    assert src(wh, "") == EMPTY


def test_maxmind_csv_city_and_asn_ipv4_and_ipv6(wh, tmp_path):
    imported = import_path(wh, maxmind_dir(tmp_path))
    assert (imported.format, imported.networks) == ("maxmind-csv", 5)
    reload_dictionaries(wh)
    load_bytes(wh, events(("81.2.69.160", "a"), ("2a02:c7f:1::5", "b"), ("10.20.1.1", "c"), ("10.9.9.9", "d"),
                          ("81.2.70.1", "e")))
    # City row /24 and ASN row /19 have different boundaries: both answer.
    assert src(wh, "81.2.69.160") == ("GB", 20712, "Andrews & Arnold Ltd", "London", "", "", 51.5142, -0.0931, "")
    # IPv6: no geoname_id, the registered country fills the country code.
    assert src(wh, "2a02:c7f:1::5") == ("GB", 5607, "Sky UK Limited", "", "", "", 51.4964, -0.1224, "")
    # A private range the user's database covers is no longer 'internal'; one it does not cover still is.
    assert src(wh, "10.20.1.1") == ("DE", 0, "", "Berlin", "", "", 52.5244, 13.4105, "")
    assert src(wh, "10.9.9.9")[4] == "internal"
    assert src(wh, "81.2.70.1")[:4] == ("", 20712, "Andrews & Arnold Ltd", "")


def test_mmdb_enterprise_and_a_hunting_query(wh, tmp_path):
    imported = import_path(wh, enterprise_mmdb(tmp_path / "GeoIP2-Enterprise.mmdb"))
    assert (imported.format, imported.networks) == ("mmdb", 3)
    reload_dictionaries(wh)
    load_bytes(wh, events(("203.0.113.7", "system:serviceaccount:prod:deployer"), ("2001:db8:1::42", "alice"),
                          ("2001:db8:1::43", "alice"), ("198.51.100.20", "bob"), ("10.0.0.5", "system:node:n1")))
    assert src(wh, "203.0.113.7") == ("SG", 16509, "AMAZON-02", "Singapore", "Corporate", "Amazon.com",
                                      1.2897, 103.8501, "hosting")
    assert src(wh, "2001:db8:1::42")[:6] == ("US", 14618, "AMAZON-AES", "Ashburn", "Corporate", "Amazon.com")
    # Hunting: who lists secrets from hosting networks, and from how many countries.
    hits = wh.rows("""
        SELECT actor['username'] AS who, groupUniqArray(srcASOrganization) AS orgs, uniqExact(srcASCountryCode) AS countries,
               count() AS calls
        FROM kubernetes_audit_logs
        WHERE srcUserType = 'hosting' AND srcConnectionType != 'internal' AND `objectRef.resource` = 'secrets'
        GROUP BY who ORDER BY who""")
    assert [(h[0], sorted(h[1]), h[2], h[3]) for h in hits] == [
        ("alice", ["AMAZON-AES"], 1, 2), ("system:serviceaccount:prod:deployer", ["AMAZON-02"], 1, 1)]
    assert one(wh, "SELECT groupArray(srcIP) FROM kubernetes_audit_logs WHERE srcConnectionType = 'internal'") == (["10.0.0.5"],)


def test_iptoasn_tsv_gz_and_dbip_csv_ranges_become_cidrs(wh, tmp_path):
    tsv = tmp_path / "ip2asn-combined.tsv.gz"
    tsv.write_bytes(gzip.compress(
        b"1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n"
        b"192.0.2.10\t192.0.2.20\t64500\tNL\tEXAMPLE-AS\n"      # not CIDR-aligned
        b"192.0.2.21\t192.0.2.255\t0\tNone\tNot routed\n"
        b"2606:4700::\t2606:4700:ffff:ffff:ffff:ffff:ffff:ffff\t13335\tUS\tCLOUDFLARENET\n"))
    dbip = write_csv(tmp_path / "dbip-city-lite-2024-01.csv", None, [
        ["192.0.2.0", "192.0.2.127", "EU", "NL", "North Holland", "Amsterdam", "52.374", "4.8897"]])
    a = import_path(wh, tsv)
    b = import_path(wh, dbip)
    assert (a.format, b.format) == ("iptoasn", "dbip-csv")
    reload_dictionaries(wh)
    got = {ip: wh.rows("SELECT ipIntel({ip:String})", {"ip": ip})[0][0] for ip in
           ("1.0.0.1", "192.0.2.9", "192.0.2.10", "192.0.2.20", "192.0.2.21", "2606:4700::1111")}
    assert (got["1.0.0.1"]["asNumber"], got["1.0.0.1"]["asCountryCode"]) == (13335, "US")
    assert got["192.0.2.9"]["asNumber"] == 0 and got["192.0.2.9"]["city"] == "Amsterdam"
    assert [got[ip]["asNumber"] for ip in ("192.0.2.10", "192.0.2.20", "192.0.2.21")] == [64500, 64500, 0]
    assert got["192.0.2.10"]["asCountryCode"] == "NL" and got["192.0.2.10"]["city"] == "Amsterdam"
    assert got["2606:4700::1111"]["asOrganization"] == "CLOUDFLARENET"


def test_loading_a_file_again_replaces_its_rows(wh, tmp_path):
    d = maxmind_dir(tmp_path)
    import_path(wh, d)
    import_path(wh, d)
    assert one(wh, "SELECT count() FROM ip_networks") == (5,)
    write_csv(d / "GeoLite2-ASN-Blocks-IPv4.csv", ["network", "autonomous_system_number", "autonomous_system_organization"],
              [["81.2.64.0/19", "64999", "Renamed Ltd"]])
    import_path(wh, d)
    reload_dictionaries(wh)
    assert one(wh, "SELECT ipIntel('81.2.69.1').asOrganization") == ("Renamed Ltd",)
    assert one(wh, "SELECT count() FROM ip_databases FINAL") == (1,)


def test_not_an_ip_database_is_refused(tmp_path):
    bad = write_csv(tmp_path / "notes.csv", ["name", "value"], [["a", "1"]])
    with pytest.raises(IpdbError, match="not an IP database"):
        read(bad)[1]


def test_cli_load_status_enrich_refresh(wh, tmp_path):
    runner = CliRunner()
    dsn = wh.dsn
    old = datetime.now(timezone.utc) - timedelta(days=90)
    load_bytes(wh, events(("203.0.113.7", "recent"), ("198.51.100.20", "recent2")))
    load_bytes(wh, events(("203.0.113.8", "old"), when=old), name="old.log")
    assert src(wh, "203.0.113.7") == EMPTY

    mmdb = enterprise_mmdb(tmp_path / "GeoIP2-Enterprise.mmdb")
    r = runner.invoke(app, ["ipdb", "load", str(mmdb), "--dsn", dsn, "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.splitlines()[0])["networks"] == 3

    r = runner.invoke(app, ["ipdb", "status", "--dsn", dsn, "--format", "json"])
    status = json.loads(r.stdout)
    assert [(d["format"], d["networks"]) for d in status["databases"]] == [("mmdb", 3)]
    assert {d["name"]: (d["status"], d["networks"]) for d in status["dictionaries"]}["ip_conn"] == ("LOADED", 3)

    r = runner.invoke(app, ["enrich", "--since", "30d", "--dsn", dsn, "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rows"] == 2
    assert src(wh, "203.0.113.7")[8] == "hosting"
    assert src(wh, "198.51.100.20")[4:6] == ("Cable/DSL", "Orange")
    assert src(wh, "203.0.113.8") == EMPTY  # older than --since: untouched
    r = runner.invoke(app, ["enrich", "--since", "30d", "--dsn", dsn, "--format", "json"])
    assert json.loads(r.stdout)["rows"] == 0  # nothing left to change

    w = MMDBWriter(ip_version=6, database_type="GeoIP2-Enterprise", ipv4_compatible=True)
    w.insert_network(IPSet(["203.0.113.0/24"]), {"traits": {"user_type": "business"}})
    w.to_db_file(str(mmdb))
    r = runner.invoke(app, ["ipdb", "refresh", "--dsn", dsn, "--format", "json"])
    assert r.exit_code == 0, r.output
    assert [json.loads(l)["networks"] for l in r.stdout.splitlines()] == [1]
    assert one(wh, "SELECT ipIntel('203.0.113.7').userType, ipIntel('198.51.100.20').isp") == ("business", "")

    assert runner.invoke(app, ["enrich", "--since", "yesterday", "--dsn", dsn]).exit_code == 2
