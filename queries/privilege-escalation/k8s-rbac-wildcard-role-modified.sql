-- id: k8s-rbac-wildcard-role-modified
-- title: Role or ClusterRole changed to use wildcards
-- description: An existing Role or ClusterRole was updated or patched and now has rules with '*' verbs or
--   resources (read from the response, since a patch carries only the change): quietly widening a
--   role already bound to someone is stealthier than creating a new binding.
-- severity: medium
-- mitre: T1098
-- operations: update-clusterroles, update-roles, patch-clusterroles, patch-roles
-- mode: event
-- level: RequestResponse
-- window: 1h
-- false_positives: The built-in cluster-admin role reconciled by system:apiserver (excluded); operators managing
--   their own admin roles.
-- references: https://attack.mitre.org/techniques/T1098/, https://kubernetes.io/docs/concepts/security/rbac-good-practices/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/privilege_escalation_role_patch_wildcard_verbs_resources_response.toml
-- note: Compare the role's rules before and after (its earlier create or update events) and list its existing
--   bindings: the bound subjects gained the wildcard at once. Check the modifier's identity and source IP and
--   what the bound subjects did after the change.
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
  AND eventName IN ('update-clusterroles', 'update-roles', 'patch-clusterroles', 'patch-roles')
  AND `responseStatus.code` BETWEEN 200 AND 399
  AND NOT has({exclude_users:Array(String)}, actor['username'])
  AND notEmpty(hits)
