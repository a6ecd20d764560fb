-- id: k8s-secret-read-by-node-credential
-- title: Secret read with a node credential outside the kubelet
-- description: A node identity (system:node:*) reads secrets with a user agent that is not the kubelet. The node authorizer lets a kubelet read the secrets of pods on its node; the same credential used by kubectl, curl or a script means a stolen kubelet kubeconfig or client certificate.
-- severity: high
-- mitre: T1552.007, T1078.001
-- operations: get-secrets, list-secrets, watch-secrets
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Custom node bootstrap tooling that reuses the kubelet credential.
-- references: https://attack.mitre.org/techniques/T1552/007/, https://kubernetes.io/docs/reference/access-authn-authz/node/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/credential_access_kubernetes_secret_read_by_node_or_pod_service_account.toml
-- note: Compare the source IP with the node's own address: the same node name from another host means the
--   kubelet kubeconfig or client certificate was copied. Review what else the node identity did with the
--   non-kubelet user agent, and reissue the node's credential if confirmed.
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.namespace` AS namespace,
    `objectRef.name` AS name
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('get-secrets', 'list-secrets', 'watch-secrets')
  AND stage != 'RequestReceived' AND `responseStatus.code` BETWEEN 200 AND 299
  AND startsWith(actor['username'], 'system:node:') AND NOT startsWith(userAgent, 'kubelet/')
ORDER BY eventTime
LIMIT 1 BY eventID
