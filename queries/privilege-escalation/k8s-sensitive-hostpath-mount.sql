-- id: k8s-sensitive-hostpath-mount
-- title: Pod or workload mounts a sensitive host path
-- description: A pod or pod template is created or changed with a hostPath volume on a sensitive node location: the root filesystem, /etc, /root, /home, /proc, /sys, /dev, /boot, /var/lib/kubelet, /etc/kubernetes, /var/lib/etcd, /var/log or a container runtime socket (/var/run, /run, docker.sock, containerd.sock, crio.sock). Writing there means node takeover or credential theft.
-- severity: high
-- mitre: T1611, T1552.001
-- operations: create-pods, update-pods, patch-pods, update-pods-ephemeralcontainers, patch-pods-ephemeralcontainers, create-deployments, update-deployments, patch-deployments, create-daemonsets, update-daemonsets, patch-daemonsets, create-statefulsets, update-statefulsets, patch-statefulsets, create-replicasets, update-replicasets, patch-replicasets, create-jobs, update-jobs, patch-jobs, create-cronjobs, update-cronjobs, patch-cronjobs, create-replicationcontrollers, update-replicationcontrollers, patch-replicationcontrollers
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: node-exporter (/, /proc, /sys), log shippers (/var/log), CSI node plugins (/var/lib/kubelet) and some security agents mount these read-only by design.
-- enabled: true
WITH
    ['/', '/etc', '/root', '/home', '/proc', '/sys', '/dev', '/boot', '/var/lib/kubelet', '/etc/kubernetes', '/var/lib/etcd', '/var/log', '/var/run', '/run', '/var/lib/docker', '/var/lib/containerd'] AS sensitive,
    k8sPodSpecs(rawLog) AS specs,
    k8sContainers(specs) AS containers,
    -- trailing slashes dropped so '/etc/' and '/etc' compare equal; a path matches itself or anything below it
    arrayDistinct(arrayFilter(p -> p != '' AND (has(sensitive, p)
                                                OR arrayExists(s -> s != '/' AND startsWith(p, concat(s, '/')), sensitive)
                                                OR match(p, '(docker|containerd|crio|cri-dockerd|podman)\\.sock$')),
        arrayMap(v -> if(length(v) > 1, trimRight(v, '/'), v),
                 arrayFlatten(arrayMap(s -> arrayMap(v -> JSONExtractString(v, 'hostPath', 'path'), JSONExtractArrayRaw(s, 'volumes')),
                                       arraySlice(specs, 2)))))) AS findings
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
