-- id: k8s-node-credential-non-kubelet-action
-- title: Node credential used for something a kubelet never does
-- description: A node identity (system:node:*) did, or tried, what no kubelet does: list or watch
--   secrets without naming one (kubelets watch single secrets with fieldSelector=metadata.name, and only
--   those of their own pods), exec, attach or port-forward into a pod, change or delete another Node, or
--   create a pod that is not the mirror pod of a static pod on its own node. The node authorizer and
--   NodeRestriction refuse most of this, so refused attempts count too: either way the kubelet's
--   kubeconfig or client certificate is in someone else's hands. The pod branch reads the request body
--   and needs Request level for pods; the others work at Metadata.
-- severity: high
-- mitre: T1078, T1552.007, T1609
-- operations: list-secrets, watch-secrets, create-pods-exec, get-pods-exec, create-pods-attach, get-pods-attach, create-pods-portforward, get-pods-portforward, update-nodes, patch-nodes, delete-nodes, update-nodes-status, patch-nodes-status, create-pods
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Tooling that reuses the kubelet kubeconfig on purpose (some node bootstrap or CNI
--   scripts); the user agent tells them apart from the kubelet.
-- references: https://attack.mitre.org/techniques/T1078/, https://kubernetes.io/docs/reference/access-authn-authz/node/, https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#noderestriction
-- note: Check the user agent and source address against the node; look for the same credential in
--   k8s-node-credential-unexpected-source and k8s-secret-read-by-node-credential, and rotate the node's
--   client certificate.
-- enabled: true
WITH
    actor['node'] AS node,
    multiIf(
        eventName IN ('list-secrets', 'watch-secrets')
            AND NOT match(requestURI, '[?&]fieldSelector=metadata\\.name(%3D|=)'), 'secrets listed without a name',
        eventName IN ('create-pods-exec', 'get-pods-exec', 'create-pods-attach', 'get-pods-attach',
                      'create-pods-portforward', 'get-pods-portforward'), concat(`tags`['objectRef.subresource'], ' into a pod'),
        eventName IN ('update-nodes', 'patch-nodes', 'delete-nodes', 'update-nodes-status', 'patch-nodes-status')
            AND `objectRef.name` != '' AND `objectRef.name` != node, concat(verb, ' of another node'),
        -- NodeRestriction lets a kubelet create only mirror pods bound to itself
        eventName = 'create-pods' AND JSONHas(rawLog, 'requestObject')
            AND (JSONExtractString(rawLog, 'requestObject', 'spec', 'nodeName') != node
                 OR NOT JSONHas(rawLog, 'requestObject', 'metadata', 'annotations', 'kubernetes.io/config.mirror')),
            concat('pod that is not its own mirror pod (nodeName ', JSONExtractString(rawLog, 'requestObject', 'spec', 'nodeName'), ')'),
        '') AS what
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.resource` AS resource,
    if(`objectRef.namespace` = '' AND `objectRef.resource` != 'nodes', '(all namespaces)', `objectRef.namespace`) AS namespace,
    `objectRef.name` AS name,
    `responseStatus.code` AS code,
    what AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('list-secrets', 'watch-secrets', 'create-pods-exec', 'get-pods-exec', 'create-pods-attach', 'get-pods-attach',
                    'create-pods-portforward', 'get-pods-portforward', 'update-nodes', 'patch-nodes', 'delete-nodes',
                    'update-nodes-status', 'patch-nodes-status', 'create-pods')
  AND stage != 'RequestReceived'
  AND startsWith(actor['username'], 'system:node:')
  AND what != ''
ORDER BY eventTime
LIMIT 1 BY eventID
