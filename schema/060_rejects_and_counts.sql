-- Every unit that is not an event lands in the rejects table with its reason, the raw text capped at
-- 1 MiB, and the full size and SHA-256 when capped.
CREATE MATERIALIZED VIEW kubernetes_audit_logs_rejects_mv
TO kubernetes_audit_logs_rejects AS
SELECT
    receivedAt, workspaceID, sourceID, sourceTTL, source, line, byteOffset, item, record, reason,
    substring(event, 1, 1048576) AS raw,
    rawSize,
    rawSHA256,
    rawSize > 1048576 AS truncated
FROM kubernetes_audit_logs_ingest_events
WHERE reason != '';

-- What each chunk produced, so the ledger can state events and rejects per object.
CREATE MATERIALIZED VIEW ingest_chunks_mv
TO ingest_chunks AS
SELECT token, source, chunk, countIf(reason = '') AS events, countIf(reason != '') AS rejects,
       now() AS insertedAt
FROM kubernetes_audit_logs_ingest_events
GROUP BY token, source, chunk;
