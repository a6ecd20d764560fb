-- id: k8s-anonymous-workload-change
-- title: Anonymous identity creates, changes or execs into workloads
-- description: An unauthenticated request (system:anonymous or group system:unauthenticated) is allowed to create, change, delete or exec into a pod or workload. The API server grants anonymous nothing by default: this means a binding handed it rights, which is how exposed clusters get cryptominers.
-- severity: critical
-- mitre: T1190, T1078.001, T1610
-- operations: create-pods, update-pods, patch-pods, delete-pods, create-deployments, update-deployments, patch-deployments, delete-deployments, create-daemonsets, update-daemonsets, patch-daemonsets, delete-daemonsets, create-statefulsets, update-statefulsets, patch-statefulsets, delete-statefulsets, create-replicasets, update-replicasets, patch-replicasets, delete-replicasets, create-jobs, update-jobs, patch-jobs, delete-jobs, create-cronjobs, update-cronjobs, patch-cronjobs, delete-cronjobs, create-replicationcontrollers, update-replicationcontrollers, patch-replicationcontrollers, delete-replicationcontrollers, create-pods-exec, get-pods-exec, create-pods-attach, get-pods-attach
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: None: anonymous write access is always a misconfiguration.
-- references: https://attack.mitre.org/techniques/T1190/, https://attack.mitre.org/techniques/T1610/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/execution_anonymous_create_update_patch_pod_request.toml
-- note: Treat as an incident: remove the binding that grants anonymous access, list everything
--   system:anonymous created or exec'd into, and delete those workloads (cryptominers are typical). Check the
--   source IPs and images, and whether the API server is reachable from the internet.
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.namespace` AS namespace,
    `objectRef.resource` AS resource,
    resources[1] AS object,
    `responseStatus.code` AS code
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-pods', 'update-pods', 'patch-pods', 'delete-pods', 'create-deployments', 'update-deployments', 'patch-deployments', 'delete-deployments', 'create-daemonsets', 'update-daemonsets', 'patch-daemonsets', 'delete-daemonsets', 'create-statefulsets', 'update-statefulsets', 'patch-statefulsets', 'delete-statefulsets', 'create-replicasets', 'update-replicasets', 'patch-replicasets', 'delete-replicasets', 'create-jobs', 'update-jobs', 'patch-jobs', 'delete-jobs', 'create-cronjobs', 'update-cronjobs', 'patch-cronjobs', 'delete-cronjobs', 'create-replicationcontrollers', 'update-replicationcontrollers', 'patch-replicationcontrollers', 'delete-replicationcontrollers', 'create-pods-exec', 'get-pods-exec', 'create-pods-attach', 'get-pods-attach')
  AND (actor['username'] = 'system:anonymous' OR has(splitByChar(',', actor['groups']), 'system:unauthenticated'))
  AND stage != 'RequestReceived' AND `responseStatus.code` BETWEEN 100 AND 399
ORDER BY eventTime
LIMIT 1 BY eventID
