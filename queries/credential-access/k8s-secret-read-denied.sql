-- id: k8s-secret-read-denied
-- title: Secret read denied
-- description: A get, list or watch on secrets was refused by authorization (403, decision forbid). One
--   refusal is a weak signal, but a credential trying secrets it was never granted is what a stolen
--   token or a freshly compromised pod looks like in its first minutes. The burst of many such refusals
--   is k8s-secret-read-denied-repeatedly; this rule reports each single attempt.
-- severity: low
-- mitre: T1552.007, T1087.004
-- operations: get-secrets, list-secrets, watch-secrets
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: A workload deployed before its Role (it retries until RBAC is fixed); users running
--   kubectl get secrets in a namespace they cannot read. Kubelets refused a secret of a pod that just
--   left their node (node authorizer, user agent kubelet/) are left out; add other noisy identities to
--   exclude_users.
-- references: https://kubernetes.io/docs/reference/access-authn-authz/rbac/, https://attack.mitre.org/techniques/T1552/007/
-- note: Look at what else the identity did around this time (k8s-auth-failures-by-identity,
--   k8s-permission-enumeration): a run of refusals across resources means someone is mapping a token.
-- param exclude_users: Array(String) = []
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    if(`objectRef.namespace` = '', '(all namespaces)', `objectRef.namespace`) AS namespace,
    `objectRef.name` AS name,
    `responseStatus.code` AS code,
    if(tags['responseStatus.message'] != '', tags['responseStatus.message'], `annotations.authorization.k8s.io.reason`) AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('get-secrets', 'list-secrets', 'watch-secrets')
  AND stage != 'RequestReceived'
  AND (`responseStatus.code` = 403 OR `annotations.authorization.k8s.io.decision` = 'forbid')
  -- the node authorizer refuses a kubelet the secrets of pods no longer bound to its node: routine churn
  AND NOT (startsWith(actor['username'], 'system:node:') AND startsWith(userAgent, 'kubelet/'))
  AND NOT has({exclude_users:Array(String)}, actor['username'])
ORDER BY eventTime
LIMIT 1 BY eventID
