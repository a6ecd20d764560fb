-- id: k8s-exec-by-service-account
-- title: Service account execs into another pod
-- description: A service account (not a human) execs or attaches into a pod. Workloads rarely need this; a stolen pod token with pods/exec is the classic pivot from one compromised pod to every pod it can reach.
-- severity: medium
-- mitre: T1609, T1550.001, T1078.004
-- operations: create-pods-exec, get-pods-exec, create-pods-attach, get-pods-attach
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: CI runners (Jenkins, GitLab), Argo Workflows and backup operators exec by design; exclude their service accounts.
-- references: https://attack.mitre.org/techniques/T1609/, https://attack.mitre.org/techniques/T1550/001/, https://kubernetes.io/docs/concepts/security/service-accounts/
-- note: Check which workload the service account belongs to and whether its job needs exec (CI runners,
--   backup operators), then read the command and the target pod. An application service account exec'ing into
--   other pods suggests its token was stolen: look for the exec or secret read that exposed it earlier.
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    actor['serviceAccount'] AS serviceAccount,
    `objectRef.namespace` AS namespace,
    `objectRef.name` AS name,
    arrayStringConcat(k8sExecArgv(requestURI), ' ') AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-pods-exec', 'get-pods-exec', 'create-pods-attach', 'get-pods-attach')
  AND actor['serviceAccount'] != ''
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
ORDER BY eventTime
LIMIT 1 BY eventID
