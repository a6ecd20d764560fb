-- GKE: a Cloud Logging LogEntry whose protoPayload is the Kubernetes API server's AuditLog
-- (serviceName "k8s.io") stands for one audit Event. k8sGkeRebuild writes that Event as JSON text
-- (docs/columns.md, "GKE"), so the ingest path (040_ingest.sql) loads it like any event an envelope
-- holds: the text is the row's rawLog and is parsed once by k8sAuditParse. Everything comes from the
-- LogEntry's own parse (the GKE elements of k8sAuditParse); only the request and response bodies are
-- split into their top-level members, once each, which is how "@type" leaves them and a Status is read.
--
-- A function's argument is copied wherever the function uses it, and every view is analysed again for
-- every insert: arrayMap(x -> ..., [value])[1] binds a value used many times (the entry, its objectRef,
-- its bodies' members) to a name instead, which keeps the views small. A lambda's parameter must not be
-- named as a parameter of a function it is expanded into: the expansion would replace it.
-- Functions hold no data: each apply replaces them. This file comes before 040, whose views call them.

-- A JSON string literal, written as the apiserver writes one: toJSONString escapes '/' as '\/'. Every
-- '/' it writes is escaped, so every '\/' of its output is one such escape.
CREATE OR REPLACE FUNCTION k8sJSONString AS (s) -> replaceAll(toJSONString(s), '\\/', '/');

-- The members ',"key":"value"' of an object, for the values that are not empty.
CREATE OR REPLACE FUNCTION k8sJSONFields AS (keys, values) -> arrayStringConcat(arrayMap(field ->
    concat(',"', field.1, '":', k8sJSONString(field.2)), arrayFilter(field -> field.2 != '', arrayZip(keys, values))));

-- The tokens of a methodName between the version and the verb: RES[, SUB]
-- (io.k8s.core.v1.pods.exec.create -> [pods, exec]); [] for a non-resource method (io.k8s.get).
CREATE OR REPLACE FUNCTION k8sGkeMethodResource AS (m) ->
    arrayFilter(t -> t != '', splitByChar('.', extract(m, '\\.v[0-9]+(?:(?:alpha|beta)[0-9]+)?\\.(.+)\\.[^.]+$')));

-- [apiGroup, apiVersion, namespace, resource, name, subresource, requestURI] from resourceName
-- (GROUP/VERSION/[namespaces/NS/]RES[/NAME[/SUB]]) and methodName. namespaces/NS/RES... is namespaced,
-- RES... cluster-scoped, except that a Namespace's own requests (get, finalize, status: the methodName's
-- resource is namespaces) name the Namespace, whose namespace the apiserver records as its name. The
-- core group is written "core" and recorded as "". A resourceName that names no object (metrics,
-- readyz, HNAP1: its second segment is no version) is a non-resource request to "/" + resourceName.
-- requestURI is the REST path: GKE does not log the query string.
CREATE OR REPLACE FUNCTION k8sGkeObjectRef AS (resourceName, methodName) -> arrayMap(gvr -> arrayMap(rest ->
    multiIf(empty(gvr), ['', '', '', '', '', '', if(resourceName = '', '', concat('/', resourceName))],
            rest[1] = 'namespaces' AND k8sGkeMethodResource(methodName)[1] = 'namespaces',
                [gvr[1], gvr[2], rest[2], 'namespaces', rest[2], rest[3], gvr[4]],
            rest[1] = 'namespaces' AND length(rest) >= 3, [gvr[1], gvr[2], rest[2], rest[3], rest[4], rest[5], gvr[4]],
            [gvr[1], gvr[2], '', rest[1], rest[2], rest[3], gvr[4]]),
    [splitByChar('/', gvr[3])])[1],
    [arrayMap(g -> if(empty(g), [], [if(g[1] = 'core', '', g[1]), g[2], g[3],
                                      concat(if(g[1] = 'core', '/api/', concat('/apis/', g[1], '/')), g[2], '/', g[3])]),
              [extractGroups(resourceName, '^([^/]+)/(v[0-9]+(?:(?:alpha|beta)[0-9]+)?)/([^/].*)$')])[1]])[1];

-- A body's top-level members, [] when it is absent or no object (a protobuf Struct always is one); the
-- raw JSON of one member, '' when absent; a JSON string member's text.
CREATE OR REPLACE FUNCTION k8sGkeMembers AS (body) ->
    if(startsWith(body, '{'), JSONExtractKeysAndValuesRaw(body), CAST([], 'Array(Tuple(String, String))'));
