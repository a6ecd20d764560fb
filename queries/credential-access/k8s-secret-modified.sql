-- id: k8s-secret-modified
-- title: Secret created, changed or deleted
-- description: A non-system identity creates, changes or deletes a Secret. Attackers plant credentials (registry auth, webhook TLS keys, SA tokens) or destroy them; Helm release records (sh.helm.release.*) are left out.
-- severity: low
-- mitre: T1552.007, T1098, T1485
-- operations: create-secrets, update-secrets, patch-secrets, delete-secrets, deletecollection-secrets
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Deployments and GitOps sync create secrets all day; tune by identity and namespace, and read with the namespace column.
-- references: https://attack.mitre.org/techniques/T1552/007/, https://kubernetes.io/docs/concepts/configuration/secret/, https://github.com/SigmaHQ/sigma/blob/master/rules/application/kubernetes/audit/kubernetes_audit_secrets_modified_or_deleted.yml
-- note: Check the secret's type and namespace: a service-account-token, dockerconfigjson or webhook TLS
--   secret written by a person is worth a closer look, app config from the deploy pipeline is not. Compare
--   the actor with the namespace's usual deployers over the previous week with `loader sql`; for deletes,
--   check whether the owning workload broke afterwards.
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.namespace` AS namespace,
    if(`objectRef.name` != '', `objectRef.name`, resources[1]) AS name,
    `responseStatus.code` AS code
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-secrets', 'update-secrets', 'patch-secrets', 'delete-secrets', 'deletecollection-secrets')
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  AND NOT startsWith(`objectRef.name`, 'sh.helm.release.')
  -- the control plane's own identities (controllers, kubelets, scheduler) do this all day
  AND NOT (startsWith(actor['username'], 'system:serviceaccount:kube-system:') OR startsWith(actor['username'], 'system:node:')
           OR actor['username'] IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver', 'system:kube-proxy'))
ORDER BY eventTime
