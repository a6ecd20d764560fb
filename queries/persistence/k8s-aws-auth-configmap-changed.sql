-- id: k8s-aws-auth-configmap-changed
-- title: EKS aws-auth ConfigMap changed
-- description: kube-system/aws-auth maps AWS IAM roles and users to Kubernetes users and groups. Adding
--   a role there (often straight into system:masters) is durable persistence that survives every
--   Kubernetes credential rotation and is invisible to RBAC reviews. Detail shows the new mapping
--   when the audit level logs the body.
-- severity: high
-- mitre: T1098, T1078.004
-- operations: create-configmaps, update-configmaps, patch-configmaps, delete-configmaps
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: eksctl and Terraform adding node groups or admin roles; compare with change
--   tickets and exclude the pipeline's identity.
-- references: https://attack.mitre.org/techniques/T1098/, https://docs.aws.amazon.com/eks/latest/userguide/auth-configmap.html, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/persistence_kubernetes_eks_aws_auth_configmap_modified.toml
-- note: Read the mapRoles/mapUsers change in detail (when the body is logged) and check each new IAM ARN:
--   which AWS account it belongs to and which groups it maps to (system:masters is full admin). Correlate
--   with CloudTrail for who assumed that role next, and compare the change with eksctl or Terraform runs.
-- param exclude_users: Array(String) = []
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
    position(rawLog, 'system:masters') > 0 AS grantsMasters,
    left(concat(JSONExtractString(rawLog, 'requestObject', 'data', 'mapRoles'), JSONExtractString(rawLog, 'requestObject', 'data', 'mapUsers')), 500) AS detail
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-configmaps', 'update-configmaps', 'patch-configmaps', 'delete-configmaps')
  AND `objectRef.namespace` = 'kube-system'
  AND `objectRef.name` = 'aws-auth'
  AND `responseStatus.code` BETWEEN 200 AND 399
  AND NOT has({exclude_users:Array(String)}, actor['username'])
