-- id: k8s-kubectl-cp
-- title: Files copied out of or into a pod (kubectl cp)
-- description: kubectl cp is an exec of tar: 'tar cf - PATH' streams files out of the container (collection/exfiltration), 'tar xmf -' writes files into it (tool transfer). The detail shows the direction and path.
-- severity: medium
-- mitre: T1005, T1048, T1105, T1609
-- operations: create-pods-exec, get-pods-exec
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Engineers pulling logs or dumps from pods; backup scripts built on kubectl cp.
-- references: https://attack.mitre.org/techniques/T1005/, https://attack.mitre.org/techniques/T1105/, https://kubernetes.io/docs/reference/kubectl/generated/kubectl_cp/
-- note: The detail shows the direction: for 'tar cf' (out of the pod) check what the path holds (secrets,
--   dumps, the service account token) and where the user's source IP is; for 'tar xmf' (into the pod) look
--   for a later exec that runs the copied file. Pull the user's other exec and port-forward requests in the
--   same hour with `loader sql`.
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
  AND argv[1] = 'tar' AND match(cmdline, '^tar\\s+(--[a-z-]+\\s+)*-?[a-z]*[cx][a-z]*f\\s+-(\\s|$)')
ORDER BY eventTime
LIMIT 1 BY eventID
