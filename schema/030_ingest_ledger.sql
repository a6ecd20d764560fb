-- ingest_ledger: one row per object or file loaded, so anyone can prove what was loaded.
-- Rows are rewritten as a load progresses (loading -> done | failed); the newest updatedAt wins.
-- Query it with FINAL (or argMax) to see one row per source and identity.
CREATE TABLE IF NOT EXISTS ingest_ledger
(
    workspaceID String,
    sourceID String,
    source String,                 -- s3://bucket/key, local path or '-'
    identity String,               -- S3 ETag (and version), or sha256 of the file's bytes
    size UInt64,                   -- bytes read (compressed size as stored)
    events UInt64,
    rejects UInt64,
    chunks UInt32,
    status LowCardinality(String), -- loading | done | failed
    error String,
    startedAt DateTime64(3, 'UTC'),
    finishedAt Nullable(DateTime64(3, 'UTC')),
    updatedAt DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updatedAt)
ORDER BY (workspaceID, source, identity);

-- ingest_chunks: what each inserted chunk produced, written by the same insert as its events and
-- rejects (same deduplication token), so the ledger's counts always add up.
CREATE TABLE IF NOT EXISTS ingest_chunks
(
    token String,
    source String,
    chunk UInt32,
    events UInt64,
    rejects UInt64,
    insertedAt DateTime DEFAULT now()
)
ENGINE = MergeTree
ORDER BY (token, chunk)
SETTINGS non_replicated_deduplication_window = 10000;
-- 0.1.0 counted events that its eventTime-based TTL dropped at once; retention now runs from receivedAt
ALTER TABLE ingest_chunks DROP COLUMN IF EXISTS expired;
