-- id: k8s-rbac-role-grants-sensitive-write
-- title: Role grants write access to secrets, exec, RBAC or workload controllers
-- description: A Role or ClusterRole was created or changed so that one of its rules allows a write verb
--   (create, update, patch, delete, deletecollection, *) on a sensitive resource: secrets, pods/exec,
--   pods/attach, the RBAC objects themselves, or the controllers that run pods (deployments, daemonsets,
--   statefulsets, cronjobs) or '*'. Whoever is bound to it can plant credentials, run commands in pods,
--   grant themselves more, or schedule their own code on every node. The rules come from the response
--   when the audit level logged it (a patch carries only the change), else from the request.
-- severity: medium
-- mitre: T1098.006, T1078.001
-- operations: create-clusterroles, create-roles, update-clusterroles, update-roles, patch-clusterroles, patch-roles
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Helm charts and operators installing their own controller roles (cert-manager writes
--   secrets, Argo CD writes deployments); GitOps service accounts applying RBAC. Add those installers to
--   exclude_users or narrow resources. The API server reconciling the bootstrap roles and the
--   aggregation controller are excluded.
-- references: https://attack.mitre.org/techniques/T1098/006/, https://kubernetes.io/docs/concepts/security/rbac-good-practices/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/persistence_sensitive_role_creation_or_modification.toml
-- note: List the RoleBindings and ClusterRoleBindings that reference this role (roleRef.name) and who
--   they bind; a binding created right after to a service account or a new user is the escalation.
-- param exclude_users: Array(String) = ['system:apiserver', 'system:serviceaccount:kube-system:clusterrole-aggregation-controller']
-- param write_verbs: Array(String) = ['create', 'update', 'patch', 'delete', 'deletecollection', '*']
-- param resources: Array(String) = ['secrets', 'pods/exec', 'pods/attach', 'roles', 'clusterroles', 'rolebindings', 'clusterrolebindings', 'deployments', 'daemonsets', 'statefulsets', 'cronjobs', '*']
-- enabled: true
WITH
    k8sRoleRules(rawLog) AS rules,
    arrayFilter(r -> hasAny(k8sRuleVerbs(r), {write_verbs:Array(String)}) AND hasAny(k8sRuleResources(r), {resources:Array(String)}), rules) AS hits
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.resource` AS resource,
    `objectRef.namespace` AS namespace,
    if(`objectRef.name` != '', `objectRef.name`, JSONExtractString(rawLog, 'requestObject', 'metadata', 'name')) AS name,
    k8sRoleRulesText(hits) AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-clusterroles', 'create-roles', 'update-clusterroles', 'update-roles', 'patch-clusterroles', 'patch-roles')
  AND stage != 'RequestReceived'
  AND `responseStatus.code` BETWEEN 200 AND 399
  AND NOT has({exclude_users:Array(String)}, actor['username'])
  AND notEmpty(hits)
ORDER BY eventTime
