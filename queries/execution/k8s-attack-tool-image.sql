-- id: k8s-attack-tool-image
-- title: Pod or workload runs a debugging or attack-tool image
-- description: A pod, workload or ephemeral container is created or changed with an image known as a network debugging or offensive toolkit: netshoot, network-multitool, busybox, alpine/curl and curl images, kali, parrot, BlackArch, kube-hunter, peirates, kubeletctl, BadPods, Metasploit, nmap, ncat, socat, xmrig miners. Hands-on-keyboard attackers bring their tools as images.
-- severity: medium
-- mitre: T1610, T1204.003
-- operations: create-pods, update-pods, patch-pods, create-deployments, update-deployments, patch-deployments, create-daemonsets, update-daemonsets, patch-daemonsets, create-statefulsets, update-statefulsets, patch-statefulsets, create-replicasets, update-replicasets, patch-replicasets, create-jobs, update-jobs, patch-jobs, create-cronjobs, update-cronjobs, patch-cronjobs, create-replicationcontrollers, update-replicationcontrollers, patch-replicationcontrollers, update-pods-ephemeralcontainers, patch-pods-ephemeralcontainers
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: kubectl debug (busybox by default) and SREs troubleshooting networks with netshoot; tune the pattern parameter to your registry policy. The well-known system components are excluded: exclude_identities, exclude_workloads, exclude_workload_names (queries/README.md, Exclusions).
-- references: https://attack.mitre.org/techniques/T1610/, https://attack.mitre.org/techniques/T1204/003/, https://kubernetes.io/docs/concepts/containers/images/
-- note: Check who created the pod, from where, and whether the image came from your own registry or a public
--   one: a kubectl debug session by an on-call engineer is expected, a toolkit image deployed by a service
--   account is not. Look for exec into the pod and port-forwards after it started; tune the pattern parameter
--   to your registry policy.
-- param pattern: String = (^|/)(netshoot|network-multitool|multitool|busybox|curl|kali[a-z-]*|kalilinux|parrot[a-z-]*|blackarch|kube-hunter|peirates|kubeletctl|badpods?|metasploit[a-z-]*|nmap|ncat|socat|xmrig|cpuminer|botb|deepce|cdk|amicontained)$
-- param exclude_identities: Array(String) = ['eks:addon-manager', 'system:addon-manager', 'aksService']
-- param exclude_workloads: Array(String) = ['kube-system/aws-node', 'kube-system/kube-proxy', 'kube-system/coredns',
--   'kube-system/eks-pod-identity-agent', 'kube-system/ebs-csi-node', 'kube-system/ebs-csi-node-windows',
--   'kube-system/ebs-csi-controller', 'kube-system/efs-csi-node', 'kube-system/efs-csi-controller', 'kube-system/fsx-csi-node',
--   'kube-system/s3-csi-node', 'amazon-cloudwatch/cloudwatch-agent', 'amazon-cloudwatch/fluent-bit',
--   'amazon-guardduty/aws-guardduty-agent', 'kube-system/gke-metadata-server', 'kube-system/fluentbit-gke',
--   'kube-system/gke-metrics-agent', 'kube-system/pdcsi-node', 'kube-system/pdcsi-node-windows', 'kube-system/filestore-node',
--   'kube-system/gcsfusecsi-node', 'kube-system/netd', 'kube-system/anetd', 'kube-system/ip-masq-agent',
--   'kube-system/node-local-dns', 'kube-system/nvidia-gpu-device-plugin', 'kube-system/konnectivity-agent',
--   'kube-system/azure-cns', 'kube-system/azure-cns-win', 'kube-system/azure-ip-masq-agent', 'kube-system/azure-npm',
--   'kube-system/cloud-node-manager', 'kube-system/cloud-node-manager-windows', 'kube-system/csi-azuredisk-node',
--   'kube-system/csi-azuredisk-node-win', 'kube-system/csi-azurefile-node', 'kube-system/csi-azurefile-node-win',
--   'kube-system/csi-blob-node', 'kube-system/ama-logs', 'kube-system/ama-logs-windows', 'kube-system/ama-metrics-node',
--   'kube-system/microsoft-defender-collector-ds', 'kube-system/calico-node', 'calico-system/calico-node',
--   'calico-system/csi-node-driver', 'kube-system/cilium', 'kube-system/cilium-envoy', 'kube-system/kube-flannel-ds',
--   'kube-flannel/kube-flannel-ds', 'kube-system/weave-net', 'kube-system/kube-router', 'kube-system/canal',
--   'kube-system/antrea-agent', 'kube-system/kube-multus-ds']
-- param exclude_workload_names: Array(String) = []
-- enabled: true
WITH
    k8sWorkloadName(`objectRef.resource`, `objectRef.name`, actor['username'], rawLog) AS workload,
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
  -- well-known system components (queries/README.md, Exclusions): who wrote it, or the workload it belongs to
  AND actor['username'] NOT IN {exclude_identities:Array(String)}
  AND concat(`objectRef.namespace`, '/', workload) NOT IN {exclude_workloads:Array(String)}
  AND NOT arrayExists(n -> n != '' AND (workload = n OR endsWith(workload, concat('-', n))), {exclude_workload_names:Array(String)})
ORDER BY eventTime
