-- id: k8s-workload-in-kube-namespace
-- title: Workload created in a kube-* system namespace by a non-system identity
-- description: A pod or workload is created in kube-system, kube-public or kube-node-lease by an identity that is not part of the control plane. Attackers hide implants among system pods, and kube-system service accounts are among the most privileged in the cluster.
-- severity: medium
-- mitre: T1610, T1036.005
-- operations: create-pods, create-deployments, create-daemonsets, create-statefulsets, create-replicasets, create-jobs, create-cronjobs, create-replicationcontrollers
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: The managed services' add-on managers are excluded (exclude_identities). Cluster admins installing add-ons (CNI, ingress, metrics-server) into kube-system with their own credentials or a CI identity; allow-list those.
-- references: https://attack.mitre.org/techniques/T1610/, https://attack.mitre.org/techniques/T1036/005/, https://github.com/SigmaHQ/sigma/blob/master/rules/application/kubernetes/audit/kubernetes_audit_pod_in_system_namespace.yml
-- note: Check the workload's image, service account and host settings, and whether it comes from an add-on
--   chart the platform team installed (Helm labels, a GitOps identity). An unfamiliar pod using a privileged
--   kube-system service account, or one created from a user's workstation IP, should be removed and that
--   service account's token treated as exposed.
-- param exclude_identities: Array(String) = ['eks:addon-manager', 'system:addon-manager', 'aksService']
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    `objectRef.namespace` AS namespace,
    `objectRef.resource` AS resource,
    resources[1] AS object,
    `responseStatus.code` AS code
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-pods', 'create-deployments', 'create-daemonsets', 'create-statefulsets', 'create-replicasets', 'create-jobs', 'create-cronjobs', 'create-replicationcontrollers')
  AND `objectRef.namespace` IN ('kube-system', 'kube-public', 'kube-node-lease')
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  -- the control plane's own identities (controllers, kubelets, scheduler) do this all day
  AND NOT (startsWith(actor['username'], 'system:serviceaccount:kube-system:') OR startsWith(actor['username'], 'system:node:')
           OR actor['username'] IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver', 'system:kube-proxy'))
  -- the managed services' add-on managers (EKS, GKE, AKS) install and upgrade kube-system add-ons
  AND actor['username'] NOT IN {exclude_identities:Array(String)}
ORDER BY eventTime
