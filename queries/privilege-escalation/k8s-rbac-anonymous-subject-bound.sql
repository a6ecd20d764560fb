-- id: k8s-rbac-anonymous-subject-bound
-- title: Anonymous or all-users subject bound to a role
-- description: A RoleBinding or ClusterRoleBinding grants a role to system:anonymous,
--   system:unauthenticated or system:authenticated. Any unauthenticated caller (or, for
--   system:authenticated, anyone holding any valid credential, which on some clouds means any
--   account of the provider) then gets the role's permissions: a classic backdoor.
-- severity: critical
-- mitre: T1098, T1078.001
-- operations: create-clusterrolebindings, update-clusterrolebindings, patch-clusterrolebindings, create-rolebindings, update-rolebindings, patch-rolebindings
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: The built-in bindings for discovery (system:discovery, system:basic-user,
--   system:public-info-viewer, system:service-account-issuer-discovery) are created by
--   system:apiserver at start-up and are excluded; anything else deserves a look.
-- references: https://attack.mitre.org/techniques/T1098/, https://attack.mitre.org/techniques/T1078/001/, https://kubernetes.io/docs/reference/access-authn-authz/rbac/
-- note: Check the bound role's permissions and remove the binding unless it is a documented exception, then
--   list every request by system:anonymous since the binding was written to see whether it was used. Find out
--   why the actor was allowed to write bindings.
-- param subjects: Array(String) = ['system:anonymous', 'system:unauthenticated', 'system:authenticated']
-- param builtin_roles: Array(String) = ['system:discovery', 'system:basic-user', 'system:public-info-viewer', 'system:service-account-issuer-discovery']
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
    arrayStringConcat(arrayDistinct(arrayFilter(n -> has({subjects:Array(String)}, n),
        arrayMap(s -> JSONExtractString(s, 'name'), subjects))), ', ') AS detail
FROM kubernetes_audit_logs
ARRAY JOIN [arrayConcat(JSONExtractArrayRaw(rawLog, 'requestObject', 'subjects'),
                        JSONExtractArrayRaw(rawLog, 'responseObject', 'subjects'))] AS subjects
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-clusterrolebindings', 'update-clusterrolebindings', 'patch-clusterrolebindings',
                    'create-rolebindings', 'update-rolebindings', 'patch-rolebindings')
  AND `responseStatus.code` BETWEEN 200 AND 399
  AND NOT (actor['username'] = 'system:apiserver' AND has({builtin_roles:Array(String)}, tags['roleRef.name']))
  AND arrayExists(s -> has({subjects:Array(String)}, JSONExtractString(s, 'name')), subjects)
