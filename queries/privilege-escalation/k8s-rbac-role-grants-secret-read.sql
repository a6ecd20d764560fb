-- id: k8s-rbac-role-grants-secret-read
-- title: Role grants reading secrets
-- description: A Role or ClusterRole was created or changed to allow get, list or watch on secrets (a
--   ClusterRole does so in every namespace when bound cluster-wide): the usual precondition for
--   harvesting service-account tokens and credentials.
-- severity: low
-- mitre: T1098, T1552.007
-- operations: create-clusterroles, create-roles, update-clusterroles, update-roles, patch-clusterroles, patch-roles
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Operators that manage certificates or credentials (cert-manager, external-secrets, ingress
--   controllers); tune with exclude_users.
-- references: https://attack.mitre.org/techniques/T1098/, https://attack.mitre.org/techniques/T1552/007/, https://kubernetes.io/docs/concepts/security/rbac-good-practices/
-- note: Check the role's scope (a ClusterRole bound cluster-wide reads every secret) and who is bound to it,
--   then look for get/list-secrets by those subjects after the change. Operators that manage credentials are
--   expected; add them to exclude_users.
-- param exclude_users: Array(String) = ['system:apiserver', 'system:serviceaccount:kube-system:clusterrole-aggregation-controller']
-- enabled: true
WITH
    k8sRoleRules(rawLog) AS rules,
    arrayFilter(r -> (has(k8sRuleResources(r), 'secrets') OR has(k8sRuleResources(r), '*')) AND hasAny(k8sRuleVerbs(r), ['get', 'list', 'watch', '*']), rules) AS hits
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.resource` AS resource,
    `objectRef.namespace` AS namespace,
    `objectRef.name` AS name,
    k8sRoleRulesText(hits) AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-clusterroles', 'create-roles', 'update-clusterroles', 'update-roles', 'patch-clusterroles', 'patch-roles')
  AND `responseStatus.code` BETWEEN 200 AND 399
  AND NOT has({exclude_users:Array(String)}, actor['username'])
  AND notEmpty(hits)
