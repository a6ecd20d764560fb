-- id: k8s-new-source-ip-for-user
-- title: Human user calls from a source IP never seen before
-- description: A human identity (not a service account, node or system: user) made a request from a
--   source IP it did not use in the `baseline_days` before the window: a stolen kubeconfig or token
--   used from elsewhere.
-- severity: low
-- mitre: T1078, T1078.004
-- operations: *
-- mode: baseline
-- level: Metadata
-- window: 1h
-- false_positives: Users on new networks (travel, VPN exits, DHCP); raise baseline_days or allow-list ranges.
-- references: https://attack.mitre.org/techniques/T1078/, https://attack.mitre.org/techniques/T1078/004/, https://kubernetes.io/docs/reference/access-authn-authz/authentication/
-- note: Check where the IP is (corporate VPN, cloud provider, residential, anonymising service) and whether
--   the user's requests from it look like their usual work. Several users appearing from the same new IP, or
--   a new IP followed by secret reads or RBAC changes, point to a stolen kubeconfig; raise baseline_days to
--   reduce travel noise.
-- param baseline_days: UInt32 = 7
-- enabled: true
WITH recent AS (
    SELECT actor['username'] AS user, srcIP, min(eventTime) AS firstSeen,
           groupUniqArray(100)(eventID) AS ids, uniqExact(eventID) AS n, any(userAgent) AS agent
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND srcIP != ''
      AND NOT startsWith(actor['username'], 'system:')
      AND actor['username'] NOT IN ('', 'system:anonymous')
    GROUP BY user, srcIP
)
SELECT firstSeen AS eventTime, ids AS eventIDs, user, srcIP, agent AS userAgent, n AS count
FROM recent
WHERE (user, srcIP) NOT IN (
    SELECT actor['username'], srcIP
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} - toIntervalDay({baseline_days:UInt32})
      AND eventTime < {start:DateTime64(6)}
      AND srcIP != ''
      AND NOT startsWith(actor['username'], 'system:')
)
  -- a user seen for the first time at all is a new account, not a new address: other rules cover it
  AND user IN (
    SELECT actor['username'] FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} - toIntervalDay({baseline_days:UInt32})
      AND eventTime < {start:DateTime64(6)}
)
ORDER BY eventTime
