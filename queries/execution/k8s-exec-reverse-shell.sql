-- id: k8s-exec-reverse-shell
-- title: Exec starts a reverse shell or background implant
-- description: The exec command line holds a reverse-shell or implant pattern: /dev/tcp or /dev/udp redirection, nc/ncat -e, mkfifo pipes, socat exec:, interactive shells (bash -i), Python/Perl/Ruby socket one-liners, or a download piped into a shell.
-- severity: high
-- mitre: T1059.004, T1609, T1105
-- operations: create-pods-exec, get-pods-exec
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: None expected in normal operations.
-- references: https://attack.mitre.org/techniques/T1059/004/, https://attack.mitre.org/techniques/T1609/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/execution_kubernetes_pod_exec_potential_reverse_shell.toml
-- note: Treat as an incident: take the remote address from the command line, block it, and check network
--   flows for a connection from the pod. Review the user's and source IP's other requests with `loader sql`
--   and the credentials reachable from the pod (service account token, mounted secrets).
-- param patterns: String = (?i)/dev/(tcp|udp)/|\b(nc|ncat|netcat)\b.*\s-[a-z]*[ec]\s|mkfifo|socat\b.*exec:|\b(ba|z)?sh\s+-i\b|(python[0-9.]*|perl|ruby|php)\s+-[a-z]*\s.*socket|(curl|wget)\b[^|]*\|\s*(ba|z)?sh\b
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
  AND match(cmdline, {patterns:String})
ORDER BY eventTime
LIMIT 1 BY eventID
