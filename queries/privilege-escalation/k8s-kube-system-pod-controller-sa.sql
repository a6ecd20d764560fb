-- id: k8s-kube-system-pod-controller-sa
-- title: Pod in kube-system runs as a controller service account
-- description: A pod or workload in kube-system is created with serviceAccountName set to one of kube-controller-manager's controller service accounts (clusterrole-aggregation-controller, namespace-controller, generic-garbage-collector, ...). Those accounts are only used inside the controller manager; a pod that mounts their token gets their cluster-wide rights (clusterrole-aggregation-controller can escalate to any role).
-- severity: high
-- mitre: T1078.001, T1528, T1610
-- operations: create-pods, update-pods, patch-pods, create-deployments, update-deployments, patch-deployments, create-daemonsets, update-daemonsets, patch-daemonsets, create-statefulsets, update-statefulsets, patch-statefulsets, create-replicasets, update-replicasets, patch-replicasets, create-jobs, update-jobs, patch-jobs, create-cronjobs, update-cronjobs, patch-cronjobs, create-replicationcontrollers, update-replicationcontrollers, patch-replicationcontrollers
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: None expected: controller service accounts never run in pods. Managed control planes that run controllers as pods use other account names.
-- references: https://attack.mitre.org/techniques/T1078/001/, https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/privilege_escalation_suspicious_assignment_of_controller_service_account.toml
-- note: Check who created the pod, from which source IP and with what image and command, then delete it and
--   treat that controller service account's token as exposed. Requests by the controller service account from
--   other source IPs or user agents than kube-controller-manager's confirm the token was used.
-- enabled: true
WITH
    ['attachdetach-controller', 'certificate-controller', 'clusterrole-aggregation-controller', 'cronjob-controller', 'daemon-set-controller', 'deployment-controller', 'disruption-controller', 'endpoint-controller', 'endpointslice-controller', 'ephemeral-volume-controller', 'expand-controller', 'generic-garbage-collector', 'horizontal-pod-autoscaler', 'job-controller', 'namespace-controller', 'node-controller', 'persistent-volume-binder', 'pod-garbage-collector', 'pv-protection-controller', 'pvc-protection-controller', 'replicaset-controller', 'replication-controller', 'resourcequota-controller', 'root-ca-cert-publisher', 'service-account-controller', 'service-controller', 'statefulset-controller', 'token-cleaner', 'ttl-after-finished-controller', 'ttl-controller', 'bootstrap-signer', 'legacy-service-account-token-cleaner'] AS controllers,
    [JSONExtractString(rawLog, 'requestObject', 'spec', 'serviceAccountName'),
     JSONExtractString(rawLog, 'requestObject', 'spec', 'serviceAccount'),
     JSONExtractString(rawLog, 'requestObject', 'spec', 'template', 'spec', 'serviceAccountName'),
     JSONExtractString(rawLog, 'requestObject', 'spec', 'jobTemplate', 'spec', 'template', 'spec', 'serviceAccountName')] AS accounts,
    arrayDistinct(arrayFilter(a -> has(controllers, a), accounts)) AS found
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    `objectRef.namespace` AS namespace,
    `objectRef.resource` AS resource,
    resources[1] AS object,
    arrayStringConcat(found, ',') AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-pods', 'update-pods', 'patch-pods', 'create-deployments', 'update-deployments', 'patch-deployments', 'create-daemonsets', 'update-daemonsets', 'patch-daemonsets', 'create-statefulsets', 'update-statefulsets', 'patch-statefulsets', 'create-replicasets', 'update-replicasets', 'patch-replicasets', 'create-jobs', 'update-jobs', 'patch-jobs', 'create-cronjobs', 'update-cronjobs', 'patch-cronjobs', 'create-replicationcontrollers', 'update-replicationcontrollers', 'patch-replicationcontrollers')
  AND `objectRef.namespace` = 'kube-system'
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  AND notEmpty(found)
ORDER BY eventTime
