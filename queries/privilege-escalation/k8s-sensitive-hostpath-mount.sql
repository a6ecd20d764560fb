-- id: k8s-sensitive-hostpath-mount
-- title: Pod or workload mounts a sensitive host path
-- description: A pod or pod template is created or changed with a hostPath volume on a sensitive node location (sensitive_paths): the root filesystem itself, /etc, /root, /home, /proc, /sys, /dev, /boot, /var/lib/kubelet, /var/lib/etcd, /var/log, the container runtimes' state and the runtime, D-Bus and systemd sockets under /run and /var/run; anything below those or holding them (/var, /run); or a container runtime socket anywhere (sensitive_sockets: docker.sock, containerd.sock, crio.sock, ...). Paths compare by whole components: /run/xtables.lock, which CNI plugins and kube-proxy mount, is not sensitive. Writing there means node takeover or credential theft.
-- severity: high
-- mitre: T1611, T1552.001
-- operations: create-pods, update-pods, patch-pods, update-pods-ephemeralcontainers, patch-pods-ephemeralcontainers, create-deployments, update-deployments, patch-deployments, create-daemonsets, update-daemonsets, patch-daemonsets, create-statefulsets, update-statefulsets, patch-statefulsets, create-replicasets, update-replicasets, patch-replicasets, create-jobs, update-jobs, patch-jobs, create-cronjobs, update-cronjobs, patch-cronjobs, create-replicationcontrollers, update-replicationcontrollers, patch-replicationcontrollers
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Log shippers (/var/log), CSI node plugins (/var/lib/kubelet), security agents and node-exporter (/, /proc, /sys read-only) mount these by design; the well-known system components are excluded by exclude_identities and exclude_workloads, node-exporter by name in any namespace (exclude_workload_names, queries/README.md, Exclusions). Add your own agents there rather than shortening sensitive_paths.
-- references: https://attack.mitre.org/techniques/T1611/, https://kubernetes.io/docs/concepts/storage/volumes/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/privilege_escalation_pod_created_with_sensitive_hostpath_volume.toml
-- note: Check the mounted path, whether it is read-only, and whether the workload is a known node agent
--   (node-exporter, log shipper, CSI plugin) from a vendor chart. A writable /, /etc, /var/lib/kubelet or
--   runtime socket mount in an ad-hoc pod means node takeover: look for an exec into the pod and for the
--   node's credentials used elsewhere.
-- param sensitive_paths: Array(String) = ['/', '/etc', '/root', '/home', '/proc', '/sys', '/dev', '/boot', '/var/lib/kubelet',
--   '/var/lib/etcd', '/var/log', '/var/lib/docker', '/var/lib/containerd', '/run/containerd', '/var/run/containerd', '/run/crio',
--   '/var/run/crio', '/run/docker', '/var/run/docker', '/run/dbus', '/var/run/dbus', '/run/systemd', '/var/run/systemd']
-- param sensitive_sockets: Array(String) = ['docker.sock', 'containerd.sock', 'crio.sock', 'cri-dockerd.sock', 'dockershim.sock', 'podman.sock']
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
    -- a host path is sensitive when it is a sensitive path or lies below one ('/run/containerd/containerd.sock'), or
    -- holds one (mounting '/var' exposes '/var/lib/kubelet'); k8sPathUnder compares whole path components, so
    -- '/run/xtables.lock' (every CNI plugin and kube-proxy mount it) is none of these, and '/' is only '/' itself.
    -- A runtime socket is sensitive wherever it is.
    arrayDistinct(arrayFilter(p -> p != '' AND (k8sPathUnder(p, {sensitive_paths:Array(String)})
                                                OR arrayExists(s -> k8sPathUnder(s, [p]), {sensitive_paths:Array(String)})
                                                OR has({sensitive_sockets:Array(String)}, splitByChar('/', k8sCleanPath(p))[-1])),
        arrayMap(v -> JSONExtractString(v, 'hostPath', 'path'), k8sVolumes(arraySlice(specs, 2))))) AS findings
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
