-- id: k8s-deployment-deleted
-- title: Deployment deleted
-- description: A Deployment (or all Deployments of a namespace) is deleted by a non-system identity: service disruption, or cleanup of an attacker's own workload.
-- severity: low
-- mitre: T1485, T1489
-- operations: delete-deployments, deletecollection-deployments
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Routine tear-down of preview environments and GitOps pruning; tune by identity or namespace.
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
    `responseStatus.code` AS code
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('delete-deployments', 'deletecollection-deployments')
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  -- the control plane's own identities (controllers, kubelets, scheduler) do this all day
  AND NOT (startsWith(actor['username'], 'system:serviceaccount:kube-system:') OR startsWith(actor['username'], 'system:node:')
           OR actor['username'] IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver', 'system:kube-proxy'))
ORDER BY eventTime
