-- id: k8s-discovery-many-resource-types
-- title: Discovery across many resource types in a short time
-- description: One identity read (get/list/watch) at least `threshold` distinct resource types within
--   `bucket_seconds`: the footprint of automated enumeration (kubectl get all -A in loops, peirates,
--   kubehound collectors, cloud-security scanners) rather than a person or an app doing its job.
-- severity: medium
-- mitre: T1613, T1069, T1087
-- operations: *
-- mode: aggregate
-- level: Metadata
-- window: 1h
-- false_positives: Backup tools (Velero), GitOps controllers and monitoring agents start by listing
--   everything; add them to exclude_users. Control-plane components are excluded by prefix.
-- references: https://attack.mitre.org/techniques/T1613/, https://attack.mitre.org/techniques/T1087/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/discovery_kubernetes_multi_resource_setup_recon.toml
-- note: Check the user agent and source IP: kubectl from an admin workstation during an incident differs from
--   curl or an unknown tool from a pod address. Look at what the identity did right after the sweep (secret
--   reads, RBAC writes, exec); add backup and GitOps identities to exclude_users, and tune threshold and
--   bucket_seconds.
-- param threshold: UInt32 = 10
-- param bucket_seconds: UInt32 = 60
-- param exclude_prefixes: Array(String) = ['system:node:', 'system:kube-', 'system:apiserver', 'system:serviceaccount:kube-system:']
-- param exclude_users: Array(String) = []
-- enabled: true
SELECT firstSeen AS eventTime, * EXCEPT firstSeen
FROM (
    SELECT
        min(eventTime) AS firstSeen,
        groupUniqArray(100)(eventID) AS eventIDs,
        actor['username'] AS user,
        toStartOfInterval(eventTime, toIntervalSecond({bucket_seconds:UInt32})) AS bucket,
        arrayStringConcat(groupUniqArray(5)(srcIP), ',') AS srcIP,
        any(userAgent) AS userAgent,
        uniqExact(`objectRef.resource`) AS count,
        arrayStringConcat(arraySlice(arraySort(groupUniqArray(`objectRef.resource`)), 1, 30), ', ') AS detail
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND verb IN ('get', 'list', 'watch')
      AND `objectRef.resource` != ''
      AND stage != 'RequestReceived'
      AND NOT arrayExists(p -> startsWith(actor['username'], p), {exclude_prefixes:Array(String)})
      AND NOT has({exclude_users:Array(String)}, actor['username'])
    GROUP BY user, bucket
    HAVING count >= {threshold:UInt32}
)
ORDER BY eventTime
