-- id: k8s-impersonation-used
-- title: Impersonation in use (who acts as whom)
-- description: One row per (authenticated user, impersonated user) pair that made requests with
--   impersonation headers in the window, with counts and denials. Impersonation hides the real actor
--   behind another identity in most tools that only read user.username; this hunt puts them side by side.
-- severity: low
-- mitre: T1134.001
-- operations: *
-- mode: aggregate
-- level: Metadata
-- window: 24h
-- false_positives: Authenticating proxies and admins testing permissions with kubectl --as.
-- references: https://attack.mitre.org/techniques/T1134/001/, https://kubernetes.io/docs/reference/access-authn-authz/authentication/
-- note: For each pair, check that the authenticated user is a known proxy or an admin allowed to impersonate,
--   and that the impersonated identity is one it is expected to act as. Follow the impersonated requests and
--   their denials with `loader sql` on actor['impersonatedUsername']; impersonation of service accounts or
--   system: identities deserves a look.
-- param exclude_users: Array(String) = []
-- enabled: true
SELECT firstSeen AS eventTime, * EXCEPT firstSeen
FROM (
    SELECT
        min(eventTime) AS firstSeen,
        groupUniqArray(100)(eventID) AS eventIDs,
        actor['authenticatedUsername'] AS user,
        actor['impersonatedUsername'] AS impersonated,
        any(actor['groups']) AS groups,
        groupUniqArray(10)(srcIP) AS srcIPs,
        uniqExact(eventID) AS count,
        uniqExactIf(eventID, `responseStatus.code` IN (401, 403)) AS denied,
        arrayStringConcat(groupUniqArray(20)(eventName), ', ') AS detail
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND mapContains(actor, 'impersonatedUsername')  -- idx_actor_keys skips granules without impersonation
      AND NOT has({exclude_users:Array(String)}, actor['authenticatedUsername'])
    GROUP BY user, impersonated
)
ORDER BY eventTime
