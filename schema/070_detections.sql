-- detections: one row per finding of `loader detect`, deduplicated per rule and matched events
-- (fingerprint = hash of the sorted eventIDs); a finding that shares events with an earlier one of
-- its rule (a burst that grew) is not recorded again (loader/detect.py). A delivery is recorded by inserting the same finding
-- again with delivered = 1 and a newer version; ReplacingMergeTree keeps the latest, read with FINAL.
CREATE TABLE IF NOT EXISTS detections
(
    rule LowCardinality(String),
    severity LowCardinality(String),
    fingerprint String,
    eventTime DateTime,
    eventIDs Array(String),
    finding String CODEC(ZSTD(3)),
    detectedAt DateTime64(6),
    delivered Bool,
    attempts UInt32,
    version DateTime64(6)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (rule, fingerprint);

-- detection_checkpoints: the end of the last window each rule ran over; the next run starts a little
-- before it so events that arrive late are still seen.
CREATE TABLE IF NOT EXISTS detection_checkpoints
(
    rule String,
    lastEnd DateTime64(6),
    updatedAt DateTime64(6)
)
ENGINE = ReplacingMergeTree(updatedAt)
ORDER BY rule;

-- detection_suppressions: `loader detect suppress RULE --where SQL --until TIME --reason TEXT`. A finding of
-- RULE whose row satisfies `condition` (SQL over the rule's result columns) before `until` is recorded in
-- detections with suppressedBy = id but neither printed nor delivered. Removing one inserts it again with
-- removed = 1 and a newer version (the detect user may only SELECT and INSERT).
CREATE TABLE IF NOT EXISTS detection_suppressions
(
    id String,
    rule LowCardinality(String),
    condition String,
    until DateTime64(6),
    reason String,
    createdBy String,
    createdAt DateTime64(6),
    removed Bool DEFAULT false,
    version DateTime64(6)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

ALTER TABLE detections ADD COLUMN IF NOT EXISTS suppressedBy String DEFAULT '' AFTER version;
