-- identity_events: one identity's own requests in the window, the latest first (the console's identity
-- page), each with the rules whose findings (report_findings, same filters) hold it.
WITH
    flagged AS
    (
        SELECT eventID, arraySort(groupUniqArray(rule)) AS rules
        FROM
        (
            SELECT arrayJoin(eventIDs) AS eventID, rule
            FROM report_findings(start = {start:DateTime64(6)}, end = {end:DateTime64(6)}, severities = {severities:Array(String)},
                                 rules = {rules:Array(String)}, identity = {identity:String})
        )
        GROUP BY eventID
    ),
    requests AS
    (
        SELECT * EXCEPT user
        FROM report_events
        WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)} AND user = {identity:String}
        ORDER BY eventTime DESC
        LIMIT 1 BY eventID
        LIMIT {top:UInt32}
    )
SELECT requests.*, flagged.rules
FROM requests
LEFT JOIN flagged USING eventID
ORDER BY eventTime DESC, eventID
