-- rejects: what could not be loaded in the window, by reason (kubernetes_audit_logs_rejects keeps each one
-- with its source, line and raw text).
SELECT reason, count() AS rejects, uniqExact(source) AS sources, max(receivedAt) AS last
FROM kubernetes_audit_logs_rejects
WHERE receivedAt >= {start:DateTime64(6)} AND receivedAt < {end:DateTime64(6)}
GROUP BY reason
ORDER BY rejects DESC, reason
LIMIT {top:UInt32}
