-- id: k8s-secrets-listed-broadly
-- title: Secrets listed cluster-wide or in kube-system
-- description: A non-system identity lists or watches secrets across all namespaces or in kube-system. A list returns every secret's data at once: the fastest credential harvest in a cluster.
-- severity: medium
-- mitre: T1552.007, T1528
-- operations: list-secrets, watch-secrets
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Secret-syncing operators (external-secrets, sealed-secrets, cert-manager, Argo CD) watch secrets cluster-wide; exclude their service accounts.
-- references: https://attack.mitre.org/techniques/T1552/007/, https://kubernetes.io/docs/concepts/security/secrets-good-practices/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/credential_access_kubernetes_secrets_list_cluster_and_sensitive_namespaces.toml
-- note: A list returns every secret's data, so a malicious hit exposes all secrets in scope (the whole
--   cluster when the namespace is empty). Check the identity's usual behaviour, source IP and user agent, and
--   whether any exposed token is used afterwards; exclude secret-syncing operators by identity.
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    if(`objectRef.namespace` = '', '(all namespaces)', `objectRef.namespace`) AS namespace,
    `responseStatus.code` AS code
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('list-secrets', 'watch-secrets')
  AND `objectRef.namespace` IN ('', 'kube-system')
  AND stage != 'RequestReceived' AND `responseStatus.code` BETWEEN 200 AND 299
  -- the control plane's own identities (controllers, kubelets, scheduler) do this all day
  AND NOT (startsWith(actor['username'], 'system:serviceaccount:kube-system:') OR startsWith(actor['username'], 'system:node:')
           OR actor['username'] IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver', 'system:kube-proxy'))
ORDER BY eventTime
LIMIT 1 BY eventID
