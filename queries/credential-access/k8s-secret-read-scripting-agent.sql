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
-- references: https://attack.mitre.org/techniques/T1552/007/, https://kubernetes.io/docs/concepts/configuration/secret/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/credential_access_kubernetes_secret_access_scripting_http_clients.toml
-- note: Check whether the identity is known automation using a raw HTTP client (its owner can confirm) or one
--   that normally reads with a controller's own user agent. Review the source IP and the identity's other
--   requests in the hour with `loader sql`: scripted reads with a service account token from outside the pod
--   network point to token theft.
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