CREATE OR REPLACE FUNCTION k8sGkeMember AS (kv, key) -> arrayFirst(x -> x.1 = key, kv).2;
CREATE OR REPLACE FUNCTION k8sGkeMemberString AS (kv, key) -> JSONExtractString(k8sGkeMember(kv, key));

-- A body as the Event writes it: "@type" dropped; when the body lacks apiVersion or kind and "@type" is
-- GROUP/VERSION.KIND (core.k8s.io/v1.Pod) they are added from it (core.k8s.io/v1 is written v1); a patch
-- ("@type": "k8s.io/Patch") is no GROUP/VERSION.KIND. A body that is no object (no protobuf Struct, which
-- always is one) stays an array, or becomes a JSON string.
CREATE OR REPLACE FUNCTION k8sGkeBody AS (body, kv) -> multiIf(
    startsWith(body, '['), body, NOT startsWith(body, '{'), k8sJSONString(body), concat('{', substring(concat(
    arrayMap(gvk -> k8sJSONFields(['kind', 'apiVersion'], [
            if(k8sGkeMember(kv, 'kind') = '', gvk[3], ''),
            if(k8sGkeMember(kv, 'apiVersion') = '', arrayStringConcat(arrayFilter(x -> x NOT IN ('', 'core.k8s.io'), [gvk[1], gvk[2]]), '/'), '')]),
        [extractGroups(k8sGkeMemberString(kv, '@type'), '^([^/]+)/(v[0-9]+(?:(?:alpha|beta)[0-9]+)?)\\.([A-Za-z0-9]+)$')])[1],
    arrayStringConcat(arrayMap(x -> concat(',', k8sJSONString(x.1), ':', x.2), arrayFilter(x -> x.1 != '@type', kv)))), 2), '}'));

-- The HTTP code. protoPayload.status.code is a google.rpc.Code (grpc): a Status response's own code wins
-- (a PodSecurity denial is 403 with gRPC 7); a success (0) is inferred from the request, as GKE logs no
-- HTTP code for one; otherwise the mapping of google/rpc/code.proto.
CREATE OR REPLACE FUNCTION k8sGkeCode AS (grpc, isStatus, statusCode, subresource, verb) -> multiIf(
    isStatus AND match(statusCode, '^[0-9]+$'), toInt64OrZero(statusCode),
    grpc = 0, multiIf(subresource IN ('exec', 'attach', 'portforward'), 101, verb = 'create', 201, 200),
    transform(grpc, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
              [499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401], 500));

-- user.username: the principal's e-mail (Google identities, and Kubernetes users such as
-- system:serviceaccount:NS:NAME or system:anonymous), else its subject, else the authority selector.
CREATE OR REPLACE FUNCTION k8sGkeUsername AS (auth) -> multiIf(
    tupleElement(auth, 'principalEmail') != '', tupleElement(auth, 'principalEmail'),
    tupleElement(auth, 'principalSubject') != '', tupleElement(auth, 'principalSubject'),
    tupleElement(auth, 'authoritySelector'));

-- What a GKE LogEntry (p, parsed by k8sAuditParse) stands for: (the Event as one line of JSON, its tags);
-- ('', {}) when p is no Kubernetes audit entry (serviceName "k8s.io").
CREATE OR REPLACE FUNCTION k8sGkeRebuild AS (p) -> arrayMap(x -> if(tupleElement(tupleElement(x, 'protoPayload'), 'serviceName') = 'k8s.io',
    k8sGkeRebuildOf(x, tupleElement(x, 'protoPayload')), ('', map())), [p])[1];

CREATE OR REPLACE FUNCTION k8sGkeRebuildOf AS (p, pp) -> arrayMap((ref, reqKV, respKV, verb) -> (
    k8sGkeEvent(p, pp, ref, reqKV, respKV, verb, tupleElement(tupleElement(pp, 'status'), 'code'),
                k8sGkeMemberString(respKV, 'kind') = 'Status' OR k8sGkeMemberString(respKV, '@type') = 'core.k8s.io/v1.Status'),
    k8sGkeTags(p, pp, ref)),
    [k8sGkeObjectRef(tupleElement(pp, 'resourceName'), tupleElement(pp, 'methodName'))],
    [k8sGkeMembers(tupleElement(pp, 'request'))],
    [k8sGkeMembers(tupleElement(pp, 'response'))],
    [splitByChar('.', tupleElement(pp, 'methodName'))[-1]])[1];

