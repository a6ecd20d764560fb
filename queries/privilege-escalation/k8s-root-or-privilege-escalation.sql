-- id: k8s-root-or-privilege-escalation
-- title: Container runs as root or allows privilege escalation
-- description: A pod or pod template is created or changed with runAsUser 0 (pod or container securityContext), runAsNonRoot false, or allowPrivilegeEscalation true set explicitly on a container. Pod Security "restricted" forbids all three; explicitly asking for them is a hardening regression or a step towards escape.
-- severity: low
-- mitre: T1610, T1068
-- operations: create-pods, update-pods, patch-pods, update-pods-ephemeralcontainers, patch-pods-ephemeralcontainers, create-deployments, update-deployments, patch-deployments, create-daemonsets, update-daemonsets, patch-daemonsets, create-statefulsets, update-statefulsets, patch-statefulsets, create-replicasets, update-replicasets, patch-replicasets, create-jobs, update-jobs, patch-jobs, create-cronjobs, update-cronjobs, patch-cronjobs, create-replicationcontrollers, update-replicationcontrollers, patch-replicationcontrollers
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Legacy images that need root, and init containers that fix file ownership; images with no USER run as root without any of these fields and are not seen here.
-- enabled: true
WITH
    k8sPodSpecs(rawLog) AS specs,
    k8sContainers(specs) AS containers,
    arrayDistinct(arrayConcat(
        arrayMap(s -> 'pod:runAsUser=0', arrayFilter(s -> JSONExtractRaw(s, 'securityContext', 'runAsUser') = '0', arraySlice(specs, 2))),
        arrayMap(s -> 'pod:runAsNonRoot=false', arrayFilter(s -> JSONExtractRaw(s, 'securityContext', 'runAsNonRoot') = 'false', arraySlice(specs, 2))),
        arrayFlatten(arrayMap(x -> arrayMap(f -> concat(JSONExtractString(x, 'name'), ':', f), arrayFilter(f -> f != '', [
            if(JSONExtractRaw(x, 'securityContext', 'runAsUser') = '0', 'runAsUser=0', ''),
            if(JSONExtractRaw(x, 'securityContext', 'runAsNonRoot') = 'false', 'runAsNonRoot=false', ''),
            if(JSONExtractRaw(x, 'securityContext', 'allowPrivilegeEscalation') = 'true', 'allowPrivilegeEscalation=true', '')])),
            containers)))) AS findings
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
