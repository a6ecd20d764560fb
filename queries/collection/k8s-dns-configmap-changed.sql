-- id: k8s-dns-configmap-changed
-- title: Cluster DNS configuration changed (CoreDNS / kube-dns)
-- description: The CoreDNS or kube-dns ConfigMap in kube-system was created, changed or deleted. A
--   rewritten Corefile can send any in-cluster name (the registry, a database, the metadata service)
--   to an attacker's address: traffic interception for every pod at once.
-- severity: high
-- mitre: T1557, T1565.002
-- operations: create-configmaps, update-configmaps, patch-configmaps, delete-configmaps
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Cluster upgrades and managed add-on updates (EKS/GKE/AKS add-on managers), and
--   admins adding stub domains; add the add-on manager to exclude_users.
-- references: https://attack.mitre.org/techniques/T1557/, https://kubernetes.io/docs/tasks/administer-cluster/dns-custom-nameservers/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/impact_kubernetes_coredns_or_kube_dns_configuration_modified.toml
-- note: When the body is logged, diff the Corefile for new rewrite, forward, hosts or stub-domain entries and
--   resolve where they point: an address outside your own networks is the red flag. Check the actor's other
--   requests around the time with `loader sql` and whether an add-on upgrade or change ticket explains the
--   change; add the add-on manager to exclude_users.
-- param names: Array(String) = ['coredns', 'coredns-custom', 'kube-dns', 'node-local-dns']
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
    left(coalesce(nullIf(JSONExtractString(rawLog, 'requestObject', 'data', 'Corefile'), ''),
                  JSONExtractRaw(rawLog, 'requestObject', 'data')), 500) AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-configmaps', 'update-configmaps', 'patch-configmaps', 'delete-configmaps')
  AND `objectRef.namespace` = 'kube-system'
  AND has({names:Array(String)}, `objectRef.name`)
  AND `responseStatus.code` BETWEEN 200 AND 399
  AND NOT has({exclude_users:Array(String)}, actor['username'])
