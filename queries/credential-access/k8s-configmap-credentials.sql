-- id: k8s-configmap-credentials
-- title: ConfigMap carries credentials
-- description: A ConfigMap is created or changed with values that look like credentials: AWS access keys (AKIA/ASIA), aws_secret_access_key, password/passwd/secret/token/api_key assignments, private keys (-----BEGIN ... PRIVATE KEY-----), or connection strings with an inline password. ConfigMaps are readable by far more identities than Secrets.
-- severity: medium
-- mitre: T1552.001, T1552.007
-- operations: create-configmaps, update-configmaps, patch-configmaps
-- mode: event
-- level: Request
-- window: 1h
-- false_positives: Config templates with placeholder passwords; values referencing env vars (${PASSWORD}) are skipped.
-- references: https://attack.mitre.org/techniques/T1552/001/, https://kubernetes.io/docs/concepts/configuration/configmap/, https://kubernetes.io/docs/concepts/security/secrets-good-practices/
-- note: Open the value in rawLog and decide with the ConfigMap's owner whether it is a live credential; if
--   so, rotate it and move it into a Secret. List who read that ConfigMap afterwards (get/list-configmaps in
--   its namespace) with `loader sql` to size the exposure; narrow the pattern parameter for recurring
--   placeholders.
-- param pattern: String = (?i)\b(AKIA|ASIA)[0-9A-Z]{16}\b|aws_secret_access_key|-----BEGIN [A-Z ]*PRIVATE KEY-----|(^|[\s"'_.-])(password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret)["']?\s*[:=]\s*["']?[^\s"'$<{][^\s"']{3,}|://[^/\s:@]+:[^/\s@$]{3,}@
-- enabled: true
WITH
    arrayConcat(JSONExtractKeysAndValues(rawLog, 'requestObject', 'data', 'String'),
                JSONExtractKeysAndValues(rawLog, 'requestObject', 'binaryData', 'String')) AS kv,
    arrayFilter(x -> match(concat(x.1, '=', x.2), {pattern:String}), kv) AS hits
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.namespace` AS namespace,
    if(`objectRef.name` != '', `objectRef.name`, JSONExtractString(rawLog, 'requestObject', 'metadata', 'name')) AS name,
    arrayStringConcat(arrayMap(x -> x.1, hits), ',') AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-configmaps', 'update-configmaps', 'patch-configmaps')
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  AND notEmpty(hits)
ORDER BY eventTime
