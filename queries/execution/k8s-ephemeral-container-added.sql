-- id: k8s-ephemeral-container-added
-- title: Ephemeral container added to a running pod
-- description: Someone added an ephemeral container to a running pod (kubectl debug). It shares the pod's namespaces, can target another container's process namespace and is not visible in the workload spec: a quiet way to run tools next to an application.
-- severity: medium
-- mitre: T1609, T1610
-- operations: update-pods-ephemeralcontainers, patch-pods-ephemeralcontainers
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Engineers debugging distroless containers with kubectl debug.
-- references: https://attack.mitre.org/techniques/T1609/, https://kubernetes.io/docs/concepts/workloads/pods/ephemeral-containers/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/privilege_escalation_kubernetes_ephemeral_container_added_to_pod.toml
-- note: Check the ephemeral container's image and targetContainerName when the body is logged, and whether
--   the user normally debugs this workload. Follow the user's attach and exec requests to the same pod; a
--   tool image added to a production pod that holds sensitive tokens should be confirmed with the user.
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.namespace` AS namespace,
    `objectRef.name` AS name,
    arrayStringConcat(arrayMap(x -> concat(JSONExtractString(x, 'name'), '=', JSONExtractString(x, 'image')),
        arrayConcat(JSONExtractArrayRaw(rawLog, 'requestObject', 'spec', 'ephemeralContainers'),
                    JSONExtractArrayRaw(rawLog, 'requestObject', 'ephemeralContainers'))), ',') AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('update-pods-ephemeralcontainers', 'patch-pods-ephemeralcontainers')
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
ORDER BY eventTime
