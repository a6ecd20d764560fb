-- id: k8s-anonymous-api-probing
-- title: Unauthenticated probing of API resources from one source
-- description: One source address sent at least `threshold` distinct resource paths (or kubelet-style
--   endpoints such as /metrics, /logs, /debug) without valid credentials (system:anonymous, or a 401
--   for a rejected token) and was refused (401/403) within `bucket_minutes`. This is a scanner or an
--   attacker checking what an exposed API server gives away, caught well below the 20-in-10-minutes
--   burst of k8s-auth-failures-by-source-ip. Health, version and discovery documents (/healthz,
--   /version, /api, /apis/...) are not counted: clients and probes fetch them without credentials.
-- severity: medium
-- mitre: T1595, T1613
-- operations: *
-- mode: aggregate
-- level: Metadata
-- window: 1h
-- false_positives: A client whose token expired walking a few resources (its user agent is a known
--   tool and the source an internal address); external attack-surface scanners you run yourself.
--   Raise threshold or exclude their addresses.
-- references: https://attack.mitre.org/techniques/T1595/, https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/discovery_endpoint_permission_enumeration_by_anonymous_user.toml
-- note: Check whether the same source got any 2xx as system:anonymous (k8s-anonymous-request-allowed)
--   and whether the API server endpoint is reachable from the internet.
-- param threshold: UInt32 = 3
-- param bucket_minutes: UInt32 = 10
-- param sensitive_paths: Array(String) = ['/metrics', '/logs', '/debug', '/configz']
-- param exclude_ips: Array(String) = []
-- enabled: true
SELECT firstSeen AS eventTime, * EXCEPT firstSeen
FROM (
    SELECT
        min(eventTime) AS firstSeen,
        groupUniqArray(100)(eventID) AS eventIDs,
        srcIP,
        toStartOfInterval(eventTime, toIntervalMinute({bucket_minutes:UInt32})) AS bucket,
        arrayStringConcat(groupUniqArray(3)(if(`user.username` = '', '(no valid credentials)', `user.username`)), ',') AS user,
        any(userAgent) AS userAgent,
        uniqExact(path(requestURI)) AS count,
        uniqExact(eventID) AS requests,
        arrayStringConcat(arraySlice(groupUniqArray(path(requestURI)), 1, 10), ', ') AS detail
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      -- the column (bloom-filter indexed), not actor[]: an unauthenticated request cannot impersonate
      AND (`user.username` = 'system:anonymous' OR (`user.username` = '' AND `responseStatus.code` = 401))
      AND stage != 'RequestReceived'
      AND (`responseStatus.code` IN (401, 403) OR `annotations.authorization.k8s.io.decision` = 'forbid')
      AND srcIP != '' AND NOT has({exclude_ips:Array(String)}, srcIP)
      -- resource requests, or sensitive non-resource endpoints; discovery documents and health checks do not count
      AND (`objectRef.resource` != ''
           OR arrayExists(p -> path(requestURI) = p OR startsWith(path(requestURI), concat(p, '/')), {sensitive_paths:Array(String)}))
    GROUP BY srcIP, bucket
    HAVING count >= {threshold:UInt32}
)
ORDER BY eventTime
