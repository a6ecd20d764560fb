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
-- references: https://attack.mitre.org/techniques/T1485/, https://kubernetes.io/docs/concepts/workloads/controllers/deployment/, https://github.com/SigmaHQ/sigma/blob/master/rules/application/kubernetes/audit/kubernetes_audit_deployment_deleted.yml
-- note: Check whether the deletion matches a release, an environment teardown or a GitOps prune, and whether
--   the actor usually manages this namespace. An attacker cleaning up shows earlier activity by the same
--   identity on the deployment (its creation, execs into its pods); a disruptive delete shows the service
--   failing right after.
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
