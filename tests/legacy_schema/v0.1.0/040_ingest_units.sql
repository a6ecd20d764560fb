-- The ingest path. The loader inserts one row per top-level JSON value ("unit") it reads into
-- kubernetes_audit_logs_ingest (Null engine: nothing is stored there). Materialized views then,
-- inside ClickHouse:
--   1. split top-level JSON arrays into items                  -> kubernetes_audit_logs_ingest_items
--   2. unwrap envelopes, minify, redact Secrets, judge events   -> kubernetes_audit_logs_ingest_events
--   3. flatten events to the 69 columns, write rejects and per-chunk counts (050, 060).
-- One INSERT with one deduplication token drives all of it, so a retried chunk adds nothing anywhere.
CREATE TABLE IF NOT EXISTS kubernetes_audit_logs_ingest
(
    workspaceID String,
    sourceID String,
    sourceTTL UInt32,
    cluster String,          -- default for tags['cluster'] when the envelope names none
    source String,
    receivedAt DateTime,
    redact Bool,
    token String,            -- the chunk's deduplication token
    chunk UInt32,
    line UInt64,
    byteOffset UInt64,
    unit String,
    unitReason String,       -- set by the loader when it could not read the unit (too large, ...)
    unitSize UInt64,         -- original size when the loader truncated the unit, else 0
    unitSHA256 String        -- original SHA-256 when the loader truncated the unit, else ''
)
ENGINE = Null;

CREATE TABLE IF NOT EXISTS kubernetes_audit_logs_ingest_items
(
    workspaceID String, sourceID String, sourceTTL UInt32, cluster String, source String,
    receivedAt DateTime, redact Bool, token String, chunk UInt32, line UInt64, byteOffset UInt64,
    unit String, unitReason String, unitSize UInt64, unitSHA256 String,
    item UInt32              -- 1-based element of a top-level array, 0 when the unit was not an array
)
ENGINE = Null;

-- Stage 1: a top-level JSON array becomes one item per element (an empty array yields nothing).
CREATE MATERIALIZED VIEW IF NOT EXISTS kubernetes_audit_logs_ingest_items_mv
TO kubernetes_audit_logs_ingest_items AS
SELECT
    workspaceID, sourceID, sourceTTL, cluster, source, receivedAt, redact, token, chunk, line, byteOffset,
    _it.1 AS unit, unitReason, unitSize, unitSHA256, _it.2 AS item
FROM (SELECT * EXCEPT unit, unit AS _unit FROM kubernetes_audit_logs_ingest)
ARRAY JOIN
    if(unitReason = '' AND JSONType(_unit) = 'Array',
       arrayMap((x, i) -> (x, toUInt32(i)), JSONExtractArrayRaw(_unit), arrayEnumerate(JSONExtractArrayRaw(_unit))),
       [(_unit, toUInt32(0))]) AS _it;