-- verb: the last token of the methodName. stage: GKE's policy omits RequestReceived, and an entry that is
-- its operation's first but not its last is a response that started (exec, attach, watch). The response
-- status is the response's when that is a Kubernetes Status, else the gRPC status's message.
CREATE OR REPLACE FUNCTION k8sGkeEvent AS (p, pp, ref, reqKV, respKV, verb, grpc, isStatus) -> concat(
    '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"',
    multiIf(tupleElement(pp, 'response') != '', 'RequestResponse', tupleElement(pp, 'request') != '', 'Request', 'Metadata'), '"',
    k8sJSONFields(['auditID', 'stage', 'requestURI', 'verb'], [
        if(tupleElement(tupleElement(p, 'operation'), 'id') != '', tupleElement(tupleElement(p, 'operation'), 'id'),
           tupleElement(p, 'insertId')),
        if(tupleElement(tupleElement(p, 'operation'), 'first') AND NOT tupleElement(tupleElement(p, 'operation'), 'last'),
           'ResponseStarted', 'ResponseComplete'),
        ref[7], verb]),
    ',"user":{"username":', k8sJSONString(k8sGkeUsername(tupleElement(pp, 'authenticationInfo'))), '}',
    ',"sourceIPs":[', arrayStringConcat(arrayMap(ip -> k8sJSONString(ip), arrayFilter(ip -> ip != '', [
        if(tupleElement(tupleElement(pp, 'requestMetadata'), 'callerIp') != '',
           tupleElement(tupleElement(pp, 'requestMetadata'), 'callerIp'),
           tupleElement(tupleElement(pp, 'requestMetadata'), 'callerIP'))]))), ']',
    k8sJSONFields(['userAgent'], [tupleElement(tupleElement(pp, 'requestMetadata'), 'callerSuppliedUserAgent')]),
    if(ref[4] = '', '', concat(',"objectRef":{',
        substring(k8sJSONFields(['resource', 'namespace', 'name', 'apiGroup', 'apiVersion', 'subresource'],
                                [ref[4], ref[3], ref[5], ref[1], ref[2], ref[6]]), 2), '}')),
    ',"responseStatus":{"metadata":{}',
    k8sJSONFields(['status', 'reason', 'message'], if(isStatus,
        [k8sGkeMemberString(respKV, 'status'), k8sGkeMemberString(respKV, 'reason'), k8sGkeMemberString(respKV, 'message')],
        [if(grpc != 0, 'Failure', ''), '', tupleElement(tupleElement(pp, 'status'), 'message')])),
    ',"code":', toString(k8sGkeCode(grpc, isStatus, k8sGkeMember(respKV, 'code'), ref[6], verb)), '}',
    if(tupleElement(pp, 'request') = '', '', concat(',"requestObject":', k8sGkeBody(tupleElement(pp, 'request'), reqKV))),
    if(tupleElement(pp, 'response') = '', '', concat(',"responseObject":', k8sGkeBody(tupleElement(pp, 'response'), respKV))),
    k8sJSONFields(['requestReceivedTimestamp', 'stageTimestamp'], [tupleElement(p, 'timestamp'), tupleElement(p, 'timestamp')]),
    if(empty(tupleElement(p, 'labels')), '',
       concat(',"annotations":', replaceAll(toJSONString(tupleElement(p, 'labels')), '\\/', '/'))),
    '}');

-- What the LogEntry says beyond its Event, as tags: where the cluster runs, which audit log holds the
-- entry, the gRPC code of a failure, a methodName that disagrees with the objectRef read from
-- resourceName, and the authority selector next to a principalEmail. (tags['cluster'] is the cluster name:
-- 040_ingest.sql, envCluster.)
CREATE OR REPLACE FUNCTION k8sGkeTags AS (p, pp, ref) -> map(
    'gke.project_id', tupleElement(tupleElement(tupleElement(p, 'resource'), 'labels'), 'project_id'),
    'gke.location', tupleElement(tupleElement(tupleElement(p, 'resource'), 'labels'), 'location'),
    'gke.logName', extract(tupleElement(p, 'logName'), '(?:/|%2F)([^/%]+)$'),
    'gke.status.code', if(tupleElement(tupleElement(pp, 'status'), 'code') = 0, '',
                          toString(tupleElement(tupleElement(pp, 'status'), 'code'))),
    'gke.methodName', if(k8sGkeMethodResource(tupleElement(pp, 'methodName')) = arrayFilter(x -> x != '', [ref[4], ref[6]]),
                         '', tupleElement(pp, 'methodName')),
    -- kept next to a principalEmail only, as gke.md says (beside a principalSubject it is not kept)
    'gke.authoritySelector', if(tupleElement(tupleElement(pp, 'authenticationInfo'), 'principalEmail') = '',
                                '', tupleElement(tupleElement(pp, 'authenticationInfo'), 'authoritySelector')));
