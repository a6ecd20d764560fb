-- id: k8s-source-ip-forwarded-mismatch
-- title: Client-supplied X-Forwarded-For differs from the connection address
-- description: The API server lists X-Forwarded-For addresses first in sourceIPs and the real
--   connection address last. srcIP (sourceIPs[1]) is what most tools show and key on, so a client that
--   sets X-Forwarded-For chooses its own srcIP. Flags requests whose first address differs from the
--   connection address when that connection does not come from a known proxy: IP spoofing to dodge
--   allow-lists, geo rules and the other source-IP rules in this catalog.
-- severity: medium
-- mitre: T1036, T1090
-- operations: *
-- mode: aggregate
-- level: Metadata
-- window: 1h
-- false_positives: Authenticating proxies, API gateways and load balancers that add the header;
--   list their addresses in trusted_proxies.
-- references: https://attack.mitre.org/techniques/T1036/, https://attack.mitre.org/techniques/T1090/, https://kubernetes.io/docs/reference/config-api/apiserver-audit.v1/
-- note: Compare the claimed address with the connection address: a connection from outside your proxies and
--   networks that claims an internal or allow-listed IP is spoofing. Review the identity's requests from that
--   connection address with `loader sql`, and list genuine proxies and gateways in trusted_proxies.
-- param trusted_proxies: Array(String) = []
-- enabled: true
SELECT firstSeen AS eventTime, * EXCEPT firstSeen
FROM (
    SELECT
        min(eventTime) AS firstSeen,
        groupUniqArray(100)(eventID) AS eventIDs,
        actor['username'] AS user,
        srcIP,
        sourceIPs[-1] AS connectionIP,
        any(userAgent) AS userAgent,
        uniqExact(eventID) AS count,
        arrayStringConcat(groupUniqArray(10)(eventName), ', ') AS detail
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND length(sourceIPs) > 1
      AND sourceIPs[1] != sourceIPs[-1]
      AND NOT has({trusted_proxies:Array(String)}, sourceIPs[-1])
    GROUP BY user, srcIP, connectionIP
)
ORDER BY eventTime
