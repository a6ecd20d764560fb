-- id: k8s-privileged-container
-- title: Privileged container in a pod or workload
-- description: A pod, pod template (Deployment, DaemonSet, StatefulSet, ReplicaSet, Job, CronJob, ReplicationController) or ephemeral container is created or changed with securityContext.privileged = true in any container, init container or ephemeral container. A privileged container has every capability and all host devices: it is one step from the node.
-- severity: high
-- mitre: T1610, T1611
-- operations: create-pods, update-pods, patch-pods, update-pods-ephemeralcontainers, patch-pods-ephemeralcontainers, create-deployments, update-deployments, patch-deployments, create-daemonsets, update-daemonsets, patch-daemonsets, create-statefulsets, update-statefulsets, patch-statefulsets, create-replicasets, update-replicasets, patch-replicasets, create-jobs, update-jobs, patch-jobs, create-cronjobs, update-cronjobs, patch-cronjobs, create-replicationcontrollers, update-replicationcontrollers, patch-replicationcontrollers
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: CNI, storage and monitoring agents (calico-node, CSI node plugins) run privileged by design; a workload and each pod it creates all match, so expect one hit per object in the chain.
-- enabled: true
WITH
    k8sPodSpecs(rawLog) AS specs,
    k8sContainers(specs) AS containers,
    arrayDistinct(arrayMap(x -> concat(JSONExtractString(x, 'name'), '=', JSONExtractString(x, 'image')),
                           arrayFilter(x -> JSONExtractBool(x, 'securityContext', 'privileged'), containers))) AS privileged
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    `objectRef.namespace` AS namespace,
    resources[1] AS object,
    verb,
    privileged AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN k8sPodSpecWrites()
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  AND notEmpty(privileged)
ORDER BY eventTime
