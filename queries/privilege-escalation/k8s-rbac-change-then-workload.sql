-- id: k8s-rbac-change-then-workload
-- title: RBAC change followed by a workload change from the same identity
-- description: An identity wrote RBAC (a role or binding) and within `within_seconds` created or
--   changed a workload or exec'd into a pod: grant-then-use, the shape of an attacker escalating
--   and immediately cashing in the new permission.
-- severity: high
-- mitre: T1098, T1610
-- operations: create-roles, update-roles, patch-roles, create-clusterroles, update-clusterroles, patch-clusterroles, create-rolebindings, update-rolebindings, patch-rolebindings, create-clusterrolebindings, update-clusterrolebindings, patch-clusterrolebindings, create-pods, create-pods-exec, create-deployments, patch-deployments, update-deployments, create-daemonsets, patch-daemonsets, update-daemonsets, create-statefulsets, create-jobs, create-cronjobs
-- mode: aggregate
-- level: Metadata
-- window: 1h
-- false_positives: Deployment pipelines that apply RBAC and workloads together in one run; exclude
--   the pipeline's identity with exclude_users.
-- references: https://attack.mitre.org/techniques/T1098/, https://attack.mitre.org/techniques/T1610/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/privilege_escalation_sensitive_rbac_change_followed_by_workload_modification.toml
-- note: Read both halves: which permission the RBAC write granted and what the workload change or exec did
--   with it. An identity granting itself pods/exec or secret access and using it within minutes is the
--   pattern; add pipelines that apply RBAC and workloads together to exclude_users, and set the gap with
--   within_seconds.
-- param within_seconds: UInt32 = 300
-- param exclude_users: Array(String) = ['system:apiserver', 'system:kube-controller-manager']
-- enabled: true
WITH rbac AS (
    SELECT actor['username'] AS user, eventTime AS t, eventID AS id,
           concat(verb, ' ', `objectRef.resource`, ' ', `objectRef.namespace`, '/', `objectRef.name`) AS what,
           srcIP
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND eventName IN ('create-roles', 'update-roles', 'patch-roles', 'create-clusterroles', 'update-clusterroles',
                        'patch-clusterroles', 'create-rolebindings', 'update-rolebindings', 'patch-rolebindings',
                        'create-clusterrolebindings', 'update-clusterrolebindings', 'patch-clusterrolebindings')
      AND `responseStatus.code` BETWEEN 200 AND 399
      AND NOT has({exclude_users:Array(String)}, actor['username'])
      -- controllers reconcile RBAC and workloads all day; the pattern is about people and stolen tokens
      AND NOT startsWith(actor['username'], 'system:serviceaccount:kube-system:')
), work AS (
    SELECT actor['username'] AS user, eventTime AS t, eventID AS id,
           concat(verb, ' ', `objectRef.resource`, if(tags['objectRef.subresource'] != '', concat('/', tags['objectRef.subresource']), ''),
                  ' ', `objectRef.namespace`, '/', `objectRef.name`) AS what
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)}
      AND eventTime < {end:DateTime64(6)} + toIntervalSecond({within_seconds:UInt32})
      AND eventName IN ('create-pods', 'create-pods-exec', 'create-deployments', 'patch-deployments', 'update-deployments',
                        'create-daemonsets', 'patch-daemonsets', 'update-daemonsets', 'create-statefulsets',
                        'create-jobs', 'create-cronjobs')
      AND stage != 'RequestReceived'
      AND `responseStatus.code` < 400
)
SELECT
    min(rbac.t) AS eventTime,
    arraySlice(arrayDistinct(arrayConcat(groupUniqArray(rbac.id), groupUniqArray(work.id))), 1, 100) AS eventIDs,
    rbac.user AS user,
    any(rbac.srcIP) AS srcIP,
    uniqExact(work.id) AS count,
    concat(arrayStringConcat(groupUniqArray(10)(rbac.what), '; '), ' -> ', arrayStringConcat(groupUniqArray(10)(work.what), '; ')) AS detail
FROM rbac
INNER JOIN work ON work.user = rbac.user
WHERE work.t >= rbac.t AND work.t <= rbac.t + toIntervalSecond({within_seconds:UInt32})
GROUP BY rbac.user
