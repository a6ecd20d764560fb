-- id: k8s-security-profile-disabled
-- title: Container disables its seccomp, AppArmor or /proc masking
-- description: A pod or pod template is created or changed with seccompProfile Unconfined, appArmorProfile Unconfined (field or the container.apparmor.security.beta.kubernetes.io annotation), or procMount Unmasked. Each removes a kernel-level guard that blocks common container escapes.
-- severity: medium
-- mitre: T1610, T1562.001
-- operations: create-pods, update-pods, patch-pods, update-pods-ephemeralcontainers, patch-pods-ephemeralcontainers, create-deployments, update-deployments, patch-deployments, create-daemonsets, update-daemonsets, patch-daemonsets, create-statefulsets, update-statefulsets, patch-statefulsets, create-replicasets, update-replicasets, patch-replicasets, create-jobs, update-jobs, patch-jobs, create-cronjobs, update-cronjobs, patch-cronjobs, create-replicationcontrollers, update-replicationcontrollers, patch-replicationcontrollers
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Debugging and tracing tools, nested container builders (buildkit rootless, sysbox) that need an unmasked /proc. The well-known system components are excluded: exclude_identities, exclude_workloads, exclude_workload_names (queries/README.md, Exclusions).
-- references: https://attack.mitre.org/techniques/T1610/, https://attack.mitre.org/techniques/T1562/001/, https://kubernetes.io/docs/tutorials/security/seccomp/
-- note: Check the owning workload and whether its manifest comes from a known chart or vendor that documents
--   the need (tracing tools, nested builders). For an unknown pod, look at its image, its other
--   securityContext fields (privileged, capabilities, hostPath) and the creator's other requests; enforce Pod
--   Security baseline where it should not be allowed.
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
  -- well-known system components (queries/README.md, Exclusions): who wrote it, or the workload it belongs to
  AND actor['username'] NOT IN {exclude_identities:Array(String)}
  AND concat(`objectRef.namespace`, '/', workload) NOT IN {exclude_workloads:Array(String)}
  AND NOT arrayExists(n -> n != '' AND (workload = n OR endsWith(workload, concat('-', n))), {exclude_workload_names:Array(String)})
ORDER BY eventTime
