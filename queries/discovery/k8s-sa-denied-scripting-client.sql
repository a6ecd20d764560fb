-- id: k8s-sa-denied-scripting-client
-- title: Service-account token refused while used from a script or raw HTTP client
-- description: Requests authenticated as a service account (system:serviceaccount:*) were refused (403,
--   decision forbid) and came from a generic HTTP client or scripting runtime (curl, wget,
--   python-requests, python-urllib, httpx, aiohttp, Go-http-client, okhttp, ...). Workloads talk to the
--   API through client libraries that name themselves and hold the permissions they need; a pod token
--   pasted into curl and refused is someone exploring what a stolen token can do. One row per identity,
--   source and user agent in each `bucket_minutes`.
-- severity: medium
-- mitre: T1613, T1550.001, T1528
-- operations: *
-- mode: aggregate
-- level: Metadata
-- window: 1h
-- false_positives: Home-grown jobs that call the API with a raw HTTP client and lack a permission (they
--   repeat the same call every run); add them to exclude_users or give them a proper user agent.
-- references: https://attack.mitre.org/techniques/T1613/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/discovery_denied_service_account_request.toml, https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/
-- note: Find the pod that owns the service account (its namespace is in the user) and check it for an
--   interactive shell (k8s-pod-exec) or a compromised process; rotate the token if the pod is not yours.
-- param client_agents: Array(String) = ['curl/', 'wget/', 'python-requests/', 'python-urllib/', 'python-httpx/', 'aiohttp/', 'go-http-client/', 'okhttp/', 'libwww-perl/', 'httpie/', 'postmanruntime/', 'insomnia/', 'node-fetch/', 'axios/', 'undici']
-- param bucket_minutes: UInt32 = 60
-- param exclude_users: Array(String) = []
-- enabled: true
SELECT firstSeen AS eventTime, * EXCEPT firstSeen
FROM (
    SELECT
        min(eventTime) AS firstSeen,
        groupUniqArray(100)(eventID) AS eventIDs,
        actor['username'] AS user,
        srcIP,
        userAgent,
        toStartOfInterval(eventTime, toIntervalMinute({bucket_minutes:UInt32})) AS bucket,
        uniqExact(eventID) AS count,
        arrayStringConcat(arraySlice(groupUniqArray(concat(eventName, if(`objectRef.namespace` != '', concat(' ', `objectRef.namespace`), ''))), 1, 10), ', ') AS detail
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND stage != 'RequestReceived'
      AND (`responseStatus.code` = 403 OR `annotations.authorization.k8s.io.decision` = 'forbid')
      AND startsWith(actor['username'], 'system:serviceaccount:')
      AND arrayExists(a -> startsWith(lowerUTF8(userAgent), a), {client_agents:Array(String)})
      AND NOT has({exclude_users:Array(String)}, actor['username'])
    GROUP BY user, srcIP, userAgent, bucket
)
ORDER BY eventTime
