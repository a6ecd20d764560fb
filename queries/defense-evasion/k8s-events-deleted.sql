-- id: k8s-events-deleted
-- title: Kubernetes events deleted
-- description: Someone deleted Event objects (core or events.k8s.io). Events record scheduling,
--   pulls, kills and failures; deleting them erases the cluster's own account of what an attacker's
--   pods did. Events expire on their own (TTL, no audit record), so explicit deletes are rare.
-- severity: medium
-- mitre: T1070
-- operations: delete-events, deletecollection-events
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: The namespace controller deleting a namespace's events (excluded); tools that
--   clean up noisy events.
-- param exclude_users: Array(String) = ['system:serviceaccount:kube-system:namespace-controller']
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.namespace` AS namespace,
    `objectRef.name` AS name,
    serviceName AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('delete-events', 'deletecollection-events')
  AND `responseStatus.code` BETWEEN 200 AND 399
  AND NOT has({exclude_users:Array(String)}, actor['username'])
