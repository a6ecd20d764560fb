-- over_time: findings per time bucket and severity, for the stacked chart. {step} is the bucket in seconds
-- (an hour up to three days, else a day), chosen by loader/report/data.py.
SELECT
    toStartOfInterval(eventTime, toIntervalSecond({step:UInt32})) AS bucket,
    severity,
    count() AS findings
FROM report_findings(start = {start:DateTime64(6)}, end = {end:DateTime64(6)}, severities = {severities:Array(String)},
                     rules = {rules:Array(String)}, identity = {identity:String})
GROUP BY bucket, severity
ORDER BY bucket, severity
