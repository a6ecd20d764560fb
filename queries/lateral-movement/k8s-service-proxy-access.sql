-- id: k8s-service-proxy-access
-- title: Service reached through the API server proxy
-- description: A request went through services/proxy (kubectl proxy, /api/v1/namespaces/NS/services/
--   NAME:PORT/proxy/...), which relays HTTP from the API server to a cluster service. It bypasses
--   NetworkPolicies and ingress, so attackers use it to reach internal dashboards and admin ports.
-- severity: medium
-- mitre: T1090, T1021
-- operations: get-services-proxy, create-services-proxy, update-services-proxy, patch-services-proxy, delete-services-proxy
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Humans opening dashboards through kubectl proxy; the metrics pipeline of some
--   distributions; add them to exclude_users.
-- param exclude_users: Array(String) = []
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.namespace` AS namespace,
    `objectRef.name` AS name,
    requestURI AS detail,
    `responseStatus.code` AS code
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName LIKE '%-services-proxy'
  AND stage != 'RequestReceived'
  AND NOT has({exclude_users:Array(String)}, actor['username'])
  AND NOT startsWith(actor['username'], 'system:serviceaccount:kube-system:')
LIMIT 1 BY eventID
