-- id: k8s-node-credential-unexpected-source
-- title: Node or bootstrap credential used from outside the node network
-- description: A kubelet credential (system:node:*), a bootstrap token (system:bootstrap:*, what a new
--   node uses to ask for its certificate) or any identity registering a Node object (create nodes)
--   made requests from a source address outside node_cidrs. Kubelets and joining nodes talk to the API
--   server from the node network; the same credential from a pod network, a laptop or the internet is a
--   copied kubelet kubeconfig or client certificate, or a bootstrap token lifted from instance metadata
--   (GKE kube-env, cloud-init user data) to mint node credentials. The authenticated user is used, not an
--   impersonated one. Set node_cidrs to your node subnets: the default (private and CGNAT ranges) only
--   catches use from public addresses.
-- severity: high
-- mitre: T1078, T1552.004, T1552.005
-- operations: *
-- mode: aggregate
-- level: Metadata
-- window: 1h
-- false_positives: Nodes whose traffic reaches the API server through a public NAT or a load balancer that
--   rewrites the source (some self-managed and edge clusters); node subnets missing from node_cidrs.
-- references: https://attack.mitre.org/techniques/T1078/, https://kubernetes.io/docs/reference/access-authn-authz/kubelet-tls-bootstrapping/, https://kubernetes.io/docs/reference/access-authn-authz/node/, https://www.4armed.com/blog/hacking-kubelet-on-gke/
-- note: Check the node name in the user against the address (cloud console or the Node object's
--   status.addresses); rotate the kubelet certificate or delete the bootstrap token secret in kube-system.
-- param node_cidrs: Array(String) = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8', 'fc00::/7', '::1/128', '::ffff:10.0.0.0/104', '::ffff:172.16.0.0/108', '::ffff:192.168.0.0/112', '::ffff:100.64.0.0/106', '::ffff:127.0.0.0/104']
-- param prefixes: Array(String) = ['system:node:', 'system:bootstrap:']
-- enabled: true
SELECT firstSeen AS eventTime, * EXCEPT firstSeen
FROM (
    SELECT
        min(eventTime) AS firstSeen,
        groupUniqArray(100)(eventID) AS eventIDs,
        `user.username` AS user,
        srcIP,
        any(userAgent) AS userAgent,
        uniqExact(eventID) AS count,
        arrayStringConcat(groupUniqArray(10)(eventName), ', ') AS detail
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND (arrayExists(p -> startsWith(`user.username`, p), {prefixes:Array(String)}) OR eventName = 'create-nodes')
      AND stage != 'RequestReceived'
    GROUP BY user, srcIP
    -- tested once per (user, address) rather than per event: node traffic is a large share of the log
    HAVING (isIPv4String(srcIP) OR isIPv6String(srcIP))
       AND NOT arrayExists(c -> isIPAddressInRange(srcIP, c), {node_cidrs:Array(String)})
)
ORDER BY eventTime
