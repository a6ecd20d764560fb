-- id: k8s-attack-tool-image
-- title: Pod or workload runs a debugging or attack-tool image
-- description: A pod, workload or ephemeral container is created or changed with an image known as a network debugging or offensive toolkit: netshoot, network-multitool, busybox, alpine/curl and curl images, kali, parrot, BlackArch, kube-hunter, peirates, kubeletctl, BadPods, Metasploit, nmap, ncat, socat, xmrig miners. Hands-on-keyboard attackers bring their tools as images.
-- severity: medium
-- mitre: T1610, T1204.003
-- operations: create-pods, update-pods, patch-pods, create-deployments, update-deployments, patch-deployments, create-daemonsets, update-daemonsets, patch-daemonsets, create-statefulsets, update-statefulsets, patch-statefulsets, create-replicasets, update-replicasets, patch-replicasets, create-jobs, update-jobs, patch-jobs, create-cronjobs, update-cronjobs, patch-cronjobs, create-replicationcontrollers, update-replicationcontrollers, patch-replicationcontrollers, update-pods-ephemeralcontainers, patch-pods-ephemeralcontainers
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: kubectl debug (busybox by default) and SREs troubleshooting networks with netshoot; tune the pattern parameter to your registry policy.
-- param pattern: String = (^|/)(netshoot|network-multitool|multitool|busybox|curl|kali[a-z-]*|kalilinux|parrot[a-z-]*|blackarch|kube-hunter|peirates|kubeletctl|badpods?|metasploit[a-z-]*|nmap|ncat|socat|xmrig|cpuminer|botb|deepce|cdk|amicontained)$
-- enabled: true
WITH
    arraySlice(k8sPodSpecs(rawLog), 1, 4) AS specs,
    k8sContainers(specs) AS containers,
    -- match the image's repository path, not its tag or registry host
    arrayDistinct(arrayFilter(i -> match(lower(replaceRegexpOne(i, '[:@].*$', '')), {pattern:String}),
                              arrayMap(x -> JSONExtractString(x, 'image'), containers))) AS images
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.namespace` AS namespace,
    resources[1] AS object,
    arrayStringConcat(images, ',') AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-pods', 'update-pods', 'patch-pods', 'create-deployments', 'update-deployments', 'patch-deployments', 'create-daemonsets', 'update-daemonsets', 'patch-daemonsets', 'create-statefulsets', 'update-statefulsets', 'patch-statefulsets', 'create-replicasets', 'update-replicasets', 'patch-replicasets', 'create-jobs', 'update-jobs', 'patch-jobs', 'create-cronjobs', 'update-cronjobs', 'patch-cronjobs', 'create-replicationcontrollers', 'update-replicationcontrollers', 'patch-replicationcontrollers', 'update-pods-ephemeralcontainers', 'patch-pods-ephemeralcontainers')
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  AND notEmpty(images)
ORDER BY eventTime
