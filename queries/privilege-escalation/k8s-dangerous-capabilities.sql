-- id: k8s-dangerous-capabilities
-- title: Container adds a dangerous Linux capability
-- description: A pod or pod template is created or changed with a container (including init and ephemeral containers) whose securityContext.capabilities.add holds a capability that allows container escape, kernel access or host-wide snooping: SYS_ADMIN, SYS_MODULE, SYS_PTRACE, SYS_RAWIO, SYS_BOOT, BPF, PERFMON, DAC_READ_SEARCH, DAC_OVERRIDE, NET_ADMIN, NET_RAW on top of the default set, SYSLOG, MAC_ADMIN, MAC_OVERRIDE or ALL.
-- severity: medium
-- mitre: T1610, T1611
-- operations: create-pods, update-pods, patch-pods, update-pods-ephemeralcontainers, patch-pods-ephemeralcontainers, create-deployments, update-deployments, patch-deployments, create-daemonsets, update-daemonsets, patch-daemonsets, create-statefulsets, update-statefulsets, patch-statefulsets, create-replicasets, update-replicasets, patch-replicasets, create-jobs, update-jobs, patch-jobs, create-cronjobs, update-cronjobs, patch-cronjobs, create-replicationcontrollers, update-replicationcontrollers, patch-replicationcontrollers
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: CNI plugins and VPN sidecars add NET_ADMIN; profilers and eBPF agents add SYS_PTRACE, BPF or PERFMON. The well-known system components are excluded: exclude_identities, exclude_workloads, exclude_workload_names (queries/README.md, Exclusions).
-- references: https://attack.mitre.org/techniques/T1610/, https://kubernetes.io/docs/tasks/configure-pod-container/security-context/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/privilege_escalation_container_created_with_excessive_linux_capabilities.toml
-- note: Check which capability was added to which container, and whether the workload is a known CNI, VPN,
--   profiler or eBPF agent from a vendor chart. SYS_ADMIN, SYS_MODULE or ALL in an application pod is close
--   to privileged: look at its image, host mounts and the creator's other requests.
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
  -- well-known system components (queries/README.md, Exclusions): who wrote it, or the workload it belongs to
  AND actor['username'] NOT IN {exclude_identities:Array(String)}
  AND concat(`objectRef.namespace`, '/', workload) NOT IN {exclude_workloads:Array(String)}
  AND NOT arrayExists(n -> n != '' AND (workload = n OR endsWith(workload, concat('-', n))), {exclude_workload_names:Array(String)})
ORDER BY eventTime
