-- streams: the audit log in [start, end) split as an audit Policy rule can name a part of it: who (a user;
-- the group system:nodes for kubelets, system:unauthenticated for requests without credentials), the verb,
-- and the API group and resource (with subresource) or the URL path. The {top:UInt32} streams with the most
-- bytes, each with its events, bytes and the bytes of its request and response bodies (what a lower level
-- saves), the highest level it is logged at, whether it is a system component's (a user or group starting
-- with one of {components:Array(String)}, or a credential-less probe of a URL: the only streams
-- `loader volume` proposes to drop), and which rules found its events: {watched_ids:Array(String)} are the
-- events of their findings, {watched_rules:Array(String)} the rule ids (comma-separated) of each.
SELECT
    principal,
    verb,
    apiGroup,
    resource,
    url,
    if(resource != '', concat(verb, '-', replaceOne(resource, '/', '-')), concat(verb, '-', url)) AS operation,
    toBool(arrayExists(p -> startsWith(principal, p), {components:Array(String)})
           OR (principal IN ('system:anonymous', 'system:unauthenticated') AND url != '')) AS component,
    count() AS events,
    sum(bytes) AS bytes,
    sum(requestBytes) AS requestBytes,
    sum(responseBytes) AS responseBytes,
    ['', 'Metadata', 'Request', 'RequestResponse'][max(levelRank) + 1] AS level,
    arrayFilter(r -> r != '', arrayDistinct(arrayFlatten(groupUniqArray(splitByChar(',', watchedBy))))) AS watchedBy
FROM
(
    SELECT
        multiIf(has(`user.groups`, 'system:nodes') AND startsWith(`user.username`, 'system:node:'), 'system:nodes',
                `user.username` = '', 'system:unauthenticated', `user.username`) AS principal,
        verb,
        if(tags['objectRef.apiGroup'] = 'core', '', tags['objectRef.apiGroup']) AS apiGroup,
        concat(`objectRef.resource`, if(tags['objectRef.subresource'] != '', concat('/', tags['objectRef.subresource']), '')) AS resource,
        if(`objectRef.resource` = '', path(requestURI), '') AS url,
        length(rawLog) AS bytes,
        -- the bodies exist only at these levels: no JSON is parsed for Metadata events
        if(level IN ('Request', 'RequestResponse'), length(JSONExtractRaw(rawLog, 'requestObject')), 0) AS requestBytes,
        if(level = 'RequestResponse', length(JSONExtractRaw(rawLog, 'responseObject')), 0) AS responseBytes,
        indexOf(['Metadata', 'Request', 'RequestResponse'], level) AS levelRank,
        if(eventID IN {watched_ids:Array(String)}, transform(eventID, {watched_ids:Array(String)}, {watched_rules:Array(String)}, ''), '') AS watchedBy
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
)
GROUP BY principal, verb, apiGroup, resource, url
ORDER BY bytes DESC, principal, verb, apiGroup, resource, url
LIMIT {top:UInt32}
