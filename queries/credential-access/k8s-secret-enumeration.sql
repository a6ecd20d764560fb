-- id: k8s-secret-enumeration
-- title: Many distinct secrets read by one identity
-- description: One identity read (get) at least `threshold` distinct secrets, or listed secrets in at
--   least `threshold` namespaces, inside `bucket_minutes`: credential harvesting with a stolen token.
-- severity: high
-- mitre: T1552.007, T1528
-- operations: get-secrets, list-secrets
-- mode: aggregate
-- level: Metadata
-- window: 1h
-- false_positives: Secret-syncing controllers (external-secrets, Vault agents, Argo CD) read many secrets;
--   their identities belong in excluded_users.
-- references: https://attack.mitre.org/techniques/T1552/007/, https://kubernetes.io/docs/concepts/configuration/secret/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/credential_access_kubernetes_multiple_secret_retrieval_burst.toml
-- note: List which secrets were read (service account tokens, registry credentials, TLS keys) and compare the
--   identity's source IP and user agent with its earlier days. Look for the harvested material in use next,
--   such as requests by service accounts whose tokens were read; add secret-syncing controllers to
--   excluded_users.
-- param threshold: UInt32 = 10
-- param bucket_minutes: UInt32 = 10
-- param excluded_users: Array(String) = []
-- enabled: true
SELECT firstSeen AS eventTime, eventIDs, user, srcIPs AS srcIP, agent AS userAgent, bucket, count, detail
FROM (
    SELECT
        min(eventTime) AS firstSeen,
        groupUniqArray(100)(eventID) AS eventIDs,
        actor['username'] AS user,
        arrayStringConcat(groupUniqArray(5)(srcIP), ',') AS srcIPs,
        any(userAgent) AS agent,
        toStartOfInterval(eventTime, toIntervalMinute({bucket_minutes:UInt32})) AS bucket,
        uniqExact(`objectRef.namespace`, `objectRef.name`) AS count,
        arrayStringConcat(arraySlice(groupUniqArray(concat(`objectRef.namespace`, '/', `objectRef.name`)), 1, 10), ', ') AS detail
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND eventName IN ('get-secrets', 'list-secrets')
      AND stage != 'RequestReceived'
      AND `responseStatus.code` BETWEEN 200 AND 299
      AND NOT has({excluded_users:Array(String)}, actor['username'])
      -- the API server's own controllers and nodes read secrets all day
      AND NOT startsWith(actor['username'], 'system:node:')
      AND actor['username'] NOT IN ('system:kube-controller-manager', 'system:apiserver', 'system:kube-scheduler')
    GROUP BY user, bucket
    HAVING count >= {threshold:UInt32}
)
ORDER BY eventTime
