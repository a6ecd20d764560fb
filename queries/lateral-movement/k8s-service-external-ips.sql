-- id: k8s-service-external-ips
-- title: Service with externalIPs set (traffic hijack, CVE-2020-8554)
-- description: A Service was created or changed with spec.externalIPs. kube-proxy then captures
--   traffic to those addresses from every pod and node, so anyone who may create Services can
--   intercept connections to any external IP (CVE-2020-8554, unpatchable by design). Few clusters
--   use the field legitimately.
-- severity: high
-- mitre: T1557, T1090
-- operations: create-services, update-services, patch-services
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Bare-metal clusters that publish services on external IPs on purpose; block the
--   field with an admission policy (DenyServiceExternalIPs) and exclude those namespaces.
-- references: https://attack.mitre.org/techniques/T1557/, https://kubernetes.io/docs/concepts/services-networking/service/, https://github.com/kubernetes/kubernetes/issues/97076
-- note: Check which external IPs were set and whether they belong to your own infrastructure: the address of
--   a public service (a DNS resolver, a cloud API, a SaaS endpoint) means cluster traffic to it is being
--   intercepted. Look at the pods behind the Service's selector and who created them, and enable the
--   DenyServiceExternalIPs admission plugin where the field is not needed.
-- param exclude_namespaces: Array(String) = []
-- enabled: true
WITH arrayConcat(JSONExtract(rawLog, 'requestObject', 'spec', 'externalIPs', 'Array(String)'),
                 JSONExtract(rawLog, 'responseObject', 'spec', 'externalIPs', 'Array(String)')) AS ips
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.namespace` AS namespace,
    resources[1] AS object,
    arrayStringConcat(arrayDistinct(ips), ', ') AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-services', 'update-services', 'patch-services')
  AND `responseStatus.code` BETWEEN 200 AND 399
  AND notEmpty(ips)
  AND NOT has({exclude_namespaces:Array(String)}, `objectRef.namespace`)
