-- timeline: every request of one actor, source address, namespace or object in [start, end), in order, one
-- row per request (the stages of one auditID collapsed to the last one logged), grouped into sessions: a
-- gap of more than {gap_minutes} minutes since the previous request starts a new one. Each row says whether
-- it was denied, who acted as whom when impersonating, the pod, container and decoded command of an
-- exec / attach / port-forward, and the findings (the detections table) that hold the event.
-- Run by `loader timeline` (loader/investigate/timeline.py); an empty filter parameter matches everything:
--   clickhouse-client --param_start='2026-01-01 00:00:00' --param_end='2026-01-02 00:00:00' \
--     --param_actor='alice@example.com' --param_ip='' --param_namespace='' --param_resources='[]' \
--     --param_object_namespace='' --param_object_name='' --param_gap_minutes=30 --queries-file timeline.sql
WITH
    requests AS
    (
        SELECT
            if(eventID != '', eventID, id) AS request,
            eventTime,
            requestReceivedTimestamp,
            actor['username'] AS user,
            actor['authenticatedUsername'] AS authenticatedUser,
            actor['impersonatedUsername'] AS impersonatedUser,
            srcIP,
            userAgent,
            verb,
            `objectRef.resource` AS resource,
            tags['objectRef.subresource'] AS subresource,
            `objectRef.namespace` AS namespace,
            -- a create names its object in the body, not the URL: resources[1] (050_flatten.sql) has it then
            if(`objectRef.name` != '', `objectRef.name`,
               splitByChar('/', resources[1])[indexOf(splitByChar('/', resources[1]), `objectRef.resource`) + 1]) AS name,
            requestURI,
            stage,
            `responseStatus.code` AS code,
            toBool(`responseStatus.code` IN (401, 403) OR `annotations.authorization.k8s.io.decision` = 'forbid') AS denied,
            if(denied, if(tags['responseStatus.message'] != '', tags['responseStatus.message'],
                          `annotations.authorization.k8s.io.reason`), '') AS deniedReason,
            subresource IN ('exec', 'attach', 'portforward') AS interactive,
            if(interactive, k8sExecArgv(requestURI), []) AS command,
            if(interactive, extractURLParameter(requestURI, 'container'), '') AS container,
            if(subresource = 'portforward', arrayStringConcat(extractAll(requestURI, '[?&]ports=([^&]*)'), ','), '') AS ports
        FROM kubernetes_audit_logs
        WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
          AND ({actor:String} = '' OR actor['username'] = {actor:String} OR `user.username` = {actor:String}
               OR actor['serviceAccount'] = {actor:String})
          AND ({ip:String} = '' OR has(sourceIPs, {ip:String}))
          AND ({namespace:String} = '' OR `objectRef.namespace` = {namespace:String}
               OR (`objectRef.resource` = 'namespaces' AND name = {namespace:String}))
          AND (empty({resources:Array(String)})
               OR (has({resources:Array(String)}, `objectRef.resource`) AND `objectRef.namespace` = {object_namespace:String}
                   AND name = {object_name:String}))
        -- the last stage logged of each request: ResponseComplete (or Panic) over ResponseStarted over RequestReceived
        ORDER BY request, multiIf(stage = 'RequestReceived', 0, stage = 'ResponseStarted', 1, 2) DESC
        LIMIT 1 BY request
    ),
    findings AS
    (
        SELECT request, groupArray((rule, severity, suppressedBy)) AS findings
        FROM
        (
            SELECT arrayJoin(eventIDs) AS request, rule, severity, suppressedBy
            FROM detections FINAL
            WHERE eventTime < {end:DateTime64(6)}
        )
        WHERE request IN (SELECT request FROM requests)
        GROUP BY request
    )
SELECT
    sum(newSession) OVER (ORDER BY eventTime, requestReceivedTimestamp, request ROWS UNBOUNDED PRECEDING) AS session,
    * EXCEPT (newSession, interactive)
FROM
(
    SELECT
        requests.*,
        findings.findings AS findings,
        -- the first row's previous time is the default 1970-01-01: it starts session 1
        dateDiff('second', lagInFrame(eventTime) OVER (ORDER BY eventTime, requestReceivedTimestamp, request
                                                       ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), eventTime)
            > {gap_minutes:UInt32} * 60 AS newSession
    FROM requests
    LEFT JOIN findings USING request
)
ORDER BY eventTime, requestReceivedTimestamp, request
