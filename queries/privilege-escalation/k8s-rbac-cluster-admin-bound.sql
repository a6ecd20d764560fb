-- id: k8s-rbac-cluster-admin-bound
-- title: cluster-admin, admin or system:masters bound
-- description: A RoleBinding or ClusterRoleBinding was created or changed so that it grants a
--   cluster-wide superuser role (cluster-admin, admin, or any role in `roles`) or names the
--   system:masters group as a subject. This is the most direct way to take over a cluster, and a
--   favourite persistence step after a token is stolen.
-- severity: high
-- mitre: T1098, T1078.004
-- operations: create-clusterrolebindings, update-clusterrolebindings, patch-clusterrolebindings, create-rolebindings, update-rolebindings, patch-rolebindings
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Cluster bootstrap and break-glass procedures by platform admins; compare `user`
--   with the people allowed to grant admin and suppress their automation by user.
-- references: https://attack.mitre.org/techniques/T1098/, https://kubernetes.io/docs/reference/access-authn-authz/rbac/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/persistence_cluster_admin_rolebinding_created.toml
-- note: Check the subjects that received cluster-admin or admin and whether the actor is allowed to grant
--   admin; an application service account or an external user is the red flag. List what the new subject did
--   afterwards with `loader sql` and remove the binding if nobody can explain it.
-- param roles: Array(String) = ['cluster-admin', 'admin']
-- param groups: Array(String) = ['system:masters']
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
    arrayStringConcat(arrayDistinct(arrayMap(s -> concat(JSONExtractString(s, 'kind'), ':', JSONExtractString(s, 'name')), subjects)), ', ') AS detail
FROM kubernetes_audit_logs
ARRAY JOIN [arrayConcat(JSONExtractArrayRaw(rawLog, 'requestObject', 'subjects'),
                        JSONExtractArrayRaw(rawLog, 'responseObject', 'subjects'))] AS subjects
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-clusterrolebindings', 'update-clusterrolebindings', 'patch-clusterrolebindings',
                    'create-rolebindings', 'update-rolebindings', 'patch-rolebindings')
  AND `responseStatus.code` BETWEEN 200 AND 399
  AND (has({roles:Array(String)}, tags['roleRef.name'])
       OR arrayExists(s -> JSONExtractString(s, 'kind') = 'Group' AND has({groups:Array(String)}, JSONExtractString(s, 'name')), subjects))
