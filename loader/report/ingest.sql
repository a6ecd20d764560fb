-- ingest: ingest health over the window from the ledger (one row per object, ReplacingMergeTree: FINAL):
-- objects loaded, failed and under way, their events and rejects, and the last object loaded.
SELECT
    countIf(status = 'done') AS loaded,
    countIf(status = 'failed') AS failed,
    countIf(status = 'loading') AS loading,
    sumIf(events, status = 'done') AS events,
    sumIf(rejects, status = 'done') AS rejects,
    formatReadableSize(sumIf(size, status = 'done')) AS read,
    argMaxIf(source, finishedAt, status = 'done') AS last_source,
    maxIf(finishedAt, status = 'done') AS last_loaded
FROM ingest_ledger FINAL
WHERE updatedAt >= {start:DateTime64(6)} AND updatedAt < {end:DateTime64(6)}
