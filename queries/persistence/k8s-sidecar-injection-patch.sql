-- id: k8s-sidecar-injection-patch
-- title: Container injected into a workload by patch
-- description: A patch adds a full container definition (command, args, ports, volume mounts, security context or env besides name and image) to a pod template, or a JSON patch adds to containers/initContainers. A sidecar injected into an existing workload inherits its service account, secrets and network position and survives restarts. An image-only patch (kubectl set image) does not match.
-- severity: medium
-- mitre: T1610, T1525, T1543
-- operations: patch-pods, patch-deployments, patch-daemonsets, patch-statefulsets, patch-replicasets, patch-jobs, patch-cronjobs, patch-replicationcontrollers
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Service-mesh and secret injectors mutate pods through admission webhooks (not patches); kubectl apply/edit of a changed container definition by a deployer matches too. The well-known system components are excluded: exclude_identities, exclude_workloads, exclude_workload_names (queries/README.md, Exclusions).
-- references: https://attack.mitre.org/techniques/T1610/, https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/, https://github.com/SigmaHQ/sigma/blob/master/rules/application/kubernetes/audit/kubernetes_audit_sidecar_injection.yml
-- note: Read the injected container in the patch body (image, command, mounts, env) and compare it with the
--   workload's chart or Git source: a container that is not in source is the red flag. Check the patching
--   identity and whether it patched other workloads in the same window.
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
    JSONExtractRaw(rawLog, 'requestObject') AS body,
    -- strategic-merge / merge patch: containers listed with more than name and image
    arrayFilter(x -> arrayExists(k -> k NOT IN ('name', 'image', 'imagePullPolicy', 'resources', '$patch'), JSONExtractKeys(x)),
        arrayConcat(JSONExtractArrayRaw(body, 'spec', 'containers'), JSONExtractArrayRaw(body, 'spec', 'initContainers'),
                    JSONExtractArrayRaw(body, 'spec', 'template', 'spec', 'containers'), JSONExtractArrayRaw(body, 'spec', 'template', 'spec', 'initContainers'),
                    JSONExtractArrayRaw(body, 'spec', 'jobTemplate', 'spec', 'template', 'spec', 'containers'))) AS merged,
    -- RFC 6902 JSON patch: the body is an array of operations
    arrayFilter(op -> JSONExtractString(op, 'op') = 'add'
                      AND match(JSONExtractString(op, 'path'), '/(containers|initContainers)(/-|/[0-9]+)?$'),
                if(JSONType(body) = 'Array', JSONExtractArrayRaw(body), [])) AS added,
    arrayConcat(arrayMap(x -> concat(JSONExtractString(x, 'name'), '=', JSONExtractString(x, 'image')), merged),
                arrayMap(op -> concat(JSONExtractString(op, 'value', 'name'), '=', JSONExtractString(op, 'value', 'image')), added)) AS injected
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    `objectRef.namespace` AS namespace,
    `objectRef.resource` AS resource,
    `objectRef.name` AS name,
    arrayStringConcat(injected, ',') AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('patch-pods', 'patch-deployments', 'patch-daemonsets', 'patch-statefulsets', 'patch-replicasets', 'patch-jobs', 'patch-cronjobs', 'patch-replicationcontrollers')
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  -- the control plane's own identities (controllers, kubelets, scheduler) do this all day
  AND NOT (startsWith(actor['username'], 'system:serviceaccount:kube-system:') OR startsWith(actor['username'], 'system:node:')
           OR actor['username'] IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver', 'system:kube-proxy'))
  AND notEmpty(injected)
  -- well-known system components (queries/README.md, Exclusions): who wrote it, or the workload it belongs to
  AND actor['username'] NOT IN {exclude_identities:Array(String)}
  AND concat(`objectRef.namespace`, '/', workload) NOT IN {exclude_workloads:Array(String)}
  AND NOT arrayExists(n -> n != '' AND (workload = n OR endsWith(workload, concat('-', n))), {exclude_workload_names:Array(String)})
ORDER BY eventTime
