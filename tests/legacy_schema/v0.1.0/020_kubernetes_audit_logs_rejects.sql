-- kubernetes_audit_logs_rejects: every input unit that could not become an event, with the reason.
-- Together with kubernetes_audit_logs it accounts for every unit the loader read ("nothing is lost").
-- raw is capped at 1 MiB; rawSize and rawSHA256 always describe the full original text.
CREATE TABLE IF NOT EXISTS kubernetes_audit_logs_rejects
(
    receivedAt DateTime CODEC(Delta, ZSTD(1)),
    workspaceID String CODEC(ZSTD(1)),
    sourceID String CODEC(ZSTD(1)),
    sourceTTL UInt32,
    source String CODEC(ZSTD(1)),          -- s3://bucket/key, local path or '-' for stdin
    line UInt64,                           -- 1-based line where the unit starts in the decoded stream
    byteOffset UInt64,                     -- byte offset of the unit in the decoded stream
    item UInt32,                           -- 1-based element of a top-level JSON array, 0 if none
    record UInt32,                         -- 1-based record of an envelope (CloudWatch, Azure, EventList), 0 if none
    reason String CODEC(ZSTD(1)),
    raw String CODEC(ZSTD(3)),
    rawSize UInt64,
    rawSHA256 String CODEC(ZSTD(1)),
    truncated Bool
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(receivedAt)
ORDER BY (workspaceID, source, receivedAt, line)
TTL receivedAt + toIntervalDay(sourceTTL) WHERE sourceTTL > 0
SETTINGS non_replicated_deduplication_window = 10000;
