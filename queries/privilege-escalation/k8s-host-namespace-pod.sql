-- id: k8s-host-namespace-pod
-- title: Pod or workload shares the node's network, PID or IPC namespace
-- description: A pod or pod template is created or changed with hostNetwork, hostPID or hostIPC set to true. hostPID lets a container see and ptrace every process on the node, hostNetwork lets it sniff node traffic and reach services bound to localhost, hostIPC exposes shared memory.
-- severity: medium
-- mitre: T1610, T1611
-- operations: create-pods, update-pods, patch-pods, update-pods-ephemeralcontainers, patch-pods-ephemeralcontainers, create-deployments, update-deployments, patch-deployments, create-daemonsets, update-daemonsets, patch-daemonsets, create-statefulsets, update-statefulsets, patch-statefulsets, create-replicasets, update-replicasets, patch-replicasets, create-jobs, update-jobs, patch-jobs, create-cronjobs, update-cronjobs, patch-cronjobs, create-replicationcontrollers, update-replicationcontrollers, patch-replicationcontrollers
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: kube-proxy, CNI plugins, node-exporter and similar node agents use hostNetwork or hostPID by design (usually DaemonSets in system namespaces).
-- enabled: true
WITH
    k8sPodSpecs(rawLog) AS specs,
    k8sContainers(specs) AS containers,
    arrayDistinct(arrayFlatten(arrayMap(s -> arrayFilter(k -> JSONExtractBool(s, k), ['hostNetwork', 'hostPID', 'hostIPC']),
                                        arraySlice(specs, 2)))) AS findings
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
