-- by_rule: findings per rule with when it first and last fired and how many identities it named.
-- Tactic and technique counts are summed from these rows with the rules' headers (loader/report/data.py).
SELECT
    rule,
    any(severity) AS severity,
    count() AS findings,
    uniqExact(user) AS identities,
    min(eventTime) AS first,
    max(eventTime) AS last
FROM report_findings(start = {start:DateTime64(6)}, end = {end:DateTime64(6)}, severities = {severities:Array(String)},
                     rules = {rules:Array(String)}, identity = {identity:String})
GROUP BY rule
ORDER BY findings DESC, rule
