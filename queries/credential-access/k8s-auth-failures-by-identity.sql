-- id: k8s-auth-failures-by-identity
-- title: Burst of denied requests for one identity
-- description: One identity received at least `threshold` 401/403 responses within `bucket_minutes`:
--   a stolen credential probing what it may do, a brute-force of permissions, or a broken deployment.
-- severity: medium
-- mitre: T1110, T1613
-- operations: *
-- mode: aggregate
-- level: Metadata
-- window: 1h
-- false_positives: Misconfigured workloads retrying a forbidden call in a loop (the detail column
--   shows one repeated operation then); controllers during an RBAC rollout.
-- references: https://attack.mitre.org/techniques/T1110/, https://attack.mitre.org/techniques/T1613/, https://kubernetes.io/docs/reference/access-authn-authz/authorization/
-- note: Look at the detail column: one repeated operation points to a broken workload, many different verbs
--   and resources point to someone probing a token. Check the identity's source IPs and user agent and what
--   it did successfully right after the burst (`loader sql` on actor['username'] around eventTime); raise
--   threshold or bucket_minutes for noisy clusters.
-- param threshold: UInt32 = 10
-- param bucket_minutes: UInt32 = 10
-- enabled: true
SELECT firstSeen AS eventTime, * EXCEPT firstSeen
FROM (
    SELECT
        min(eventTime) AS firstSeen,
        groupUniqArray(100)(eventID) AS eventIDs,
        actor['username'] AS user,
        toStartOfInterval(eventTime, toIntervalMinute({bucket_minutes:UInt32})) AS bucket,
        arrayStringConcat(groupUniqArray(5)(srcIP), ',') AS srcIP,
        any(userAgent) AS userAgent,
        uniqExact(eventID) AS count,
        uniqExact(eventName) AS operations,
        arrayStringConcat(groupUniqArray(10)(eventName), ', ') AS detail
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND `responseStatus.code` IN (401, 403)
      AND actor['username'] != ''
    GROUP BY user, bucket
    HAVING count >= {threshold:UInt32}
)
ORDER BY eventTime
