-- id: k8s-service-exposed-nodeport-loadbalancer
-- title: Service exposed as NodePort or LoadBalancer
-- description: A Service was created or changed to type NodePort or LoadBalancer, opening a port on
--   every node or an external load balancer. Seed 004 names it as a persistence and C2 channel: a
--   backdoor pod becomes reachable from outside without touching ingress.
-- severity: medium
-- mitre: T1133, T1571
-- operations: create-services, update-services, patch-services
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Ingress controllers and intentionally public services; exclude their namespaces
--   with exclude_namespaces.
-- references: https://attack.mitre.org/techniques/T1133/, https://kubernetes.io/docs/concepts/services-networking/service/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/persistence_exposed_service_created_with_type_nodeport.toml
-- note: Check which pods the Service selects and what they run: a new external port in front of an unknown
--   pod or a shell or proxy image is a backdoor. Confirm with the namespace owner, check
--   loadBalancerSourceRanges, and add intentionally public namespaces to exclude_namespaces.
-- param types: Array(String) = ['NodePort', 'LoadBalancer']
-- param exclude_namespaces: Array(String) = []
-- enabled: true
WITH
    -- the Service after the change: the response when logged, else the request
    coalesce(nullIf(JSONExtractString(rawLog, 'responseObject', 'spec', 'type'), ''),
             JSONExtractString(rawLog, 'requestObject', 'spec', 'type')) AS type,
    if(JSONHas(rawLog, 'responseObject', 'spec'), JSONExtractArrayRaw(rawLog, 'responseObject', 'spec', 'ports'),
       JSONExtractArrayRaw(rawLog, 'requestObject', 'spec', 'ports')) AS ports
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.namespace` AS namespace,
    resources[1] AS object,
    type,
    arrayStringConcat(arrayMap(p -> concat(toString(JSONExtractInt(p, 'port')),
        if(JSONExtractInt(p, 'nodePort') > 0, concat('->node:', toString(JSONExtractInt(p, 'nodePort'))), '')), ports), ', ') AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-services', 'update-services', 'patch-services')
  AND `responseStatus.code` BETWEEN 200 AND 399
  AND has({types:Array(String)}, type)
  AND NOT has({exclude_namespaces:Array(String)}, `objectRef.namespace`)
