-- id: k8s-rbac-write-by-serviceaccount
-- title: Service account writes RBAC
-- description: A service account created, changed or deleted a Role, ClusterRole or binding. Pods
--   rarely need to; when a pod's token does it, the pod is either an RBAC-managing operator or a
--   compromised workload granting itself (or its attacker) more access.
-- severity: medium
-- mitre: T1098, T1078.004
-- operations: create-roles, update-roles, patch-roles, delete-roles, create-clusterroles, update-clusterroles, patch-clusterroles, delete-clusterroles, create-rolebindings, update-rolebindings, patch-rolebindings, delete-rolebindings, create-clusterrolebindings, update-clusterrolebindings, patch-clusterrolebindings, delete-clusterrolebindings
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Operators and GitOps controllers (Argo CD, Flux, Helm controllers, OLM) that own
--   RBAC; add their service accounts to exclude_users.
-- references: https://attack.mitre.org/techniques/T1098/, https://kubernetes.io/docs/reference/access-authn-authz/rbac/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/privilege_escalation_service_account_rbac_write_operation.toml
-- note: Identify the workload behind the service account and whether it is an RBAC-managing operator (Argo
--   CD, Flux, OLM); an application service account writing RBAC suggests a stolen token. Read the role or
--   binding it wrote and compare the source IP and user agent with the pod's; add legitimate operators to
--   exclude_users.
-- param exclude_users: Array(String) = ['system:serviceaccount:kube-system:clusterrole-aggregation-controller', 'system:serviceaccount:kube-system:namespace-controller', 'system:serviceaccount:kube-system:generic-garbage-collector']
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    actor['serviceAccount'] AS serviceAccount,
    srcIP,
    userAgent,
    verb,
    `objectRef.resource` AS resource,
    `objectRef.namespace` AS namespace,
    `objectRef.name` AS name,
    tags['roleRef.name'] AS role
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-roles', 'update-roles', 'patch-roles', 'delete-roles',
                    'create-clusterroles', 'update-clusterroles', 'patch-clusterroles', 'delete-clusterroles',
                    'create-rolebindings', 'update-rolebindings', 'patch-rolebindings', 'delete-rolebindings',
                    'create-clusterrolebindings', 'update-clusterrolebindings', 'patch-clusterrolebindings', 'delete-clusterrolebindings')
  AND actor['serviceAccount'] != ''
  AND `responseStatus.code` BETWEEN 200 AND 399
  AND NOT has({exclude_users:Array(String)}, actor['username'])
