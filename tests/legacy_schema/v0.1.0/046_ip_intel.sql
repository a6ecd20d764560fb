-- IP intelligence for the src* columns: networks imported by `loader ipdb load` (MaxMind CSV/MMDB,
-- IPtoASN, DB-IP), one row per network and database file, IPv4 and IPv6 CIDRs alike.
-- Three ip_trie dictionaries read this one table, each only the rows that carry its attributes, so a
-- City database and an ASN database with different network boundaries both answer one lookup.
-- The dictionaries load lazily and never on a timer (LIFETIME 0): `ipdb load/refresh` reloads them.
-- Empty tables give empty dictionaries: every lookup then returns '' / 0 and dictHas is false.
CREATE TABLE IF NOT EXISTS ip_networks
(
    source String,                 -- the database file this row came from
    network String,                -- CIDR: 81.2.69.0/24, 2001:db8::/32
    countryCode LowCardinality(String),
    city String,
    latitude Float64,
    longitude Float64,
    asNumber UInt32,
    asOrganization String,
    asCountryCode LowCardinality(String),  -- the AS registry's country (IPtoASN), used when no geo row answers
    isp String,
    connectionType LowCardinality(String),
    userType LowCardinality(String)
)
ENGINE = MergeTree
PARTITION BY source
ORDER BY network;

-- One row per imported file and import: what `ipdb status` shows and `ipdb refresh` re-reads.
CREATE TABLE IF NOT EXISTS ip_databases
(
    source String,
    format LowCardinality(String),
    networks UInt64,
    size UInt64,
    sha256 String,
    modifiedAt DateTime,
    loadedAt DateTime
)
ENGINE = ReplacingMergeTree(loadedAt)
ORDER BY source;

CREATE DICTIONARY IF NOT EXISTS ip_geo
(
    network String,
    countryCode String,
    city String,
    latitude Float64,
    longitude Float64
)
PRIMARY KEY network
SOURCE(CLICKHOUSE(TABLE 'ip_networks' WHERE 'countryCode != \'\' OR city != \'\' OR latitude != 0 OR longitude != 0'))
LAYOUT(IP_TRIE)
LIFETIME(0);

CREATE DICTIONARY IF NOT EXISTS ip_asn
(
    network String,
    asNumber UInt32,
    asOrganization String,
    asCountryCode String
)
PRIMARY KEY network
SOURCE(CLICKHOUSE(TABLE 'ip_networks' WHERE 'asNumber != 0 OR asOrganization != \'\''))
LAYOUT(IP_TRIE)
LIFETIME(0);

CREATE DICTIONARY IF NOT EXISTS ip_conn
(
    network String,
    isp String,
    connectionType String,
    userType String
)
PRIMARY KEY network
SOURCE(CLICKHOUSE(TABLE 'ip_networks' WHERE 'isp != \'\' OR connectionType != \'\' OR userType != \'\''))
LAYOUT(IP_TRIE)
LIFETIME(0);

-- ipIntel(ip): the nine src* values of one address, as the flattening MV and `loader enrich` use them.
-- Unqualified dictionary names resolve in the querying database, so these functions (global on a
-- server) serve every warehouse database. Addresses that no database row covers keep '' / 0, except
-- private, loopback, link-local and CGNAT ones, whose connectionType is 'internal'.
-- Split in three because a SQL function is a macro: each step names its arguments once.
CREATE OR REPLACE FUNCTION ipIntelRow AS (ip, g, a, c, covered) ->
    CAST((if(g.1 != '', g.1, a.3), a.1, a.2, g.2,
          if(c.2 = '' AND NOT covered
                AND multiIf(isIPv4String(ip),
                            arrayExists(r -> isIPAddressInRange(ip, r),
                                        ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '127.0.0.0/8', '169.254.0.0/16', '100.64.0.0/10']),
                            isIPv6String(ip),
                            arrayExists(r -> isIPAddressInRange(ip, r), ['::1/128', 'fe80::/10', 'fc00::/7']),
                            false),
             'internal', c.2),
          c.1, g.3, g.4, c.3),
         'Tuple(asCountryCode String, asNumber UInt32, asOrganization String, city String, connectionType String, isp String, latitude Float64, longitude Float64, userType String)');

CREATE OR REPLACE FUNCTION ipIntelKey AS (ip, k) ->
    ipIntelRow(ip,
               dictGet('ip_geo', ('countryCode', 'city', 'latitude', 'longitude'), k),
               dictGet('ip_asn', ('asNumber', 'asOrganization', 'asCountryCode'), k),
               dictGet('ip_conn', ('isp', 'connectionType', 'userType'), k),
               dictHas('ip_geo', k) OR dictHas('ip_asn', k) OR dictHas('ip_conn', k));

-- Text that is no address ('' when an event has no sourceIPs) looks nothing up.
CREATE OR REPLACE FUNCTION ipIntel AS (ip) ->
    if(isIPv4String(ip) OR isIPv6String(ip),
       ipIntelKey(ip, toIPv6OrDefault(ip)),
       CAST(('', 0, '', '', '', '', 0, 0, ''),
            'Tuple(asCountryCode String, asNumber UInt32, asOrganization String, city String, connectionType String, isp String, latitude Float64, longitude Float64, userType String)'));
