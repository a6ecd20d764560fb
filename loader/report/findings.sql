-- findings: the findings listed one by one, most severe and most recent first, each with a sample of its
-- events' ids ({per} of them) and how many it holds.
SELECT
    rule,
    severity,
    fingerprint,
    eventTime,
    detectedAt,
    user,
    srcIP,
    detail,
    object,
    length(eventIDs) AS events,
    arraySlice(eventIDs, 1, {per:UInt32}) AS sample
FROM report_findings(start = {start:DateTime64(6)}, end = {end:DateTime64(6)}, severities = {severities:Array(String)},
                     rules = {rules:Array(String)}, identity = {identity:String})
ORDER BY indexOf(['critical', 'high', 'medium', 'low', 'informational'], severity), eventTime DESC, fingerprint
LIMIT {top:UInt32}
