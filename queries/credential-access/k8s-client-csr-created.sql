-- id: k8s-client-csr-created
-- title: Client certificate signing request created
-- description: A CertificateSigningRequest for an API client certificate is created: signerName kubernetes.io/kube-apiserver-client in the body, or any CSR from an identity that is not a node or bootstrap token. An approved client CSR is a credential that outlives token revocation and names any user or group (system:masters).
-- severity: medium
-- mitre: T1649, T1098
-- operations: create-certificatesigningrequests
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Onboarding scripts that issue user certificates; kubelet serving-certificate requests come from nodes and are left out.
-- references: https://attack.mitre.org/techniques/T1649/, https://kubernetes.io/docs/reference/access-authn-authz/certificate-signing-requests/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/persistence_kubernetes_client_certificate_signing_request_created_or_approved.toml
-- note: Check the requested subject when the body is logged (CN is the user, O the groups) and whether the
--   CSR was approved and by whom; a request naming system:masters or an admin user is critical. Then look for
--   the certificate in use: requests by that username from a new source IP.
-- enabled: true
WITH JSONExtractString(rawLog, 'requestObject', 'spec', 'signerName') AS signer
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    if(`objectRef.name` != '', `objectRef.name`, JSONExtractString(rawLog, 'requestObject', 'metadata', 'name')) AS name,
    signer AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName = 'create-certificatesigningrequests'
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  -- nodes and bootstrap tokens request kubelet certificates; anything else asking without a signer is unusual too
  AND (signer = 'kubernetes.io/kube-apiserver-client'
       OR (signer = '' AND NOT startsWith(actor['username'], 'system:bootstrap:')
           AND NOT startsWith(actor['username'], 'system:node:')
           AND NOT startsWith(actor['username'], 'system:serviceaccount:kube-system:')
           AND actor['username'] NOT IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver')))
ORDER BY eventTime
