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
-- references: https://attack.mitre.org/techniques/T1070/, https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/defense_evasion_events_deleted.toml
-- note: Look at what the actor did in the minutes before the delete (pods created, execs, secret reads in the
--   same namespace) with `loader sql`: the audit log still holds what the events described. A
--   deletecollection by a person or a non-cleanup service account is the strongest signal; add cleanup tools
--   to exclude_users.
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
