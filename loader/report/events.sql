-- events: the sampled events of the listed findings. A finding's events are at most a rule window older
-- than the finding, hence {since}: the earliest finding less a day, which keeps the scan to those partitions.
SELECT *
FROM report_events
WHERE eventTime >= {since:DateTime64(6)} AND eventID IN {ids:Array(String)}
ORDER BY eventTime
LIMIT 1 BY eventID
