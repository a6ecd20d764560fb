-- id: k8s-offensive-tool-user-agent
-- title: Known attack or scanning tool user agent
-- description: Requests whose User-Agent names a Kubernetes attack, secret-hunting or network
--   scanning tool (trufflehog, kube-hunter, peirates, azurehound, kubehound, kubiscan, kubesploit, cdk,
--   nmap, nuclei, ...). Tools can fake their agent, but the defaults are left in place surprisingly
--   often, and any hit is worth a look.
-- severity: high
-- mitre: T1595, T1613, T1552
-- operations: *
-- mode: aggregate
-- level: Metadata
-- window: 1h
-- false_positives: Authorised penetration tests and security scans; match their source IPs or users
--   against the test plan.
-- param agents: Array(String) = ['trufflehog', 'kube-hunter', 'kubehunter', 'peirates', 'azurehound', 'kubehound', 'kubiscan', 'kubestriker', 'kdigger', 'kubeletctl', 'rbac-police', 'botb', 'kubesploit', 'cdk/', 'kubestroyer', 'kube-scan', 'nmap', 'masscan', 'zgrab', 'nuclei', 'sqlmap', 'nikto', 'metasploit', 'gobuster', 'dirbuster', 'ffuf', 'feroxbuster']
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
