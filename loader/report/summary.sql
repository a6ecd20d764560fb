-- summary: the report's headline numbers: findings by severity, identities, rules that fired, and the
-- events the warehouse holds in the window (what the findings were drawn from).
SELECT
    count() AS findings,
    countIf(severity = 'critical') AS critical,
    countIf(severity = 'high') AS high,
    countIf(severity = 'medium') AS medium,
    countIf(severity = 'low') AS low,
    countIf(severity = 'informational') AS informational,
    uniqExact(user) AS identities,
    uniqExact(rule) AS rules,
    (SELECT count() FROM kubernetes_audit_logs
     WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}) AS events
FROM report_findings(start = {start:DateTime64(6)}, end = {end:DateTime64(6)}, severities = {severities:Array(String)},
                     rules = {rules:Array(String)}, identity = {identity:String})
