-- id: k8s-exec-network-tool
-- title: Exec runs a download or network tool in a pod
-- description: The exec command line runs curl, wget, nc/ncat/netcat, socat, telnet, nmap, masscan, ssh/scp, ftp/tftp or a scripting one-liner fetching a URL: tool download, lateral movement or exfiltration from inside the cluster network.
-- severity: medium
-- mitre: T1609, T1105, T1059
-- operations: create-pods-exec, get-pods-exec
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Connectivity checks during incidents (curl to a service). Exclude health-check automation by identity.
-- references: https://attack.mitre.org/techniques/T1609/, https://attack.mitre.org/techniques/T1105/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/execution_kubernetes_pod_exec_curl_wget_https.toml
-- note: Read the command line in detail: the destination host or URL tells an internal health check from a
--   download from the internet. Check for a later exec that runs the fetched file and whether the pod's
--   NetworkPolicy allows that egress; exclude health-check automation by identity.
-- param tools: String = (?i)(^|[\s/;|&(`])(curl|wget|nc|ncat|netcat|socat|telnet|nmap|masscan|zmap|ssh|scp|sftp|ftp|tftp|aria2c)(\s|$)|https?://
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
  AND match(cmdline, {tools:String})
ORDER BY eventTime
LIMIT 1 BY eventID
