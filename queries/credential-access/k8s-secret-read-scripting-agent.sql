-- id: k8s-secret-read-scripting-agent
-- title: Secret read by a script or generic HTTP client
-- description: Secrets are read with a user agent of a generic HTTP client or scripting runtime (curl, wget, python-requests, urllib, aiohttp, Go-http-client, okhttp, Java, Postman, Insomnia, PowerShell, node-fetch, axios, Ruby, Perl). Real controllers identify themselves; token thieves script the REST API directly.
-- severity: medium
-- mitre: T1552.007, T1059
-- operations: get-secrets, list-secrets, watch-secrets
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Home-grown automation that calls the API with a raw HTTP client; give it a user agent or exclude its identity.
-- param agents: String = (?i)^(curl|wget|python|aiohttp|go-http-client|okhttp|java/|apache-httpclient|postmanruntime|insomnia|httpie|mozilla/[0-9.]+ \(windows nt[^)]*\) windowspowershell|powershell|node-fetch|axios|undici|ruby|faraday|libwww-perl|rest-client)
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.namespace` AS namespace,
    `objectRef.name` AS name
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('get-secrets', 'list-secrets', 'watch-secrets')
  AND stage != 'RequestReceived' AND `responseStatus.code` BETWEEN 200 AND 299
  AND match(userAgent, {agents:String})
ORDER BY eventTime
LIMIT 1 BY eventID
