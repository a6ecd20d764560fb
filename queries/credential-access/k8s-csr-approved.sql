-- id: k8s-csr-approved
-- title: Certificate signing request approved by a non-system identity
-- description: A CertificateSigningRequest is approved (certificatesigningrequests/approval) by an identity other than the controller manager's approvers. Manual approval of a client CSR mints a certificate credential for whatever user and groups it names.
-- severity: medium
-- mitre: T1649, T1098
-- operations: update-certificatesigningrequests-approval, patch-certificatesigningrequests-approval
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Admins approving kubelet serving certificates or user onboarding CSRs by hand.
-- references: https://attack.mitre.org/techniques/T1649/, https://kubernetes.io/docs/reference/access-authn-authz/certificate-signing-requests/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/persistence_kubernetes_client_certificate_signing_request_created_or_approved.toml
-- note: Find the matching create-certificatesigningrequests event: who requested it, for which signerName and
--   subject; an identity approving its own request, or a client certificate for system:masters, is a strong
--   signal. Kubernetes cannot revoke an issued certificate, so a malicious one means removing the named
--   user's and groups' bindings or rotating the CA.
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    `objectRef.name` AS name,
    `responseStatus.code` AS code
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('update-certificatesigningrequests-approval', 'patch-certificatesigningrequests-approval')
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  -- the control plane's own identities (controllers, kubelets, scheduler) do this all day
  AND NOT (startsWith(actor['username'], 'system:serviceaccount:kube-system:') OR startsWith(actor['username'], 'system:node:')
           OR actor['username'] IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver', 'system:kube-proxy'))
ORDER BY eventTime
