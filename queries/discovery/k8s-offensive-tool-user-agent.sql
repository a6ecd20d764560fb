-- id: k8s-offensive-tool-user-agent
-- title: Known attack or scanning tool user agent
-- description: Requests whose User-Agent names a Kubernetes attack, secret-hunting or network
--   scanning tool (trufflehog, kube-hunter, peirates, azurehound, kubehound, kubiscan, kubesploit, cdk,
--   nmap, nuclei, ...) or an RBAC mapper that shows a token's reach (rakkess / access-matrix,
--   kubectl-who-can, rbac-tool). Tools can fake their agent, but the defaults are left in place
--   surprisingly often, and any hit is worth a look. Compliance scanners that only report configuration
--   (kube-bench, kubeaudit, trivy, kubescape) are not listed, nor tools that never call the API server
--   (amicontained, deepce, microscanner: k8s-attack-tool-image catches their images).
-- severity: high
-- mitre: T1595, T1613, T1552
-- operations: *
-- mode: aggregate
-- level: Metadata
-- window: 1h
-- false_positives: Authorised penetration tests and security scans; match their source IPs or users
--   against the test plan. Cluster admins reviewing RBAC with rakkess, who-can or rbac-tool (kubectl
--   plugins installed by krew: kubectl-access_matrix, kubectl-who_can, kubectl-rbac_tool).
-- references: https://attack.mitre.org/techniques/T1595/, https://attack.mitre.org/techniques/T1613/, https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/
-- note: Check the matched agent, source IP and identity against any authorised penetration test; outside a
--   test, treat the credential as compromised. Review everything the identity and source IP did in the window
--   with `loader sql`, especially successful secret and RBAC requests.
-- param agents: Array(String) = ['trufflehog', 'kube-hunter', 'kubehunter', 'peirates', 'azurehound', 'kubehound', 'kubiscan', 'kubestriker', 'kdigger', 'kubeletctl', 'rbac-police', 'botb', 'kubesploit', 'cdk/', 'kubestroyer', 'kube-scan', 'nmap', 'masscan', 'zgrab', 'nuclei', 'sqlmap', 'nikto', 'metasploit', 'gobuster', 'dirbuster', 'ffuf', 'feroxbuster', 'rakkess', 'access-matrix', 'access_matrix', 'who-can', 'who_can', 'rbac-tool', 'rbac_tool']
-- enabled: true
SELECT firstSeen AS eventTime, * EXCEPT firstSeen
FROM (
    SELECT
        min(eventTime) AS firstSeen,
        groupUniqArray(100)(eventID) AS eventIDs,
        actor['username'] AS user,
        srcIP,
        userAgent,
        uniqExact(eventID) AS count,
        uniqExactIf(eventID, `responseStatus.code` IN (401, 403)) AS denied,
        arrayStringConcat(groupUniqArray(10)(eventName), ', ') AS detail
    FROM kubernetes_audit_logs
    WHERE eventTime >= {start:DateTime64(6)} AND eventTime < {end:DateTime64(6)}
      AND multiSearchAnyCaseInsensitive(userAgent, {agents:Array(String)})
    GROUP BY user, srcIP, userAgent
)
ORDER BY eventTime
