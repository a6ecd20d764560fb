-- id: k8s-security-profile-disabled
-- title: Container disables its seccomp, AppArmor or /proc masking
-- description: A pod or pod template is created or changed with seccompProfile Unconfined, appArmorProfile Unconfined (field or the container.apparmor.security.beta.kubernetes.io annotation), or procMount Unmasked. Each removes a kernel-level guard that blocks common container escapes.
-- severity: medium
-- mitre: T1610, T1562.001
-- operations: create-pods, update-pods, patch-pods, update-pods-ephemeralcontainers, patch-pods-ephemeralcontainers, create-deployments, update-deployments, patch-deployments, create-daemonsets, update-daemonsets, patch-daemonsets, create-statefulsets, update-statefulsets, patch-statefulsets, create-replicasets, update-replicasets, patch-replicasets, create-jobs, update-jobs, patch-jobs, create-cronjobs, update-cronjobs, patch-cronjobs, create-replicationcontrollers, update-replicationcontrollers, patch-replicationcontrollers
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Debugging and tracing tools, nested container builders (buildkit rootless, sysbox) that need an unmasked /proc.
-- enabled: true
WITH
    k8sPodSpecs(rawLog) AS specs,
    k8sContainers(specs) AS containers,
    arrayDistinct(arrayConcat(
        arrayFlatten(arrayMap(x -> arrayMap(f -> concat(JSONExtractString(x, 'name'), ':', f), arrayFilter(f -> f != '', [
            if(JSONExtractString(x, 'securityContext', 'seccompProfile', 'type') = 'Unconfined', 'seccomp=Unconfined', ''),
            if(JSONExtractString(x, 'securityContext', 'appArmorProfile', 'type') = 'Unconfined', 'appArmor=Unconfined', ''),
            if(JSONExtractString(x, 'securityContext', 'procMount') = 'Unmasked', 'procMount=Unmasked', '')])),
            containers)),
        arrayMap(s -> 'pod:seccomp=Unconfined', arrayFilter(s -> JSONExtractString(s, 'securityContext', 'seccompProfile', 'type') = 'Unconfined', arraySlice(specs, 2))),
        arrayMap(s -> 'pod:appArmor=Unconfined', arrayFilter(s -> JSONExtractString(s, 'securityContext', 'appArmorProfile', 'type') = 'Unconfined', arraySlice(specs, 2))),
        arrayMap(kv -> concat('annotation:', kv.1, '=unconfined'),
                 arrayFilter(kv -> startsWith(kv.1, 'container.apparmor.security.beta.kubernetes.io/') AND kv.2 = 'unconfined',
                             arrayConcat(JSONExtractKeysAndValues(rawLog, 'requestObject', 'metadata', 'annotations', 'String'),
                                         JSONExtractKeysAndValues(rawLog, 'requestObject', 'spec', 'template', 'metadata', 'annotations', 'String')))))) AS findings
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
