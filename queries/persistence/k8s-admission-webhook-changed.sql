-- id: k8s-admission-webhook-changed
-- title: Admission webhook or policy configuration created, changed or deleted
-- description: A mutating or validating webhook configuration (or an admission policy / binding) was
--   written. A malicious mutating webhook sees and can rewrite every matching object (inject sidecars,
--   steal secrets on create); deleting or loosening a validating one switches off policy enforcement.
-- severity: medium
-- mitre: T1546, T1562.001
-- operations: create-mutatingwebhookconfigurations, update-mutatingwebhookconfigurations, patch-mutatingwebhookconfigurations, delete-mutatingwebhookconfigurations, create-validatingwebhookconfigurations, update-validatingwebhookconfigurations, patch-validatingwebhookconfigurations, delete-validatingwebhookconfigurations, create-validatingadmissionpolicies, update-validatingadmissionpolicies, patch-validatingadmissionpolicies, delete-validatingadmissionpolicies, create-validatingadmissionpolicybindings, delete-validatingadmissionpolicybindings
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Controllers that rotate their webhook's caBundle (cert-manager cainjector, Istio,
--   Gatekeeper, Kyverno) update these objects routinely; add them to exclude_users.
-- references: https://attack.mitre.org/techniques/T1546/, https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/persistence_kubernetes_admission_webhook_created_or_modified.toml
-- note: Check the webhook's target URL or service and its rules (which resources and operations it
--   intercepts): an external URL or a service in an unexpected namespace is the red flag. For updates, see
--   whether only caBundle changed (certificate rotation) or rules, failurePolicy and namespaceSelector were
--   loosened; add the rotating controller to exclude_users.
-- param exclude_users: Array(String) = []
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.resource` AS resource,
    `objectRef.name` AS name,
    arrayStringConcat(arrayMap(w -> concat(JSONExtractString(w, 'name'), ' -> ',
        coalesce(nullIf(JSONExtractString(w, 'clientConfig', 'url'), ''),
                 concat(JSONExtractString(w, 'clientConfig', 'service', 'namespace'), '/', JSONExtractString(w, 'clientConfig', 'service', 'name')))),
        JSONExtractArrayRaw(rawLog, 'requestObject', 'webhooks')), '; ') AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-mutatingwebhookconfigurations', 'update-mutatingwebhookconfigurations',
                    'patch-mutatingwebhookconfigurations', 'delete-mutatingwebhookconfigurations',
                    'create-validatingwebhookconfigurations', 'update-validatingwebhookconfigurations',
                    'patch-validatingwebhookconfigurations', 'delete-validatingwebhookconfigurations',
                    'create-validatingadmissionpolicies', 'update-validatingadmissionpolicies',
                    'patch-validatingadmissionpolicies', 'delete-validatingadmissionpolicies',
                    'create-validatingadmissionpolicybindings', 'delete-validatingadmissionpolicybindings')
  AND `responseStatus.code` BETWEEN 200 AND 399
  AND NOT has({exclude_users:Array(String)}, actor['username'])
