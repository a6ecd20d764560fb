-- id: k8s-hunt-services-activity
-- title: Services activity by identity (seed-004 services group)
-- description: Starting point for hunting on the Kubernetes-services operation group of seed 004:
--   every operation on services and services/proxy in the window, one row per identity, operation and
--   namespace, with counts, denials, source IPs and the service types written. Sort by count or
--   filter on denied > 0; pivot into exposure (NodePort/LoadBalancer), proxying and deletions.
--   Control-plane identities that watch services all day are left out unless include_system = 1.
-- severity: informational
-- mitre: T1133, T1090, T1046
-- operations: get-services, list-services, watch-services, create-services, update-services, patch-services, delete-services, get-services-proxy, create-services-proxy, any-services
-- mode: aggregate
-- level: Metadata
-- window: 24h
-- false_positives: It is a hunt: everything is listed by design.
-- references: https://attack.mitre.org/techniques/T1133/, https://kubernetes.io/docs/concepts/services-networking/service/
-- note: Sort by count and look at rows with denied > 0, NodePort or LoadBalancer types written by people,
--   services/proxy use and deletions. Pivot on an interesting identity with `loader sql` over the same
--   window; set include_system = 1 to see control-plane traffic too.
-- param include_system: UInt8 = 0
-- param system_prefixes: Array(String) = ['system:node:', 'system:kube-', 'system:apiserver', 'system:serviceaccount:kube-system:']
-- enabled: false
SELECT firstSeen AS eventTime, * EXCEPT firstSeen
FROM (
    SELECT
        min(eventTime) AS firstSeen,
        max(eventTime) AS lastSeen,
        groupUniqArray(100)(eventID) AS eventIDs,
        actor['username'] AS user,
        eventName AS operation,
        `objectRef.namespace` AS namespace,
        uniqExact(eventID) AS count,
        uniqExactIf(eventID, `responseStatus.code` IN (401, 403)) AS denied,
        arrayStringConcat(groupUniqArray(5)(srcIP), ',') AS srcIP,
        arrayStringConcat(groupUniqArray(5)(userAgent), ' | ') AS userAgent,
        arrayStringConcat(arraySlice(groupUniqArray(`objectRef.name`), 1, 10), ', ') AS name,
        arrayStringConcat(groupUniqArrayIf(JSONExtractString(rawLog, 'requestObject', 'spec', 'type'),
                                           NOT readOnly AND JSONExtractString(rawLog, 'requestObject', 'spec', 'type') != ''), ',') AS detail
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND eventName LIKE '%-services%'
      AND `objectRef.resource` = 'services'
      AND stage != 'RequestReceived'
      AND ({include_system:UInt8} = 1 OR NOT arrayExists(p -> startsWith(actor['username'], p), {system_prefixes:Array(String)}))
    GROUP BY user, operation, namespace
)
ORDER BY count DESC
