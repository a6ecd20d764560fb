-- id: k8s-exec-into-kube-namespace
-- title: Exec or attach into a pod in a kube-* system namespace
-- description: A non-system identity execs or attaches into a pod in kube-system, kube-public or kube-node-lease: control-plane and add-on pods carry the most privileged service accounts and host mounts of the cluster.
-- severity: high
-- mitre: T1609, T1611
-- operations: create-pods-exec, get-pods-exec, create-pods-attach, get-pods-attach
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Cluster operators debugging CNI or DNS pods; exclude break-glass identities.
-- references: https://attack.mitre.org/techniques/T1609/, https://kubernetes.io/docs/tasks/debug/debug-application/get-shell-running-container/, https://github.com/SigmaHQ/sigma/blob/master/rules/application/kubernetes/audit/kubernetes_audit_exec_into_container.yml
-- note: Check the target pod (CNI, kube-proxy, CoreDNS, cloud controllers) and what it carries: host mounts
--   and service accounts with cluster-wide rights. Review the command in detail and the user's other requests
--   around the time; an exec by a non-operator or from an unusual source IP should be treated as a takeover
--   attempt.
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    `objectRef.namespace` AS namespace,
    `objectRef.name` AS name,
    tags['objectRef.subresource'] AS verb,
    arrayStringConcat(k8sExecArgv(requestURI), ' ') AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-pods-exec', 'get-pods-exec', 'create-pods-attach', 'get-pods-attach')
  AND `objectRef.namespace` IN ('kube-system', 'kube-public', 'kube-node-lease')
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  -- the control plane's own identities (controllers, kubelets, scheduler) do this all day
  AND NOT (startsWith(actor['username'], 'system:serviceaccount:kube-system:') OR startsWith(actor['username'], 'system:node:')
           OR actor['username'] IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver', 'system:kube-proxy'))
ORDER BY eventTime
LIMIT 1 BY eventID
