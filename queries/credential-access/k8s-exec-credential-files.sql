-- id: k8s-exec-credential-files
-- title: Exec reads service-account tokens or credential files
-- description: The exec command line touches credential material: the pod's service account token (/var/run/secrets/kubernetes.io/serviceaccount, EKS/Azure projected tokens), kubeconfigs (/etc/kubernetes/*.conf, ~/.kube/config, kubelet kubeconfig and PKI), cloud CLI credentials (~/.aws/credentials, gcloud, azure), SSH keys, /etc/shadow or Docker registry auth.
-- severity: high
-- mitre: T1552.001, T1528, T1609
-- operations: create-pods-exec, get-pods-exec
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Debugging token mounts; scripts that print the namespace file under the service account path (match on "namespace" only is excluded).
-- references: https://attack.mitre.org/techniques/T1552/001/, https://kubernetes.io/docs/concepts/security/service-accounts/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/credential_access_kubernetes_pod_exec_sensitive_file_access.toml
-- note: Identify which credential was read (service account token, kubeconfig, cloud credentials, SSH key)
--   and look for its later use: requests by the pod's service account from a source IP or user agent outside
--   the pod, found with `loader sql`. If confirmed, rotate that credential and review who may exec into the
--   namespace.
-- param paths: String = (?i)/(var/)?run/secrets/(kubernetes\.io|eks\.amazonaws\.com|azure)|\.kube/config|/etc/kubernetes/([a-z-]*\.conf|pki)|/var/lib/kubelet/(pki|kubeconfig)|\.aws/credentials|\.config/gcloud|\.azure/|/etc/shadow|id_(rsa|ecdsa|ed25519)|\.docker/config\.json
-- enabled: true
WITH
    k8sExecArgv(requestURI) AS argv,
    arrayStringConcat(argv, ' ') AS cmdline
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    `objectRef.namespace` AS namespace,
    `objectRef.name` AS name,
    extract(requestURI, '[?&]container=([^&]*)') AS container,
    cmdline AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-pods-exec', 'get-pods-exec')
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  AND match(cmdline, {paths:String}) AND NOT match(cmdline, '^(cat|ls)\\s+/var/run/secrets/kubernetes\\.io/serviceaccount/namespace$')
ORDER BY eventTime
LIMIT 1 BY eventID
