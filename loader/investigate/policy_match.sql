-- policy_match: under which rule of an audit Policy each event in [start, end) falls, as the API server picks
-- it: the first rule whose users, userGroups, verbs and resources or nonResourceURLs all match (audit.k8s.io/v1
-- semantics; namespaces and resourceNames are not used here), and the bytes the event would keep: none at
-- level None or in an omitted stage, its JSON without the bodies at Metadata, without the response at Request.
-- Rule i is {rules}[i] = (users, userGroups, verbs, resources as 'group|resource', nonResourceURLs) at level
-- {levels}[i]; rule 0 means none matched (the event would not be logged). Run by loader/investigate/volume.py.
SELECT
    id,
    eventID,
    level,
    stage,
    bytes,
    has({omit_stages:Array(String)}, stage) AS omitted,
    arrayFirstIndex(r ->
        (empty(r.1) OR has(r.1, `user.username`))
        AND (empty(r.2) OR hasAny(r.2, `user.groups`))
        AND (empty(r.3) OR has(r.3, verb))
        AND multiIf(
            notEmpty(r.4), `objectRef.resource` != '' AND arrayExists(gr ->
                splitByChar('|', gr)[1] = apiGroup
                AND (splitByChar('|', gr)[2] IN ('', '*', combined)
                     OR (subresource != '' AND splitByChar('|', gr)[2] = concat('*/', subresource))
                     OR splitByChar('|', gr)[2] = concat(`objectRef.resource`, '/*')), r.4),
            notEmpty(r.5), `objectRef.resource` = '' AND arrayExists(u ->
                u IN ('*', path(requestURI))
                OR (endsWith(u, '*') AND startsWith(path(requestURI), substring(u, 1, length(u) - 1))), r.5),
            true),
        {rules:Array(Tuple(Array(String), Array(String), Array(String), Array(String), Array(String)))}) AS rule,
    if(rule = 0, '', {levels:Array(String)}[rule]) AS target,
    multiIf(omitted OR target IN ('', 'None'), toInt64(0),
            target = 'Metadata', bytes - requestBytes - responseBytes,
            target = 'Request', bytes - responseBytes,
            bytes) AS keptBytes
FROM
(
    SELECT
        id, eventID, level, stage, `user.username`, `user.groups`, verb, `objectRef.resource`, requestURI,
        if(tags['objectRef.apiGroup'] = 'core', '', tags['objectRef.apiGroup']) AS apiGroup,
        tags['objectRef.subresource'] AS subresource,
        concat(`objectRef.resource`, if(subresource != '', concat('/', subresource), '')) AS combined,
        toInt64(length(rawLog)) AS bytes,  -- one signed type for every branch of keptBytes
        toInt64(if(level IN ('Request', 'RequestResponse'), length(JSONExtractRaw(rawLog, 'requestObject')), 0)) AS requestBytes,
        toInt64(if(level = 'RequestResponse', length(JSONExtractRaw(rawLog, 'responseObject')), 0)) AS responseBytes
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
)
