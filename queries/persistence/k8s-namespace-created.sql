-- id: k8s-namespace-created
-- title: Namespace created
-- description: A new namespace appeared. Attackers create their own namespace to run workloads
--   where nobody looks and where namespace-scoped policies do not reach yet; the list is also a
--   quick inventory of who provisions namespaces.
-- severity: low
-- mitre: T1578, T1564
-- operations: create-namespaces
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Namespace provisioning by platform teams, CI preview environments, operators;
--   exclude their identities with exclude_users.
-- references: https://attack.mitre.org/techniques/T1578/, https://attack.mitre.org/techniques/T1564/, https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/
-- note: Check the namespace name and creator, then list what was deployed into it in the following hour
--   (pods, DaemonSets, RoleBindings) with `loader sql`. A namespace created outside the platform team and
--   filled with privileged or miner-like workloads is the case to chase; add provisioning identities to
--   exclude_users.
-- param exclude_users: Array(String) = ['system:apiserver']
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    resources[1] AS object,
    coalesce(nullIf(`objectRef.name`, ''), JSONExtractString(rawLog, 'responseObject', 'metadata', 'name'),
             JSONExtractString(rawLog, 'requestObject', 'metadata', 'name')) AS name
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName = 'create-namespaces'
  AND `responseStatus.code` BETWEEN 200 AND 399
  AND NOT has({exclude_users:Array(String)}, actor['username'])
