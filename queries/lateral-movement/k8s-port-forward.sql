-- id: k8s-port-forward
-- title: Port-forward into a pod
-- description: kubectl port-forward tunnels a local port to a pod through the API server, bypassing NetworkPolicies, ingress and Service exposure: a common way to reach databases and admin UIs inside the cluster.
-- severity: low
-- mitre: T1572, T1090
-- operations: create-pods-portforward, get-pods-portforward
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Developers reaching databases and dashboards; exclude known identities.
-- references: https://attack.mitre.org/techniques/T1572/, https://kubernetes.io/docs/tasks/access-application-cluster/port-forward-access-application-cluster/
-- note: Check the target pod (databases, admin UIs, kube-system pods) and whether the user works on that
--   service. Review the user's source IP and other requests around the forward with `loader sql`; a forward
--   from an unknown host to a database pod warrants checking the database's own access log.
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    `objectRef.namespace` AS namespace,
    `objectRef.name` AS name,
    arrayStringConcat(extractAll(requestURI, '[?&]ports=([^&]*)'), ',') AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-pods-portforward', 'get-pods-portforward')
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
ORDER BY eventTime
LIMIT 1 BY eventID
