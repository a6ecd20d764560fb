-- id: k8s-system-identity-public-ip
-- title: System identity calling from a public IP
-- description: A service account, node or control-plane identity made requests from an address
--   outside private, loopback, link-local and CGNAT ranges. These identities live inside the
--   cluster network; a public source means their token or certificate was taken outside (a stolen
--   service-account token from a leaked pod, a copied kubelet credential).
-- severity: high
-- mitre: T1078.004, T1528, T1550.001
-- operations: *
-- mode: aggregate
-- level: Metadata
-- window: 1h
-- false_positives: Clusters whose nodes talk to the API server over public addresses (some
--   self-managed or edge clusters), and CI systems outside the cluster using a service-account token;
--   list their ranges in allowed_ranges.
-- references: https://attack.mitre.org/techniques/T1078/004/, https://attack.mitre.org/techniques/T1528/, https://kubernetes.io/docs/concepts/security/service-accounts/
-- note: Look up the public address (cloud range, CI service, unknown host) and list everything the identity
--   did from it with `loader sql`. For a service account, find the pod whose token it is and how it could
--   have leaked (exec, logs, secret reads), then rotate it; add known external CI ranges to allowed_ranges.
-- param allowed_ranges: Array(String) = []
-- param prefixes: Array(String) = ['system:serviceaccount:', 'system:node:', 'system:kube-', 'system:apiserver']
-- enabled: true
SELECT firstSeen AS eventTime, * EXCEPT firstSeen
FROM (
    SELECT
        min(eventTime) AS firstSeen,
        groupUniqArray(100)(eventID) AS eventIDs,
        actor['username'] AS user,
        srcIP,
        any(userAgent) AS userAgent,
        uniqExact(eventID) AS count,
        arrayStringConcat(groupUniqArray(10)(eventName), ', ') AS detail
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND arrayExists(p -> startsWith(actor['username'], p), {prefixes:Array(String)})
      AND (isIPv4String(srcIP) OR isIPv6String(srcIP))
      AND NOT arrayExists(c -> isIPAddressInRange(srcIP, c),
            arrayConcat(if(isIPv4String(srcIP),
                           ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '127.0.0.0/8', '169.254.0.0/16', '100.64.0.0/10'],
                           ['::1/128', 'fe80::/10', 'fc00::/7', '::ffff:10.0.0.0/104', '::ffff:172.16.0.0/108', '::ffff:192.168.0.0/112', '::ffff:127.0.0.0/104']),
                        {allowed_ranges:Array(String)}))
    GROUP BY user, srcIP
)
ORDER BY eventTime
