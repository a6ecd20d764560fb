-- id: k8s-sidecar-injection-patch
-- title: Container injected into a workload by patch
-- description: A patch adds a full container definition (command, args, ports, volume mounts, security context or env besides name and image) to a pod template, or a JSON patch adds to containers/initContainers. A sidecar injected into an existing workload inherits its service account, secrets and network position and survives restarts. An image-only patch (kubectl set image) does not match.
-- severity: medium
-- mitre: T1610, T1525, T1543
-- operations: patch-pods, patch-deployments, patch-daemonsets, patch-statefulsets, patch-replicasets, patch-jobs, patch-cronjobs, patch-replicationcontrollers
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Service-mesh and secret injectors mutate pods through admission webhooks (not patches); kubectl apply/edit of a changed container definition by a deployer matches too.
-- enabled: true
WITH
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
ORDER BY eventTime
