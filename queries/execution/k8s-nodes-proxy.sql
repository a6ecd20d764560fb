-- id: k8s-nodes-proxy
-- title: Kubelet API reached through nodes/proxy
-- description: A request goes through the API server's nodes/{name}/proxy to a kubelet endpoint other than metrics and health (/run, /exec, /attach, /pods, /runningpods, /containerLogs, /configz, /logs, /debug). nodes/proxy bypasses exec admission and audit of the pod itself: /run executes commands in any container on the node.
-- severity: high
-- mitre: T1609, T1210
-- operations: get-nodes-proxy, create-nodes-proxy, update-nodes-proxy, patch-nodes-proxy, delete-nodes-proxy
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Monitoring agents that scrape endpoints other than metrics through the proxy (rare); add them to the allowed pattern.
-- references: https://attack.mitre.org/techniques/T1609/, https://kubernetes.io/docs/reference/access-authn-authz/kubelet-authn-authz/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/privilege_escalation_api_proxy_to_node.toml
-- note: Read the kubelet path in the request URI: /run and /exec carry the target pod and command, /pods and
--   /runningpods are reconnaissance. Check which role grants the identity nodes/proxy and whether it is a
--   monitoring agent; commands run this way leave no pods/exec audit record, so this request is the only
--   trace.
-- param allowed: String = ^(metrics(/cadvisor|/probes|/resource)?|healthz|stats/summary)/?$
-- enabled: true
WITH replaceRegexpOne(extract(requestURI, '/proxy(/[^?]*)?'), '^/', '') AS path
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.name` AS name,
    concat('/', path) AS detail,
    `responseStatus.code` AS code
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('get-nodes-proxy', 'create-nodes-proxy', 'update-nodes-proxy', 'patch-nodes-proxy', 'delete-nodes-proxy')
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  AND NOT match(path, {allowed:String})
ORDER BY eventTime
LIMIT 1 BY eventID
