-- id: k8s-exec-cloud-metadata
-- title: Exec reaches the cloud instance metadata service
-- description: The exec command line names an instance metadata endpoint (169.254.169.254, metadata.google.internal, 169.254.170.2 ECS task credentials, fd00:ec2::254, 100.100.100.200 Alibaba, Azure IMDS paths): stealing the node's or workload's cloud credentials from a pod.
-- severity: high
-- mitre: T1552.005, T1609
-- operations: create-pods-exec, get-pods-exec
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Rare: debugging IMDS connectivity (IRSA / Workload Identity issues).
-- references: https://attack.mitre.org/techniques/T1552/005/, https://kubernetes.io/docs/tasks/administer-cluster/securing-a-cluster/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/credential_access_kubernetes_pod_exec_cloud_instance_metadata.toml
-- note: Check the requested path in detail: IAM credential or token paths (iam/security-credentials,
--   service-accounts/.../token, identity/oauth2) mean the node's or workload's cloud role was likely taken.
--   Review the cloud provider's audit log (CloudTrail, Cloud Audit Logs, Azure Activity Log) for that role
--   used from outside the cluster, and block pod access to the metadata endpoint.
-- param endpoints: String = (?i)169\.254\.169\.254|metadata\.google\.internal|169\.254\.170\.2|fd00:ec2::254|100\.100\.100\.200|/latest/meta-data|/computeMetadata/v1|/metadata/identity/oauth2
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
  AND match(cmdline, {endpoints:String})
ORDER BY eventTime
LIMIT 1 BY eventID
