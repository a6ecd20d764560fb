-- addresses: the source addresses behind the findings with who used them, and where each address is
-- from (the srcAS* and srcCity columns of its events in the window, filled by IP intelligence at load).
WITH found AS
(
    SELECT
        srcIP,
        count() AS findings,
        uniqExact(user) AS identities,
        arraySort(groupUniqArray(5)(user)) AS users,
        min(eventTime) AS first,
        max(eventTime) AS last
    FROM report_findings(start = {start:DateTime64(6)}, end = {end:DateTime64(6)}, severities = {severities:Array(String)},
                     rules = {rules:Array(String)}, identity = {identity:String})
    WHERE srcIP != ''
    GROUP BY srcIP
    ORDER BY findings DESC, srcIP
    LIMIT {top:UInt32}
)
SELECT found.*, geo.organization, geo.country
FROM found
LEFT JOIN
(
    SELECT srcIP, any(srcASOrganization) AS organization, any(srcASCountryCode) AS country
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND srcIP IN (SELECT srcIP FROM found)
    GROUP BY srcIP
) AS geo USING srcIP
ORDER BY findings DESC, srcIP
