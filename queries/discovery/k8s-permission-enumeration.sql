-- id: k8s-permission-enumeration
-- title: Permission enumeration with self-subject reviews
-- description: An identity asked the API server what it may do: a SelfSubjectRulesReview (kubectl
--   auth can-i --list) or a run of SelfSubjectAccessReviews (kubectl auth can-i ..., peirates,
--   kubectl-who-can). The first thing an attacker does with a fresh token is find out what it can do.
-- severity: medium
-- mitre: T1069, T1613
-- operations: create-selfsubjectrulesreviews, create-selfsubjectaccessreviews
-- mode: aggregate
-- level: Metadata
-- window: 1h
-- false_positives: Dashboards and IDE plugins (Lens, k9s, Headlamp) checking what to show; users
--   troubleshooting their own access.
-- references: https://attack.mitre.org/techniques/T1069/, https://github.com/elastic/detection-rules/blob/main/rules/integrations/kubernetes/discovery_suspicious_self_subject_review.toml, https://github.com/SigmaHQ/sigma/blob/master/rules/application/kubernetes/audit/kubernetes_audit_rbac_permisions_listing.yml
-- note: Check the user agent (Lens, k9s and IDE plugins identify themselves; kubectl or curl under a service
--   account does not) and whether the identity is a service account, since workloads rarely ask what they may
--   do. If a pod's token asked, look for an exec into that pod or token theft shortly before and for the
--   permissions being used right after.
-- param min_access_reviews: UInt32 = 5
-- param exclude_prefixes: Array(String) = ['system:node:', 'system:kube-', 'system:apiserver', 'system:serviceaccount:kube-system:']
-- enabled: true
SELECT firstSeen AS eventTime, * EXCEPT firstSeen
FROM (
    SELECT
        min(eventTime) AS firstSeen,
        groupUniqArray(100)(eventID) AS eventIDs,
        actor['username'] AS user,
        srcIP,
        any(userAgent) AS userAgent,
        uniqExact(eventID) AS count,
        uniqExactIf(eventID, `objectRef.resource` = 'selfsubjectrulesreviews') AS rulesReviews,
        uniqExactIf(eventID, `objectRef.resource` = 'selfsubjectaccessreviews') AS accessReviews
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND eventName IN ('create-selfsubjectrulesreviews', 'create-selfsubjectaccessreviews')
      AND stage != 'RequestReceived'
      AND NOT arrayExists(p -> startsWith(actor['username'], p), {exclude_prefixes:Array(String)})
    GROUP BY user, srcIP
    HAVING rulesReviews > 0 OR accessReviews >= {min_access_reviews:UInt32}
)
ORDER BY eventTime
