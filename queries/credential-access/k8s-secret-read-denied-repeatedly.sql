-- id: k8s-secret-read-denied-repeatedly
-- title: Repeated denied secret reads by one identity
-- description: One identity gets at least `threshold` 401/403 answers reading secrets within `bucket_minutes`: probing what a stolen credential can reach.
-- severity: medium
-- mitre: T1552.007, T1087.004
-- operations: get-secrets, list-secrets, watch-secrets
-- mode: aggregate
-- level: Metadata
-- window: 1h
-- false_positives: A freshly deployed workload with missing RBAC retries in a loop; its service account shows up until the Role is fixed.
-- references: https://attack.mitre.org/techniques/T1552/007/, https://attack.mitre.org/techniques/T1087/004/, https://kubernetes.io/docs/reference/access-authn-authz/rbac/
-- note: Check whether the identity is a newly deployed workload (a missing Role its owner will recognise) or
--   an established one suddenly asking for secrets it never read. Look at its user agent and source IP and at
--   any successful secret read by it after the denials; raise threshold if deploy-time retries are noisy.
-- param threshold: UInt32 = 5
-- param bucket_minutes: UInt32 = 10
-- enabled: true
SELECT firstSeen AS eventTime, eventIDs, user, srcIP, userAgent, bucket, count, detail
FROM (
    SELECT
        min(eventTime) AS firstSeen,
        groupUniqArray(100)(eventID) AS eventIDs,
        actor['username'] AS user,
        arrayStringConcat(groupUniqArray(5)(srcIP), ',') AS srcIP,
        any(userAgent) AS userAgent,
        toStartOfInterval(eventTime, toIntervalMinute({bucket_minutes:UInt32})) AS bucket,
        uniqExact(eventID) AS count,
        arrayStringConcat(arraySlice(groupUniqArray(concat(verb, ' ', `objectRef.namespace`, '/', `objectRef.name`)), 1, 10), ', ') AS detail
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND eventName IN ('get-secrets', 'list-secrets', 'watch-secrets')
      AND stage != 'RequestReceived' AND `responseStatus.code` IN (401, 403)
    GROUP BY user, bucket
    HAVING count >= {threshold:UInt32}
)
ORDER BY eventTime
