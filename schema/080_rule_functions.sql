-- Helpers the saved queries in queries/ share (like Falco's macros), so each rule states only what it
-- looks for. SQL functions are global on a server, hence the k8s prefix; CREATE OR REPLACE lets a
-- schema upgrade change them.

-- Every pod spec a request or response body can carry, whatever the kind: the pre-1.25
-- EphemeralContainers body (the request root) first, then Pod, workload template, CronJob template,
-- and the same from the response. Rules that need real pod specs skip the first: arraySlice(specs, 2).
CREATE OR REPLACE FUNCTION k8sPodSpecs AS (raw) -> [
    JSONExtractRaw(raw, 'requestObject'),
    JSONExtractRaw(raw, 'requestObject', 'spec'),
    JSONExtractRaw(raw, 'requestObject', 'spec', 'template', 'spec'),
    JSONExtractRaw(raw, 'requestObject', 'spec', 'jobTemplate', 'spec', 'template', 'spec'),
    JSONExtractRaw(raw, 'responseObject', 'spec'),
    JSONExtractRaw(raw, 'responseObject', 'spec', 'template', 'spec'),
    JSONExtractRaw(raw, 'responseObject', 'spec', 'jobTemplate', 'spec', 'template', 'spec')];

-- Every operation that writes a pod spec: pods (and their ephemeral containers) and each workload kind.
-- `eventName IN k8sPodSpecWrites()` still narrows by the sort key.
CREATE OR REPLACE FUNCTION k8sPodSpecWrites AS () -> [
    'create-pods', 'update-pods', 'patch-pods', 'update-pods-ephemeralcontainers',
    'patch-pods-ephemeralcontainers', 'create-deployments', 'update-deployments', 'patch-deployments',
    'create-daemonsets', 'update-daemonsets', 'patch-daemonsets', 'create-statefulsets',
    'update-statefulsets', 'patch-statefulsets', 'create-replicasets', 'update-replicasets',
    'patch-replicasets', 'create-jobs', 'update-jobs', 'patch-jobs', 'create-cronjobs',
    'update-cronjobs', 'patch-cronjobs', 'create-replicationcontrollers',
    'update-replicationcontrollers', 'patch-replicationcontrollers'];

-- Every container, init container and ephemeral container of those specs, as raw JSON.
CREATE OR REPLACE FUNCTION k8sContainers AS (specs) ->
    arrayFlatten(arrayMap(s -> arrayConcat(JSONExtractArrayRaw(s, 'containers'), JSONExtractArrayRaw(s, 'initContainers'),
                                           JSONExtractArrayRaw(s, 'ephemeralContainers')), specs));

-- Every volume of those specs, as raw JSON (hostPath, secret, ...); pass arraySlice(specs, 2) for the
-- real pod specs only.
CREATE OR REPLACE FUNCTION k8sVolumes AS (specs) ->
    arrayFlatten(arrayMap(s -> JSONExtractArrayRaw(s, 'volumes'), specs));

-- The argv of an exec/attach request: kubectl sends each element as its own command= query value,
-- form-encoded ('+' is a space).
CREATE OR REPLACE FUNCTION k8sExecArgv AS (uri) ->
    arrayMap(x -> decodeURLFormComponent(x), extractAll(uri, '[?&]command=([^&]*)'));

-- The rules of a Role or ClusterRole after a write: the response when the audit level logged it, else
-- the request (create and update send the role whole; a patch carries only the change).
CREATE OR REPLACE FUNCTION k8sRoleRules AS (raw) ->
    if(JSONHas(raw, 'responseObject', 'rules'), JSONExtractArrayRaw(raw, 'responseObject', 'rules'),
       JSONExtractArrayRaw(raw, 'requestObject', 'rules'));

-- The verbs and the resources of one of those rules.
CREATE OR REPLACE FUNCTION k8sRuleVerbs AS (rule) -> JSONExtract(rule, 'verbs', 'Array(String)');
CREATE OR REPLACE FUNCTION k8sRuleResources AS (rule) -> JSONExtract(rule, 'resources', 'Array(String)');

-- Rules as a finding's text: 'get,list on secrets; * on *'.
CREATE OR REPLACE FUNCTION k8sRoleRulesText AS (rules) ->
    arrayStringConcat(arrayMap(r -> concat(arrayStringConcat(k8sRuleVerbs(r), ','), ' on ',
                                           arrayStringConcat(k8sRuleResources(r), ',')), rules), '; ');

-- (The lambdas in the functions below name their argument k8s_*: a function's body is pasted into the
-- query, so a plain 'p' would capture a caller's lambda argument of the same name.)

-- A host path as the kubelet resolves it: repeated '/', '.' components and a trailing '/' dropped
-- ('//etc/./kubernetes/' is '/etc/kubernetes', '/' stays '/'). The API server refuses '..' in a hostPath.
CREATE OR REPLACE FUNCTION k8sCleanPath AS (path) ->
    concat(if(startsWith(path, '/'), '/', ''),
           arrayStringConcat(arrayFilter(k8s_component -> k8s_component NOT IN ('', '.'), splitByChar('/', path)), '/'));

-- Whether a path is one of the prefixes or lies below one, by whole path components (both cleaned as
-- above): '/var/run/docker.sock' is below '/var/run', '/run/xtables.lock' is below '/run' but not below
-- '/run/containerd', '/etcd-backup' is not below '/etc', and '/' matches only '/' itself.
CREATE OR REPLACE FUNCTION k8sPathUnder AS (path, prefixes) ->
    arrayExists(k8s_prefix -> k8sCleanPath(path) = k8sCleanPath(k8s_prefix)
                              OR startsWith(k8sCleanPath(path), concat(k8sCleanPath(k8s_prefix), '/')),
                prefixes);

-- The identities the kube-controller-manager writes workloads' children with: pods of DaemonSets,
-- ReplicaSets, StatefulSets, Jobs and ReplicationControllers, a Deployment's ReplicaSets, a CronJob's Jobs.
CREATE OR REPLACE FUNCTION k8sWorkloadControllers AS () -> [
    'system:kube-controller-manager', 'system:serviceaccount:kube-system:daemon-set-controller',
    'system:serviceaccount:kube-system:replicaset-controller', 'system:serviceaccount:kube-system:deployment-controller',
    'system:serviceaccount:kube-system:statefulset-controller', 'system:serviceaccount:kube-system:job-controller',
    'system:serviceaccount:kube-system:cronjob-controller', 'system:serviceaccount:kube-system:replication-controller'];

-- The controlling owner reference of the object a body carries (raw JSON, '' when it has none).
CREATE OR REPLACE FUNCTION k8sControllerRef AS (raw) ->
    arrayFirst(k8s_owner -> JSONExtractBool(k8s_owner, 'controller'),
               arrayConcat(JSONExtractArrayRaw(raw, 'requestObject', 'metadata', 'ownerReferences'),
                           JSONExtractArrayRaw(raw, 'responseObject', 'metadata', 'ownerReferences')));

-- The name of the workload a pod-spec write belongs to, for the rules' exclusion lists: the object's own
-- name (`objectRef.name`) for a workload (Deployment, DaemonSet, ...); for what one of
-- k8sWorkloadControllers() writes, its controlling owner's name, a ReplicaSet's pod-template-hash dropped
-- (a pod of ReplicaSet coredns-5d78c9869d belongs to coredns); '' for a pod anyone else writes. Owner
-- references count only from those controllers, which stamp pods out of a template someone else wrote
-- (that write is judged under the workload's own name): anyone else can name a pod, or write an owner
-- into it, like a system component's.
CREATE OR REPLACE FUNCTION k8sWorkloadName AS (resource, name, user, raw) ->
    multiIf(has(k8sWorkloadControllers(), user) AND JSONExtractString(k8sControllerRef(raw), 'name') != '',
            if(JSONExtractString(k8sControllerRef(raw), 'kind') = 'ReplicaSet'
                   AND endsWith(JSONExtractString(k8sControllerRef(raw), 'name'),
                                concat('-', JSONExtractString(raw, 'requestObject', 'metadata', 'labels', 'pod-template-hash'))),
               substring(JSONExtractString(k8sControllerRef(raw), 'name'), 1,
                         length(JSONExtractString(k8sControllerRef(raw), 'name'))
                         - length(JSONExtractString(raw, 'requestObject', 'metadata', 'labels', 'pod-template-hash')) - 1),
               JSONExtractString(k8sControllerRef(raw), 'name')),
            resource = 'pods', '',
            name);
