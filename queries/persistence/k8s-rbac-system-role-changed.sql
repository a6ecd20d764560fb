-- id: k8s-rbac-system-role-changed
-- title: Built-in system: role or binding changed or deleted
-- description: A Role, ClusterRole or binding whose name starts with system: (the API server's and
--   controllers' own permissions) was updated, patched or deleted by someone other than the API
--   server's reconciler. Widening a system: role hides a backdoor among objects nobody reviews;
--   deleting one breaks a component (for instance the aggregator) or removes a guard.
-- severity: high
-- mitre: T1098, T1562
-- operations: update-clusterroles, patch-clusterroles, delete-clusterroles, update-clusterrolebindings, patch-clusterrolebindings, delete-clusterrolebindings, update-roles, patch-roles, delete-roles, update-rolebindings, patch-rolebindings, delete-rolebindings
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Cluster upgrades run by an administrator or a managed-service account (add it to
--   exclude_users); add-ons that ship their own system: roles.
-- references: https://attack.mitre.org/techniques/T1098/, https://attack.mitre.org/techniques/T1562/, https://kubernetes.io/docs/reference/access-authn-authz/rbac/
-- note: Compare the new rules with the defaults: the API server re-adds missing default permissions at
--   start-up but keeps added ones, and skips objects annotated
--   rbac.authorization.kubernetes.io/autoupdate=false, so check for that annotation too. Check whether a
--   cluster upgrade was running and which subjects the role is bound to.
-- param exclude_users: Array(String) = ['system:apiserver', 'system:kube-controller-manager', 'system:serviceaccount:kube-system:clusterrole-aggregation-controller', 'system:serviceaccount:kube-system:generic-garbage-collector']
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.resource` AS resource,
    `objectRef.namespace` AS namespace,
    `objectRef.name` AS name
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('update-clusterroles', 'patch-clusterroles', 'delete-clusterroles',
                    'update-clusterrolebindings', 'patch-clusterrolebindings', 'delete-clusterrolebindings',
                    'update-roles', 'patch-roles', 'delete-roles',
                    'update-rolebindings', 'patch-rolebindings', 'delete-rolebindings')
  AND startsWith(`objectRef.name`, 'system:')
  AND `responseStatus.code` BETWEEN 200 AND 399
  AND NOT has({exclude_users:Array(String)}, actor['username'])
