-- id: k8s-sa-token-requested
-- title: Service account token requested by a non-system identity
-- description: A user or non-system service account calls serviceaccounts/{name}/token (kubectl create token). TokenRequest mints a fresh, possibly long-lived bearer token for any service account the caller can reach: privilege escalation and persistence that leaves no Secret behind.
-- severity: medium
-- mitre: T1528, T1550.001, T1098.001
-- operations: create-serviceaccounts-token
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Engineers creating short-lived tokens for dashboards or CI; Vault and ArgoCD token issuers.
-- references: https://attack.mitre.org/techniques/T1528/, https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/credential_access_kubernetes_service_account_token_created_via_tokenrequest.toml
-- note: Check which service account the token was minted for and what it is bound to (a kube-system or
--   cluster-admin bound account is critical), and the requested expirationSeconds when the body is logged.
--   Follow the token: requests by that service account from the requester's source IP or with kubectl/curl
--   user agents shortly after.
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    `objectRef.namespace` AS namespace,
    `objectRef.name` AS name,
    concat('expirationSeconds=', JSONExtractRaw(rawLog, 'requestObject', 'spec', 'expirationSeconds')) AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName = 'create-serviceaccounts-token'
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  -- the control plane's own identities (controllers, kubelets, scheduler) do this all day
  AND NOT (startsWith(actor['username'], 'system:serviceaccount:kube-system:') OR startsWith(actor['username'], 'system:node:')
           OR actor['username'] IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver', 'system:kube-proxy'))
ORDER BY eventTime
