-- id: k8s-rbac-role-grants-exec
-- title: Role grants pods/exec, pods/attach or nodes/proxy
-- description: A Role or ClusterRole was created or changed to allow exec/attach into pods, port-forward, or the
--   kubelet API through nodes/proxy (which runs commands in any pod on the node, unaudited).
-- severity: medium
-- mitre: T1098, T1609
-- operations: create-clusterroles, create-roles, update-clusterroles, update-roles, patch-clusterroles, patch-roles
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Debugging roles for on-call engineers; monitoring agents that need nodes/proxy for metrics
--   (prefer nodes/metrics).
-- references: https://attack.mitre.org/techniques/T1098/, https://attack.mitre.org/techniques/T1609/, https://kubernetes.io/docs/concepts/security/rbac-good-practices/
-- note: Check the role's bindings and whether the subjects are on-call engineers or monitoring agents (for
--   metrics, nodes/metrics is enough instead of nodes/proxy). Look for exec, attach, port-forward or
--   nodes/proxy requests by the bound subjects after the change.
-- param exclude_users: Array(String) = ['system:apiserver', 'system:serviceaccount:kube-system:clusterrole-aggregation-controller']
-- param resources: Array(String) = ['pods/exec', 'pods/attach', 'pods/portforward', 'nodes/proxy', 'pods/*', 'nodes/*']
-- enabled: true
WITH
    k8sRoleRules(rawLog) AS rules,
    arrayFilter(r -> hasAny(k8sRuleResources(r), {resources:Array(String)}), rules) AS hits
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
