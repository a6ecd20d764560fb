-- volume: what the audit log holds in [start, end): events (one per stage logged) and bytes (each event's
-- JSON as logged, length(rawLog)) by authenticated user, verb, resource, level and stage, the {top:UInt32}
-- largest of each, and the total with the time it spans (for a monthly estimate). Run by `loader volume`
-- (loader/investigate/volume.py):
--   clickhouse-client --param_start='2026-01-01 00:00:00' --param_end='2026-01-08 00:00:00' --param_top=10 \
--     --queries-file volume.sql
SELECT
    multiIf(grouping(user) = 0, 'user', grouping(verb) = 0, 'verb', grouping(resource) = 0, 'resource',
            grouping(level) = 0, 'level', grouping(stage) = 0, 'stage', 'total') AS dimension,
    multiIf(dimension = 'user', user, dimension = 'verb', verb, dimension = 'resource', resource,
            dimension = 'level', level, dimension = 'stage', stage, '') AS key,
    count() AS events,
    sum(bytes) AS bytes,
    min(eventTime) AS firstSeen,
    max(eventTime) AS lastSeen
FROM
(
    SELECT
        `user.username` AS user,
        verb,
        -- kubectl's spelling: pods/exec, deployments.apps, leases.coordination.k8s.io; a URL path otherwise
        if(`objectRef.resource` = '', path(requestURI),
           concat(`objectRef.resource`,
                  if(tags['objectRef.apiGroup'] NOT IN ('', 'core'), concat('.', tags['objectRef.apiGroup']), ''),
                  if(tags['objectRef.subresource'] != '', concat('/', tags['objectRef.subresource']), ''))) AS resource,
        level,
        stage,
        length(rawLog) AS bytes,
        eventTime
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
)
GROUP BY GROUPING SETS ((user), (verb), (resource), (level), (stage), ())
ORDER BY dimension, bytes DESC, key
LIMIT {top:UInt32} BY dimension
