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
