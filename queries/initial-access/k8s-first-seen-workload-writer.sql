-- id: k8s-first-seen-workload-writer
-- title: Workloads changed from a never-seen identity, user agent and source IP combination
-- description: An identity that changed workloads during the baseline did so in the window from a (user
--   agent, source IP) combination it never used for workload changes in the `baseline_days` before:
--   a CI token or admin kubeconfig reused from somewhere new to deploy or exec.
-- severity: medium
-- mitre: T1078, T1610
-- operations: create-pods, update-pods, patch-pods, delete-pods, create-pods-exec, create-deployments, update-deployments, patch-deployments, delete-deployments, create-daemonsets, update-daemonsets, patch-daemonsets, delete-daemonsets, create-statefulsets, update-statefulsets, patch-statefulsets, create-replicasets, create-jobs, create-cronjobs, update-cronjobs, patch-cronjobs
-- mode: baseline
-- level: Metadata
-- window: 1h
-- false_positives: CI runners with changing addresses and tool upgrades; scope with exclude_prefixes or review the
--   user-agent column first.
-- references: https://attack.mitre.org/techniques/T1078/, https://attack.mitre.org/techniques/T1610/, https://kubernetes.io/docs/reference/access-authn-authz/authentication/
-- note: Check the user agent and source IP against the identity's known CI runners and admin networks, and
--   read the workload change it made (image, command, securityContext). A deployer token used from a
--   workstation or an unknown cloud address to change images should be confirmed with the pipeline's owner.
-- param baseline_days: UInt32 = 7
-- param exclude_prefixes: Array(String) = ['system:node:', 'system:kube-', 'system:apiserver', 'system:serviceaccount:kube-system:']
-- enabled: true
WITH recent AS (
    SELECT actor['username'] AS user, userAgent, srcIP, min(eventTime) AS firstSeen,
           groupUniqArray(100)(eventID) AS ids, uniqExact(eventID) AS n,
           arrayStringConcat(arraySlice(groupUniqArray(concat(verb, ' ', `objectRef.resource`, ' ', `objectRef.namespace`, '/', `objectRef.name`)), 1, 10), ', ') AS what
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND eventName IN ('create-pods', 'update-pods', 'patch-pods', 'delete-pods', 'create-pods-exec', 'create-deployments', 'update-deployments', 'patch-deployments', 'delete-deployments', 'create-daemonsets', 'update-daemonsets', 'patch-daemonsets', 'delete-daemonsets', 'create-statefulsets', 'update-statefulsets', 'patch-statefulsets', 'create-replicasets', 'create-jobs', 'create-cronjobs', 'update-cronjobs', 'patch-cronjobs')
      AND stage != 'RequestReceived'
      AND `responseStatus.code` BETWEEN 200 AND 399
      AND NOT arrayExists(p -> startsWith(actor['username'], p), {exclude_prefixes:Array(String)})
    GROUP BY user, userAgent, srcIP
), history AS (
    SELECT actor['username'] AS user, userAgent, srcIP
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} - toIntervalDay({baseline_days:UInt32})
      AND eventTime < {start:DateTime64(6)}
      AND eventName IN ('create-pods', 'update-pods', 'patch-pods', 'delete-pods', 'create-pods-exec', 'create-deployments', 'update-deployments', 'patch-deployments', 'delete-deployments', 'create-daemonsets', 'update-daemonsets', 'patch-daemonsets', 'delete-daemonsets', 'create-statefulsets', 'update-statefulsets', 'patch-statefulsets', 'create-replicasets', 'create-jobs', 'create-cronjobs', 'update-cronjobs', 'patch-cronjobs')
      AND `responseStatus.code` BETWEEN 200 AND 399
)
SELECT firstSeen AS eventTime, ids AS eventIDs, user, srcIP, userAgent, n AS count, what AS detail
FROM recent
WHERE (user, userAgent, srcIP) NOT IN (SELECT user, userAgent, srcIP FROM history)
  -- an identity with no history at all is new, not changed: the RBAC and workload rules cover it
  AND user IN (SELECT user FROM history)
ORDER BY eventTime
