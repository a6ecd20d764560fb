-- rbac: what one identity asked the API server in [start, end), for `loader rbac suggest` to turn into the
-- least-privilege Role / ClusterRole that allows exactly what it did (loader/investigate/rbac.py).
-- One row per (API group, resource with subresource, verb, namespace, denied) for resource requests, per
-- (URL path, verb, denied) for the others: how many requests, whether every one named its object (the name
-- RBAC's resourceNames can match) and which names. Requests made as {user} count, whoever authenticated
-- (RBAC checks the identity acted as); the right to impersonate {user}'s targets comes as verb 'impersonate'
-- rows on users, groups and serviceaccounts, from the requests {user} made as someone else.
--   clickhouse-client --param_start='2026-01-01 00:00:00' --param_end='2026-02-01 00:00:00' \
--     --param_user='system:serviceaccount:shop:reporter' --param_max_names=10 --queries-file rbac.sql
WITH requests AS
(
    SELECT
        if(eventID != '', eventID, id) AS request,
        eventTime,
        actor['username'] AS user,
        actor['authenticatedUsername'] AS authenticatedUser,
        actor['impersonatedUsername'] AS impersonatedUser,
        actor['groups'] AS groups,
        if(tags['objectRef.apiGroup'] = 'core', '', tags['objectRef.apiGroup']) AS apiGroup,
        concat(`objectRef.resource`, if(tags['objectRef.subresource'] != '', concat('/', tags['objectRef.subresource']), '')) AS resource,
        if(`objectRef.resource` = '', path(requestURI), '') AS url,
        verb,
        `objectRef.namespace` AS namespace,
        `objectRef.name` AS name,
        toBool(`responseStatus.code` IN (401, 403) OR `annotations.authorization.k8s.io.decision` = 'forbid') AS denied
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND (actor['username'] = {user:String} OR `user.username` = {user:String})
      -- a RequestReceived event is not authorized yet: the request's later stage says how it went
      AND stage != 'RequestReceived'
    LIMIT 1 BY request
)
SELECT
    apiGroup, resource, url, verb, namespace, denied,
    uniqExact(request) AS requests,
    toBool(countIf(name = '') = 0) AS named,
    arraySort(groupUniqArray({max_names:UInt32} + 1)(name)) AS names,
    min(eventTime) AS firstSeen,
    max(eventTime) AS lastSeen
FROM requests
WHERE user = {user:String}
GROUP BY apiGroup, resource, url, verb, namespace, denied

UNION ALL

-- impersonation: the right to act as a user (or service account) and with each group it asked for; the
-- groups the API server adds to every identity are not asked for
SELECT
    '' AS apiGroup,
    if(startsWith(target, 'system:serviceaccount:'), 'serviceaccounts', kind) AS resource,
    '' AS url,
    'impersonate' AS verb,
    if(resource = 'serviceaccounts', splitByChar(':', target)[3], '') AS namespace,
    false AS denied,
    uniqExact(request) AS requests,
    true AS named,
    [if(resource = 'serviceaccounts', splitByChar(':', target)[4], target)] AS names,
    min(eventTime) AS firstSeen,
    max(eventTime) AS lastSeen
FROM requests
ARRAY JOIN
    arrayConcat([('users', impersonatedUser)],
                 arrayMap(g -> ('groups', g),
                          arrayFilter(g -> g NOT IN ('', 'system:authenticated', 'system:serviceaccounts')
                                           AND NOT startsWith(g, 'system:serviceaccounts:'), splitByChar(',', groups)))) AS pair
WHERE authenticatedUser = {user:String} AND impersonatedUser != '' AND NOT denied
GROUP BY pair.1 AS kind, pair.2 AS target
