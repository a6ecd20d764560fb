-- events: the sampled events of the listed findings. A finding's events are at most a rule window older
-- than the finding, hence {since}: the earliest finding less a day, which keeps the scan to those partitions.
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
FROM kubernetes_audit_logs
WHERE eventTime >= {since:DateTime64(6)} AND eventID IN {ids:Array(String)}
ORDER BY eventTime
LIMIT 1 BY eventID
