-- id: k8s-secret-read-by-sa-with-kubectl
-- title: Service account token used by kubectl to read secrets
-- description: A service account reads secrets with kubectl (or an empty user agent). Workloads use client libraries with their own user agent; kubectl with a service account identity means someone is using a pod's token by hand, typically after exec or token theft.
-- severity: medium
-- mitre: T1552.007, T1528, T1550.001
-- operations: get-secrets, list-secrets, watch-secrets
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: CI jobs that run kubectl under a service account; exclude them by name.
-- references: https://attack.mitre.org/techniques/T1552/007/, https://kubernetes.io/docs/concepts/security/service-accounts/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/credential_access_get_secrets_access.toml
-- note: Find where the token came from: an exec into a pod running as that service account shortly before, or
--   a source IP that is not a pod address. Check which secrets were read and whether the account's role needs
--   them; CI jobs that run kubectl legitimately can be excluded by name.
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.namespace` AS namespace,
    `objectRef.name` AS name,
    actor['serviceAccount'] AS serviceAccount
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('get-secrets', 'list-secrets', 'watch-secrets')
  AND stage != 'RequestReceived' AND `responseStatus.code` BETWEEN 200 AND 299
  AND actor['serviceAccount'] != '' AND (startsWith(userAgent, 'kubectl/') OR userAgent = '')
ORDER BY eventTime
LIMIT 1 BY eventID
