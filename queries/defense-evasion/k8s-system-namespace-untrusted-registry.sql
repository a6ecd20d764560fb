-- id: k8s-system-namespace-untrusted-registry
-- title: Workload in a system namespace runs an image from an unexpected registry
-- description: A pod, pod controller or ephemeral container in kube-system (or another namespace in
--   system_namespaces) is created, updated or patched with a container image whose registry is not in
--   allowed_registries. Cluster components come from a handful of vendor registries (registry.k8s.io,
--   the cloud provider's, the CNI's); an image from Docker Hub or a personal registry among them is an
--   implant hiding next to the most privileged pods in the cluster, or an add-on nobody vetted. Images
--   without a registry resolve to docker.io (nginx -> docker.io/library/nginx). An allowed entry is a
--   registry or repository prefix; '*' stands for one host label sequence (no '/').
-- severity: medium
-- mitre: T1610, T1036.005, T1525
-- operations: create-pods, update-pods, patch-pods, update-pods-ephemeralcontainers, patch-pods-ephemeralcontainers, create-deployments, update-deployments, patch-deployments, create-daemonsets, update-daemonsets, patch-daemonsets, create-statefulsets, update-statefulsets, patch-statefulsets, create-replicasets, update-replicasets, patch-replicasets, create-jobs, update-jobs, patch-jobs, create-cronjobs, update-cronjobs, patch-cronjobs, create-replicationcontrollers, update-replicationcontrollers, patch-replicationcontrollers
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Add-ons installed into kube-system from their own registries (ingress controllers,
--   metrics-server mirrors, monitoring agents, a private mirror of registry.k8s.io); EKS add-ons from
--   the regional ECR accounts of opt-in regions (not 602401143452). Add those registries to
--   allowed_registries. Pods and workloads rewritten by the built-in controllers (replicaset, daemonset,
--   job controllers) are left out: the write that chose the image is reported, not every copy.
-- references: https://attack.mitre.org/techniques/T1610/, https://kubernetes.io/docs/concepts/containers/images/#image-names, https://docs.aws.amazon.com/eks/latest/userguide/add-ons-images.html, https://falco.org/docs/reference/rules/default-rules/
-- note: Compare the image with what the add-on's vendor publishes, pull it by digest in a sandbox, and
--   look for the identity's other writes (k8s-first-seen-workload-writer).
-- param system_namespaces: Array(String) = ['kube-system']
-- param allowed_registries: Array(String) = ['registry.k8s.io', 'k8s.gcr.io', 'gke.gcr.io', 'gcr.io/gke-release', '*.gcr.io/gke-release', 'gcr.io/google-containers', '602401143452.dkr.ecr.*.amazonaws.com', 'public.ecr.aws/eks', 'public.ecr.aws/eks-distro', 'mcr.microsoft.com', 'quay.io/cilium', 'docker.io/cilium', 'docker.io/calico', 'quay.io/calico', 'quay.io/tigera']
-- param excluded_users: Array(String) = ['system:serviceaccount:kube-system:replicaset-controller', 'system:serviceaccount:kube-system:deployment-controller', 'system:serviceaccount:kube-system:daemon-set-controller', 'system:serviceaccount:kube-system:statefulset-controller', 'system:serviceaccount:kube-system:job-controller', 'system:serviceaccount:kube-system:cronjob-controller', 'system:serviceaccount:kube-system:replication-controller', 'system:kube-controller-manager']
-- enabled: true
WITH
    -- request bodies only: a response repeats every image of the object on any unrelated patch
    arraySlice(k8sPodSpecs(rawLog), 1, 4) AS specs,
    -- JSON-patch bodies (kubectl patch --type json) carry a new image as an operation's value
    arrayMap(op -> JSONExtractString(op, 'value'),
             arrayFilter(op -> match(JSONExtractString(op, 'path'), '/image$'), JSONExtractArrayRaw(rawLog, 'requestObject'))) AS patchedImages,
    arrayDistinct(arrayFilter(i -> i != '',
        arrayConcat(arrayMap(c -> lower(JSONExtractString(c, 'image')), k8sContainers(specs)), arrayMap(i -> lower(i), patchedImages)))) AS images,
    -- spell the registry out: nginx -> docker.io/library/nginx, calico/node -> docker.io/calico/node
    arrayMap(i -> replaceRegexpOne(
        multiIf(position(i, '/') > 0 AND match(splitByChar('/', i)[1], '[.:]|^localhost$'), i,
                position(i, '/') > 0, concat('docker.io/', i),
                concat('docker.io/library/', i)),
        '^(index\\.docker\\.io|registry-1\\.docker\\.io)/', 'docker.io/'), images) AS refs,
    arrayMap(a -> concat('^', replaceAll(replaceAll(lower(a), '.', '\\.'), '*', '[^/:@]*'), '(/|:|@|$)'),
             {allowed_registries:Array(String)}) AS allowed,
    arrayFilter(r -> NOT arrayExists(p -> match(r, p), allowed), refs) AS untrusted
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.resource` AS resource,
    `objectRef.namespace` AS namespace,
    resources[1] AS object,
    arrayStringConcat(untrusted, ', ') AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN k8sPodSpecWrites()
  AND has({system_namespaces:Array(String)}, `objectRef.namespace`)
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  AND NOT has({excluded_users:Array(String)}, actor['username'])
  AND notEmpty(untrusted)
ORDER BY eventTime
