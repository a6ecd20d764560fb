-- id: k8s-pod-exec
-- title: Exec or attach into a pod
-- description: Someone ran a command in, or attached to, a running container through the API server
--   (kubectl exec / attach). The command decoded from requestURI is in detail.
-- severity: medium
-- mitre: T1609, T1059
-- operations: create-pods-exec, get-pods-exec, create-pods-attach, get-pods-attach
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Operators debugging workloads, CI smoke tests and operators that exec for backups;
--   exclude them by user with the excluded_users parameter.
-- references: https://attack.mitre.org/techniques/T1609/, https://kubernetes.io/docs/tasks/debug/debug-application/get-shell-running-container/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/execution_user_exec_to_pod.toml
-- note: Read the decoded command in detail and check whether the user usually execs into this namespace and
--   from this source IP. Look for follow-up activity by the same user (cp, port-forward, secret reads) with
--   `loader sql`; add operators and CI identities to excluded_users.
-- param excluded_users: Array(String) = []
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    tags['objectRef.subresource'] AS verb,
    concat(`objectRef.namespace`, '/', `objectRef.name`) AS object,
    arrayStringConcat(k8sExecArgv(requestURI), ' ') AS detail,
    `responseStatus.code` AS code
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-pods-exec', 'get-pods-exec', 'create-pods-attach', 'get-pods-attach')
  AND `annotations.authorization.k8s.io.decision` != 'forbid'
  AND NOT has({excluded_users:Array(String)}, actor['username'])
ORDER BY eventTime
LIMIT 1 BY eventID
