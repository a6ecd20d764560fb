-- id: k8s-exec-shell
-- title: Interactive or scripted shell exec into a pod
-- description: kubectl exec starts a shell (sh, bash, zsh, ash, dash, ksh, busybox sh, PowerShell, cmd) in a container: hands-on-keyboard access with the pod's service account token and network position.
-- severity: medium
-- mitre: T1609, T1059.004
-- operations: create-pods-exec, get-pods-exec
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Engineers debugging; restrict to production namespaces or exclude on-call identities.
-- references: https://attack.mitre.org/techniques/T1609/, https://kubernetes.io/docs/tasks/debug/debug-application/get-shell-running-container/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/execution_user_exec_to_pod.toml
-- note: Check who opened the shell, from which source IP, and whether it matches an incident or change
--   window; a shell in production by a service account or an unknown user is the case to chase. Follow the
--   user's other execs, cp and secret reads in the hour; narrow with the shells parameter or by excluding
--   on-call identities.
-- param shells: String = ^(.*/)?(sh|bash|zsh|ash|dash|ksh|mksh|csh|tcsh|fish|pwsh|powershell(\.exe)?|cmd(\.exe)?)$
-- enabled: true
WITH
    k8sExecArgv(requestURI) AS argv,
    arrayStringConcat(argv, ' ') AS cmdline
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    `objectRef.namespace` AS namespace,
    `objectRef.name` AS name,
    extract(requestURI, '[?&]container=([^&]*)') AS container,
    cmdline AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-pods-exec', 'get-pods-exec')
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  AND (match(argv[1], {shells:String}) OR (match(argv[1], '(^|/)busybox$') AND match(argv[2], {shells:String})))
ORDER BY eventTime
LIMIT 1 BY eventID
