-- identities: the users behind the findings, the busiest first, with the rules they tripped and the
-- addresses they came from.
SELECT
    user,
    count() AS findings,
    uniqExact(rule) AS rules,
    arraySort(groupUniqArray(8)(rule)) AS rule_ids,
    arraySort(groupUniqArray(5)(srcIP)) AS addresses,
    min(eventTime) AS first,
    max(eventTime) AS last
FROM report_findings(start = {start:DateTime64(6)}, end = {end:DateTime64(6)}, severities = {severities:Array(String)},
                     rules = {rules:Array(String)}, identity = {identity:String})
GROUP BY user
ORDER BY findings DESC, user
LIMIT {top:UInt32}
