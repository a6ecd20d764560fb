-- failed_objects: objects whose load failed in the window, the latest first, with the error.
SELECT source, error, updatedAt
FROM ingest_ledger FINAL
WHERE status = 'failed' AND updatedAt >= {start:DateTime64(6)} AND updatedAt < {end:DateTime64(6)}
ORDER BY updatedAt DESC
LIMIT {top:UInt32}
