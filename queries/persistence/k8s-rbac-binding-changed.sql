-- id: k8s-rbac-binding-changed
-- title: RoleBinding or ClusterRoleBinding created, changed or deleted
-- description: Every successful write to a role binding: who now holds which role. Low on its own,
--   it is the audit trail a reviewer reads after a higher-severity RBAC finding, and a good
--   weekly hunt (role and subjects come from the body when logged at Request level).
-- severity: low
-- mitre: T1098
-- operations: create-rolebindings, update-rolebindings, patch-rolebindings, delete-rolebindings, deletecollection-rolebindings, create-clusterrolebindings, update-clusterrolebindings, patch-clusterrolebindings, delete-clusterrolebindings, deletecollection-clusterrolebindings
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Every legitimate access change, GitOps syncs and namespace provisioning; exclude
--   the automation's identity with exclude_users.
-- references: https://attack.mitre.org/techniques/T1098/, https://kubernetes.io/docs/reference/access-authn-authz/rbac/, https://github.com/SigmaHQ/sigma/blob/master/rules/application/kubernetes/audit/kubernetes_audit_rolebinding_modification.yml
-- note: Read which role was bound to which subjects (from the body at Request level) and whether the actor
--   manages access for that namespace. Bindings to cluster-admin, to service accounts of other namespaces, or
--   to system:authenticated deserve a closer look; add GitOps and provisioning identities to exclude_users.
-- param exclude_users: Array(String) = ['system:apiserver', 'system:serviceaccount:kube-system:namespace-controller', 'system:serviceaccount:kube-system:generic-garbage-collector']
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
    resources[1] AS object,
    tags['roleRef.name'] AS role,
    arrayStringConcat(arrayDistinct(arrayMap(s -> concat(JSONExtractString(s, 'kind'), ':', JSONExtractString(s, 'name')),
        arrayConcat(JSONExtractArrayRaw(rawLog, 'requestObject', 'subjects'), JSONExtractArrayRaw(rawLog, 'responseObject', 'subjects')))), ', ') AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-rolebindings', 'update-rolebindings', 'patch-rolebindings', 'delete-rolebindings',
                    'deletecollection-rolebindings', 'create-clusterrolebindings', 'update-clusterrolebindings',
                    'patch-clusterrolebindings', 'delete-clusterrolebindings', 'deletecollection-clusterrolebindings')
  AND `responseStatus.code` BETWEEN 200 AND 399
  AND NOT has({exclude_users:Array(String)}, actor['username'])
