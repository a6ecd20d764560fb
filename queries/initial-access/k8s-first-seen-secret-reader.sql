-- id: k8s-first-seen-secret-reader
-- title: Secrets read from a never-seen identity, user agent and source IP combination
-- description: An identity that read secrets during the baseline did so in the window from a (user agent,
--   source IP) combination it never used for secret reads in the `baseline_days` before: the same
--   service account token used by curl from a laptop, a user's kubeconfig replayed from a new host.
-- severity: medium
-- mitre: T1552.007, T1078
-- operations: get-secrets, list-secrets, watch-secrets
-- mode: baseline
-- level: Metadata
-- window: 1h
-- false_positives: Client upgrades change the user agent (kubectl/v1.29 -> v1.30); pods rescheduled to new IPs.
--   Review the user-agent column before the IP.
-- references: https://attack.mitre.org/techniques/T1552/007/, https://attack.mitre.org/techniques/T1078/, https://kubernetes.io/docs/concepts/configuration/secret/
-- note: Check the new user agent and source IP: an upgraded client from the usual network is benign, a
--   service account token used by curl or kubectl from a non-pod address is not. Review what else the
--   identity did from the new combination with `loader sql`; baseline_days sets how far back the comparison
--   reaches.
-- param baseline_days: UInt32 = 7
-- param exclude_prefixes: Array(String) = ['system:node:', 'system:kube-', 'system:apiserver', 'system:serviceaccount:kube-system:']
-- enabled: true
WITH recent AS (
    SELECT actor['username'] AS user, userAgent, srcIP, min(eventTime) AS firstSeen,
           groupUniqArray(100)(eventID) AS ids, uniqExact(eventID) AS n,
           arrayStringConcat(arraySlice(groupUniqArray(concat(verb, ' ', `objectRef.resource`, ' ', `objectRef.namespace`, '/', `objectRef.name`)), 1, 10), ', ') AS what
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND eventName IN ('get-secrets', 'list-secrets', 'watch-secrets')
      AND stage != 'RequestReceived'
      AND `responseStatus.code` BETWEEN 200 AND 399
      AND NOT arrayExists(p -> startsWith(actor['username'], p), {exclude_prefixes:Array(String)})
    GROUP BY user, userAgent, srcIP
), history AS (
    SELECT actor['username'] AS user, userAgent, srcIP
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} - toIntervalDay({baseline_days:UInt32})
      AND eventTime < {start:DateTime64(6)}
      AND eventName IN ('get-secrets', 'list-secrets', 'watch-secrets')
      AND `responseStatus.code` BETWEEN 200 AND 399
)
SELECT firstSeen AS eventTime, ids AS eventIDs, user, srcIP, userAgent, n AS count, what AS detail
FROM recent
WHERE (user, userAgent, srcIP) NOT IN (SELECT user, userAgent, srcIP FROM history)
  -- an identity with no history at all is new, not changed: the RBAC and workload rules cover it
  AND user IN (SELECT user FROM history)
ORDER BY eventTime
