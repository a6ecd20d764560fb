-- id: k8s-cronjob-or-job-changed
-- title: CronJob or Job created or changed
-- description: A CronJob or Job is created or changed by an identity other than the cronjob/job controllers. CronJobs give scheduled, self-healing persistence; one-off Jobs run arbitrary containers to completion.
-- severity: low
-- mitre: T1053.007, T1610
-- operations: create-cronjobs, update-cronjobs, patch-cronjobs, create-jobs, update-jobs, patch-jobs
-- mode: event
-- level: Metadata
-- window: 1h
-- false_positives: Deployments of batch workloads by CI/GitOps identities; Helm hooks create Jobs.
-- references: https://attack.mitre.org/techniques/T1053/007/, https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/, https://github.com/SigmaHQ/sigma/blob/master/rules/application/kubernetes/audit/kubernetes_audit_cronjob_modification.yml
-- note: Check the job's image, command, schedule and service account, and whether it belongs to a Helm
--   release or GitOps application (labels, managed-by annotations). A CronJob created by a person or a pod's
--   service account that runs a shell, downloader or miner image is persistence: its pods recur until the
--   CronJob is deleted.
-- enabled: true
SELECT
    eventTime,
    [eventID] AS eventIDs,
    actor['username'] AS user,
    srcIP,
    userAgent,
    verb,
    `objectRef.namespace` AS namespace,
    `objectRef.resource` AS resource,
    resources[1] AS object
FROM kubernetes_audit_logs
WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
  AND eventName IN ('create-cronjobs', 'update-cronjobs', 'patch-cronjobs', 'create-jobs', 'update-jobs', 'patch-jobs')
  AND stage != 'RequestReceived' AND `responseStatus.code` < 400
  -- the control plane's own identities (controllers, kubelets, scheduler) do this all day
  AND NOT (startsWith(actor['username'], 'system:serviceaccount:kube-system:') OR startsWith(actor['username'], 'system:node:')
           OR actor['username'] IN ('system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver', 'system:kube-proxy'))
ORDER BY eventTime
