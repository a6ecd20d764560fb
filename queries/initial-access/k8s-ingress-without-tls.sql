-- id: k8s-ingress-without-tls
-- title: Ingress created or changed without TLS
-- description: An Ingress was created or changed with no spec.tls: its hosts are served over plain
--   HTTP, exposing credentials and session cookies, and a new plaintext route is a cheap way to
--   publish a backdoor service.
-- severity: low
-- mitre: T1133, T1557
-- operations: create-ingresses, update-ingresses, patch-ingresses
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Internal-only ingresses, ACME HTTP-01 solver ingresses (cert-manager creates them
--   briefly), TLS terminated at an external load balancer.
-- references: https://attack.mitre.org/techniques/T1133/, https://kubernetes.io/docs/concepts/services-networking/ingress/
-- note: Check the hosts the Ingress publishes and its backend service: a new plaintext route to an internal
--   admin UI or to a service nobody owns is the concern. Confirm with the namespace owner whether TLS
--   terminates elsewhere; cert-manager solver ingresses are short-lived and their creator can go into
--   exclude_users.
-- param exclude_users: Array(String) = []
-- enabled: true
WITH
    -- the Ingress after the change; a patch without a logged response carries only the change
    multiIf(JSONHas(rawLog, 'responseObject', 'spec'), JSONExtractRaw(rawLog, 'responseObject'),
            verb != 'patch', JSONExtractRaw(rawLog, 'requestObject'), '') AS obj
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.namespace` AS namespace,
    resources[1] AS object,
    arrayStringConcat(arrayMap(r -> JSONExtractString(r, 'host'), JSONExtractArrayRaw(obj, 'spec', 'rules')), ', ') AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-ingresses', 'update-ingresses', 'patch-ingresses')
  AND `responseStatus.code` BETWEEN 200 AND 399
  AND JSONHas(obj, 'spec')
  AND JSONLength(obj, 'spec', 'tls') = 0
  AND NOT has({exclude_users:Array(String)}, actor['username'])
