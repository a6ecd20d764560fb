-- id: k8s-service-proxy
-- title: Service reached through the API server proxy
-- description: A request goes through services/{name}/proxy: the API server relays HTTP to a ClusterIP service, reaching dashboards, databases' HTTP APIs and internal admin endpoints from outside the cluster network without any Service exposure.
-- severity: low
-- mitre: T1090, T1572
-- operations: get-services-proxy, create-services-proxy, update-services-proxy, patch-services-proxy, delete-services-proxy
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: kubectl proxy users opening the Kubernetes dashboard or Grafana.
-- references: https://attack.mitre.org/techniques/T1090/, https://attack.mitre.org/techniques/T1572/, https://kubernetes.io/docs/concepts/cluster-administration/proxies/
-- note: Check the proxied service and path in the request URI (dashboards, database HTTP APIs, metrics
--   endpoints) and whether the user usually reaches it this way. Repeated proxy requests to an internal admin
--   endpoint from an unusual source IP or with a service account token deserve a look at that service's own
--   logs.
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
    extract(requestURI, '/proxy(/[^?]*)') AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('get-services-proxy', 'create-services-proxy', 'update-services-proxy', 'patch-services-proxy', 'delete-services-proxy')
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  -- the control plane's own identities (controllers, kubelets, scheduler) do this all day
  AND NOT (startsWith(actor['username'], 'system:serviceaccount:kube-system:') OR startsWith(actor['username'], 'system:node:')
           OR actor['username'] IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver', 'system:kube-proxy'))
ORDER BY eventTime
