-- id: k8s-sa-created-in-kube-namespace
-- title: Service account created in a kube-* system namespace
-- description: A non-system identity creates a service account in kube-system, kube-public or kube-node-lease, where it blends in with the control plane's own accounts; usually followed by a privileged binding.
-- severity: medium
-- mitre: T1136, T1078.001
-- operations: create-serviceaccounts
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Add-on installs (Helm charts deployed into kube-system by an admin identity).
-- references: https://attack.mitre.org/techniques/T1136/, https://kubernetes.io/docs/concepts/security/service-accounts/, https://github.com/SigmaHQ/sigma/blob/master/rules/application/kubernetes/audit/kubernetes_audit_serviceaccount_creation.yml
-- note: Check whether the account belongs to an add-on install (Helm labels, a known chart) and look for
--   bindings that name it and pods that use it in the following minutes. A service account bound to
--   cluster-admin or another powerful ClusterRole right after its creation is a backdoor.
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    `objectRef.namespace` AS namespace,
    if(`objectRef.name` != '', `objectRef.name`, JSONExtractString(rawLog, 'requestObject', 'metadata', 'name')) AS name
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName = 'create-serviceaccounts'
  AND `objectRef.namespace` IN ('kube-system', 'kube-public', 'kube-node-lease')
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  -- the control plane's own identities (controllers, kubelets, scheduler) do this all day
  AND NOT (startsWith(actor['username'], 'system:serviceaccount:kube-system:') OR startsWith(actor['username'], 'system:node:')
           OR actor['username'] IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver', 'system:kube-proxy'))
ORDER BY eventTime
