-- id: k8s-long-lived-sa-token-secret
-- title: Long-lived service account token secret created
-- description: A Secret of type kubernetes.io/service-account-token is created by a non-system identity. The token controller fills it with a non-expiring token for the annotated service account: a persistence trick that survives pod restarts and TokenRequest expiry.
-- severity: medium
-- mitre: T1528, T1098.001
-- operations: create-secrets, update-secrets, patch-secrets
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Legacy tooling (older CI plugins, dashboards) that still asks for token secrets.
-- references: https://attack.mitre.org/techniques/T1528/, https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/, https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/
-- note: Check which service account the kubernetes.io/service-account.name annotation names and what it is
--   bound to; a token for a kube-system or admin-bound account is critical. Look for reads of the new secret
--   and for that service account used from outside the cluster afterwards; deleting the secret invalidates
--   the token.
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    `objectRef.namespace` AS namespace,
    if(`objectRef.name` != '', `objectRef.name`, JSONExtractString(rawLog, 'requestObject', 'metadata', 'name')) AS name,
    JSONExtractString(rawLog, 'requestObject', 'metadata', 'annotations', 'kubernetes.io/service-account.name') AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-secrets', 'update-secrets', 'patch-secrets')
  AND JSONExtractString(rawLog, 'requestObject', 'type') = 'kubernetes.io/service-account-token'
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  -- the control plane's own identities (controllers, kubelets, scheduler) do this all day
  AND NOT (startsWith(actor['username'], 'system:serviceaccount:kube-system:') OR startsWith(actor['username'], 'system:node:')
           OR actor['username'] IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver', 'system:kube-proxy'))
ORDER BY eventTime
