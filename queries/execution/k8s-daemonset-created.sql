-- id: k8s-daemonset-created
-- title: DaemonSet created by a non-system identity
-- description: A DaemonSet runs a pod on every node: the fastest way to put an implant, miner or node-escape container everywhere at once.
-- severity: low
-- mitre: T1610, T1053.007
-- operations: create-daemonsets
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: The managed services' add-on managers are excluded (exclude_identities). Platform teams and GitOps controllers (Argo CD, Flux service accounts) rolling out node agents.
-- references: https://attack.mitre.org/techniques/T1610/, https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/
-- note: Check the DaemonSet's image, host mounts and securityContext (a privileged DaemonSet is node access
--   on every node) and whether it belongs to a known chart or GitOps application. Confirm with the creator or
--   a change ticket; an unexplained DaemonSet already runs on every node, so remove it quickly.
-- param exclude_identities: Array(String) = ['eks:addon-manager', 'system:addon-manager', 'aksService']
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    `objectRef.namespace` AS namespace,
    resources[1] AS object,
    `responseStatus.code` AS code
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName = 'create-daemonsets'
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  -- the control plane's own identities (controllers, kubelets, scheduler) do this all day
  AND NOT (startsWith(actor['username'], 'system:serviceaccount:kube-system:') OR startsWith(actor['username'], 'system:node:')
           OR actor['username'] IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver', 'system:kube-proxy'))
  -- the managed services' add-on managers (EKS, GKE, AKS) install and upgrade kube-system add-ons
  AND actor['username'] NOT IN {exclude_identities:Array(String)}
ORDER BY eventTime
