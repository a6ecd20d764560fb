-- id: k8s-impersonation-privileged
-- title: Impersonation of a privileged user, group or system identity
-- description: A request used impersonation (kubectl --as/--as-group, Impersonate-* headers) to act as
--   a privileged identity: a system:masters member, an admin user, a node, a control-plane component
--   or a kube-system service account. Whoever holds the impersonate permission becomes that identity,
--   and the request then looks like it came from it.
-- severity: high
-- mitre: T1134.001, T1078
-- operations: *
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Admins who deliberately use --as=system:admin for break-glass; authenticating
--   proxies (Rancher, Teleport, kube-oidc-proxy) impersonate every user; exclude the proxy with
--   exclude_users (matched on the authenticated user).
-- references: https://attack.mitre.org/techniques/T1134/001/, https://kubernetes.io/docs/reference/access-authn-authz/authentication/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/privilege_escalation_kubernetes_api_request_impersonating_privileged_identity.toml
-- note: Check who the authenticated user is and which role grants it the impersonate verb, then list every
--   request made under the impersonated identity with `loader sql`. Break-glass use should match an incident;
--   otherwise remove the impersonate permission and review what the requests changed.
-- param users: Array(String) = ['system:admin', 'kubernetes-admin', 'admin', 'cluster-admin', 'system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver']
-- param groups: Array(String) = ['system:masters', 'system:nodes']
-- param prefixes: Array(String) = ['system:node:', 'system:serviceaccount:kube-system:']
-- param exclude_users: Array(String) = []
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['authenticatedUsername'] AS user,
    actor['impersonatedUsername'] AS impersonated,
    actor['groups'] AS groups,
    srcIP,
    userAgent,
    verb,
    `objectRef.resource` AS resource,
    `objectRef.namespace` AS namespace,
    `objectRef.name` AS name,
    `responseStatus.code` AS code
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND mapContains(actor, 'impersonatedUsername')  -- idx_actor_keys skips granules without impersonation
  AND stage != 'RequestReceived'
  AND NOT has({exclude_users:Array(String)}, actor['authenticatedUsername'])
  AND (has({users:Array(String)}, actor['impersonatedUsername'])
       OR hasAny({groups:Array(String)}, splitByChar(',', actor['groups']))
       OR arrayExists(p -> startsWith(actor['impersonatedUsername'], p), {prefixes:Array(String)}))
LIMIT 1 BY eventID
