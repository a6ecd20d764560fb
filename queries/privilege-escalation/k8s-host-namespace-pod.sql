-- id: k8s-host-namespace-pod
-- title: Pod or workload shares the node's network, PID or IPC namespace
-- description: A pod or pod template is created or changed with hostNetwork, hostPID or hostIPC set to true. hostPID lets a container see and ptrace every process on the node, hostNetwork lets it sniff node traffic and reach services bound to localhost, hostIPC exposes shared memory.
-- severity: medium
-- mitre: T1610, T1611
-- operations: create-pods, update-pods, patch-pods, update-pods-ephemeralcontainers, patch-pods-ephemeralcontainers, create-deployments, update-deployments, patch-deployments, create-daemonsets, update-daemonsets, patch-daemonsets, create-statefulsets, update-statefulsets, patch-statefulsets, create-replicasets, update-replicasets, patch-replicasets, create-jobs, update-jobs, patch-jobs, create-cronjobs, update-cronjobs, patch-cronjobs, create-replicationcontrollers, update-replicationcontrollers, patch-replicationcontrollers
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: kube-proxy, CNI plugins, node-exporter and similar node agents use hostNetwork or hostPID by design (usually DaemonSets in system namespaces). The well-known system components are excluded: exclude_identities, exclude_workloads, exclude_workload_names (queries/README.md, Exclusions).
-- references: https://attack.mitre.org/techniques/T1610/, https://kubernetes.io/docs/concepts/security/pod-security-standards/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/privilege_escalation_pod_created_with_hostpid.toml
-- note: Check which of hostNetwork, hostPID or hostIPC was set and whether the pod is a node agent from a
--   known chart (kube-proxy, CNI, node-exporter). An application or ad-hoc pod with hostPID and a shell image
--   is a node-escape setup: look for an exec into it with nsenter or chroot in the command.
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
-- param exclude_workload_names: Array(String) = ['node-exporter']
-- enabled: true
WITH
    k8sWorkloadName(`objectRef.resource`, `objectRef.name`, actor['username'], rawLog) AS workload,
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
  -- well-known system components (queries/README.md, Exclusions): who wrote it, or the workload it belongs to
  AND actor['username'] NOT IN {exclude_identities:Array(String)}
  AND concat(`objectRef.namespace`, '/', workload) NOT IN {exclude_workloads:Array(String)}
  AND NOT arrayExists(n -> n != '' AND (workload = n OR endsWith(workload, concat('-', n))), {exclude_workload_names:Array(String)})
ORDER BY eventTime
