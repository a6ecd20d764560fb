-- report_findings: the findings `loader report` and the console of `loader serve` show, as a parameterized
-- view so every panel (and anyone at clickhouse-client) filters them the same way:
--   SELECT * FROM report_findings(start = '2026-01-01 00:00:00', end = '2026-01-08 00:00:00',
--                                 severities = ['high', 'critical'], rules = [], identity = '')
-- A finding is in the window by its eventTime; empty `rules` or `identity` means all. Suppressed findings
-- (detection_suppressions, dedup) are left out: they were muted on purpose. user, srcIP and detail are the
-- rule's own result columns (queries/README.md: every rule returns user and srcIP).
CREATE OR REPLACE VIEW report_findings AS
SELECT
    rule,
    severity,
    fingerprint,
    eventTime,
    detectedAt,
    eventIDs,
    JSONExtractString(finding, 'user') AS user,
    JSONExtractString(finding, 'srcIP') AS srcIP,
    JSONExtractString(finding, 'detail') AS detail,
    JSONExtractString(finding, 'object') AS object,
    finding
FROM detections FINAL
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND has({severities:Array(String)}, severity)
  AND (empty({rules:Array(String)}) OR has({rules:Array(String)}, rule))
  AND ({identity:String} = '' OR JSONExtractString(finding, 'user') = {identity:String})
  AND suppressedBy = '';

-- report_events: an audit event as the report and the console show it in their event tables (the sample of a
-- finding, an identity's requests); the queries filter it by eventTime and eventID or user.
CREATE OR REPLACE VIEW report_events AS
SELECT
    eventID,
    eventTime,
    `user.username` AS user,
    verb,
    concat(`objectRef.resource`, if(`objectRef.namespace` != '', concat(' ', `objectRef.namespace`, '/'), ' '),
           `objectRef.name`) AS resource,
    requestURI,
    srcIP,
    userAgent,
    `annotations.authorization.k8s.io.decision` AS decision,
    `responseStatus.code` AS code
FROM kubernetes_audit_logs;
