-- id: k8s-rbac-wildcard-role-created
-- title: Role or ClusterRole created with wildcards
-- description: A Role or ClusterRole was created whose rules use '*' for verbs or resources: it grants every
--   present and future permission on the matched APIs, far more than any workload needs.
-- severity: medium
-- mitre: T1098
-- operations: create-clusterroles, create-roles
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Installers of platform software bundling an admin-like role; add their identities to exclude_users.
-- references: https://attack.mitre.org/techniques/T1098/, https://kubernetes.io/docs/concepts/security/rbac-good-practices/, https://kubernetes.io/docs/reference/access-authn-authz/rbac/
-- note: Check the role's rules in detail and its bindings: a wildcard role bound to a service account or an
--   external user is effectively cluster-admin. Confirm the chart or operator that ships it, and add
--   installers' identities to exclude_users.
-- param exclude_users: Array(String) = ['system:apiserver', 'system:serviceaccount:kube-system:clusterrole-aggregation-controller']
-- enabled: true
WITH
    k8sRoleRules(rawLog) AS rules,
    arrayFilter(r -> has(k8sRuleVerbs(r), '*') OR has(k8sRuleResources(r), '*'), rules) AS hits
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
  AND eventName IN ('create-clusterroles', 'create-roles')
  AND `responseStatus.code` BETWEEN 200 AND 399
  AND NOT has({exclude_users:Array(String)}, actor['username'])
  AND notEmpty(hits)
