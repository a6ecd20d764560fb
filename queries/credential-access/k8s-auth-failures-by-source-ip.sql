-- id: k8s-auth-failures-by-source-ip
-- title: Burst of unauthenticated or denied requests from one source IP
-- description: One source address received at least `threshold` 401/403 responses within
--   `bucket_minutes`, whatever identity it claimed: token guessing, credential stuffing or an
--   unauthenticated scanner sweeping the API server.
-- severity: medium
-- mitre: T1110, T1595
-- operations: *
-- mode: aggregate
-- level: Metadata
-- window: 1h
-- false_positives: A NAT gateway or load balancer in front of many clients (all share one address);
--   a misconfigured client with an expired token retrying.
-- references: https://attack.mitre.org/techniques/T1110/, https://attack.mitre.org/techniques/T1595/, https://kubernetes.io/docs/reference/access-authn-authz/authentication/
-- note: Check whether the source IP is internal, a known NAT or load balancer, or an internet address, and
--   which identities it presented (anonymous, tokens, certificates). A successful request from the same IP
--   after the burst is the key follow-up: query it with `loader sql` on srcIP. Raise threshold for addresses
--   that front many clients.
-- param threshold: UInt32 = 20
-- param bucket_minutes: UInt32 = 10
-- enabled: true
SELECT firstSeen AS eventTime, * EXCEPT firstSeen
FROM (
    SELECT
        min(eventTime) AS firstSeen,
        groupUniqArray(100)(eventID) AS eventIDs,
        srcIP,
        toStartOfInterval(eventTime, toIntervalMinute({bucket_minutes:UInt32})) AS bucket,
        arrayStringConcat(groupUniqArray(5)(actor['username']), ',') AS user,
        any(userAgent) AS userAgent,
        uniqExact(eventID) AS count,
        uniqExactIf(eventID, `responseStatus.code` = 401) AS unauthenticated,
        arrayStringConcat(groupUniqArray(10)(eventName), ', ') AS detail
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND `responseStatus.code` IN (401, 403)
      AND srcIP != ''
    GROUP BY srcIP, bucket
    HAVING count >= {threshold:UInt32}
)
ORDER BY eventTime
