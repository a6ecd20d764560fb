-- id: k8s-dangerous-capabilities
-- title: Container adds a dangerous Linux capability
-- description: A pod or pod template is created or changed with a container (including init and ephemeral containers) whose securityContext.capabilities.add holds a capability that allows container escape, kernel access or host-wide snooping: SYS_ADMIN, SYS_MODULE, SYS_PTRACE, SYS_RAWIO, SYS_BOOT, BPF, PERFMON, DAC_READ_SEARCH, DAC_OVERRIDE, NET_ADMIN, NET_RAW on top of the default set, SYSLOG, MAC_ADMIN, MAC_OVERRIDE or ALL.
-- severity: medium
-- mitre: T1610, T1611
-- operations: create-pods, update-pods, patch-pods, update-pods-ephemeralcontainers, patch-pods-ephemeralcontainers, create-deployments, update-deployments, patch-deployments, create-daemonsets, update-daemonsets, patch-daemonsets, create-statefulsets, update-statefulsets, patch-statefulsets, create-replicasets, update-replicasets, patch-replicasets, create-jobs, update-jobs, patch-jobs, create-cronjobs, update-cronjobs, patch-cronjobs, create-replicationcontrollers, update-replicationcontrollers, patch-replicationcontrollers
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: CNI plugins and VPN sidecars add NET_ADMIN; profilers and eBPF agents add SYS_PTRACE, BPF or PERFMON.
-- enabled: true
WITH
    ['SYS_ADMIN', 'SYS_MODULE', 'SYS_PTRACE', 'SYS_RAWIO', 'SYS_BOOT', 'BPF', 'PERFMON', 'DAC_READ_SEARCH', 'DAC_OVERRIDE', 'NET_ADMIN', 'SYSLOG', 'MAC_ADMIN', 'MAC_OVERRIDE', 'ALL'] AS dangerous,
    k8sPodSpecs(rawLog) AS specs,
    k8sContainers(specs) AS containers,
    -- 'CAP_SYS_ADMIN' and 'sys_admin' are accepted by runtimes as well
    arrayDistinct(arrayFlatten(arrayMap(x -> arrayMap(cap -> concat(JSONExtractString(x, 'name'), ':', cap),
        arrayFilter(cap -> has(dangerous, cap),
                    arrayMap(cap -> replaceRegexpOne(upper(cap), '^CAP_', ''),
                             JSONExtract(x, 'securityContext', 'capabilities', 'add', 'Array(String)')))), containers))) AS findings
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    `objectRef.namespace` AS namespace,
    resources[1] AS object,
    verb,
    findings AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN k8sPodSpecWrites()
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  AND notEmpty(findings)
ORDER BY eventTime
