-- id: k8s-rbac-role-grants-escalation
-- title: Role grants escalate, bind, impersonate or token requests
-- description: A Role or ClusterRole was created or changed to allow the RBAC escalation verbs (escalate, bind),
--   impersonation, or minting service-account tokens (serviceaccounts/token): each lets the holder
--   become a more privileged identity without any further binding.
-- severity: high
-- mitre: T1098, T1134
-- operations: create-clusterroles, create-roles, update-clusterroles, update-roles, patch-clusterroles, patch-roles
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Controllers that legitimately manage RBAC (cluster API, GitOps) and identity proxies that
--   impersonate; add their identities to exclude_users.
-- references: https://attack.mitre.org/techniques/T1098/, https://kubernetes.io/docs/concepts/security/rbac-good-practices/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/persistence_sensitive_role_creation_or_modification.toml
-- note: Check which verbs and resources the role now grants and who is bound to it (an existing binding makes
--   the change effective at once). Look for the new power in use by those subjects: impersonated requests,
--   serviceaccounts/token creations, new bindings; add RBAC-managing controllers to exclude_users.
-- param exclude_users: Array(String) = ['system:apiserver', 'system:serviceaccount:kube-system:clusterrole-aggregation-controller']
-- param verbs: Array(String) = ['escalate', 'bind', 'impersonate']
-- param resources: Array(String) = ['serviceaccounts/token', 'certificatesigningrequests/approval']
-- enabled: true
WITH
    k8sRoleRules(rawLog) AS rules,
    arrayFilter(r -> hasAny(k8sRuleVerbs(r), {verbs:Array(String)}) OR hasAny(k8sRuleResources(r), {resources:Array(String)}), rules) AS hits
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
