-- The ingest path up to the events. The loader inserts one row per top-level JSON value ("unit") it
-- read into kubernetes_audit_logs_ingest (Null engine: nothing is stored there). Inside ClickHouse:
--   1. every unit is parsed once into the named tuple k8sAuditParse() returns -> ..._ingest_values
--   2. a unit that is an event (nearly all input) goes on with that tuple as it is; an envelope (array,
--      EventList, shipper record, CloudWatch or Azure payload) is unwrapped into its events, each
--      parsed once                                                            -> ..._ingest_events
--      a GKE LogEntry (alone, in a Pub/Sub message, or in a gcloud array) is rebuilt into the Event it
--      stands for (035_gke.sql)                -> ..._ingest_gke, whose text is parsed once -> ..._ingest_events
--   3. events become rows of kubernetes_audit_logs by reading the tuple (050_flatten.sql); everything
--      else becomes a reject, and each chunk's counts are recorded (060_rejects_and_counts.sql).
-- One INSERT with one deduplication token drives all of it, so a retried chunk adds nothing anywhere.
-- Secret redaction happens before this, in the loader (loader/redact.py): it needs the structure.
--
-- The objects here hold no data, so an upgrade drops and recreates them; the schema is re-applied from
-- the first changed file on, which recreates the views of 050 and 060 too. SQL functions are global on
-- a server, hence the k8s prefix; their parameters are not tuples by name, hence tupleElement().
DROP VIEW IF EXISTS kubernetes_audit_logs_mv;
DROP VIEW IF EXISTS kubernetes_audit_logs_rejects_mv;
DROP VIEW IF EXISTS ingest_chunks_mv;
DROP VIEW IF EXISTS kubernetes_audit_logs_ingest_events_mv;
DROP VIEW IF EXISTS kubernetes_audit_logs_ingest_gke_events_mv;
DROP VIEW IF EXISTS kubernetes_audit_logs_ingest_gke_mv;
DROP VIEW IF EXISTS kubernetes_audit_logs_ingest_envelopes_mv;
DROP VIEW IF EXISTS kubernetes_audit_logs_ingest_values_mv;
-- 0.1.0 split arrays in a stage of its own
DROP VIEW IF EXISTS kubernetes_audit_logs_ingest_items_mv;
DROP TABLE IF EXISTS kubernetes_audit_logs_ingest_items;
DROP TABLE IF EXISTS kubernetes_audit_logs_ingest_gke;
DROP TABLE IF EXISTS kubernetes_audit_logs_ingest_events;
DROP TABLE IF EXISTS kubernetes_audit_logs_ingest_values;
DROP TABLE IF EXISTS kubernetes_audit_logs_ingest;

CREATE TABLE kubernetes_audit_logs_ingest
(
    workspaceID String,
    sourceID String,
    sourceTTL UInt32,
    cluster String,          -- default for tags['cluster'] when the envelope names none
    source String,
    receivedAt DateTime,
    token String,            -- the chunk's deduplication token
    chunk UInt32,
    line UInt64,
    byteOffset UInt64,
    unit String,
    unitReason String,       -- set by the loader when it could not read the unit (too large, ...)
    unitSize UInt64,         -- original size when the loader truncated the unit, else 0
    unitSHA256 String        -- original SHA-256 when the loader truncated the unit, else ''
)
ENGINE = Null;

-- Everything the ingest path reads from one JSON value, in one parse: the audit Event's fields, the
-- shipper fields merged next to it or wrapping it (Fluent Bit, Fluentd, Vector), the envelopes'
-- fields, and a GKE LogEntry's. A String element holds a JSON string's text, or the raw JSON of any
-- other value.
CREATE OR REPLACE FUNCTION k8sAuditParse AS (text) -> JSONExtract(text, 'Tuple(
    kind String, apiVersion String, level String, auditID String, stage String,
    requestURI String, verb String,
    user Tuple(username String, uid String, groups Array(String), extra Map(String, Array(String))),
    impersonatedUser Tuple(username String, groups Array(String)),
    sourceIPs Array(String), userAgent String,
    objectRef Tuple(resource String, namespace String, name String, uid String,
                    apiGroup String, apiVersion String, subresource String),
    responseStatus Tuple(metadata String, code Int64, status String, reason String, message String),
    requestObject Tuple(metadata Tuple(name String), roleRef Tuple(kind String, name String)),
    responseObject Tuple(metadata Tuple(name String), roleRef Tuple(kind String, name String)),
    requestReceivedTimestamp String, stageTimestamp String, timestamp String,
    annotations Map(String, String),
    time String, date String, stream String,
    kubernetes Tuple(pod_name String, namespace_name String, pod_id String,
                     labels Tuple(component String, tier String), host String, container_name String,
                     docker_id String, container_hash String, container_image String),
    log String, message String,
    items Array(String),
    messageType String, logGroup String, logEvents Array(Tuple(timestamp String, message String)),
    records Array(String), resourceId String, properties Tuple(log String, stream String, pod String),
    insertId String, logName String, operation Tuple(id String, first Bool, last Bool),
    resource Tuple(labels Tuple(cluster_name String, project_id String, location String)),
    labels Map(String, String),
    protoPayload Tuple(serviceName String, methodName String, resourceName String,
                       authenticationInfo Tuple(principalEmail String, principalSubject String, authoritySelector String),
                       requestMetadata Tuple(callerIp String, callerIP String, callerSuppliedUserAgent String),
                       status Tuple(code Int64, message String), request String, response String),
    subscription String, data String, messageId String)');

-- An audit event, as the contract defines one (given that the value parsed is a JSON object).
CREATE OR REPLACE FUNCTION k8sIsEvent AS (p) -> tupleElement(p, 'auditID') != '' OR tupleElement(p, 'kind') = 'Event';

-- Pretty-printed input as one line: whitespace outside strings goes (only text with a newline pays).
CREATE OR REPLACE FUNCTION k8sOneLine AS (text) ->
    if(position(text, '\n') > 0 OR position(text, '\r') > 0,
       replaceRegexpAll(text, '("(?:[^"\\\\]|\\\\.)*")|\\s+', '\\1'), text);

-- Envelope times: ISO text, epoch seconds, or epoch milliseconds (CloudWatch).
CREATE OR REPLACE FUNCTION k8sEnvTime AS (t) ->
    if(match(t, '^[0-9]+(\\.[0-9]+)?$'),
       toDateTime64(toFloat64OrZero(t) / if(toFloat64OrZero(t) > 100000000000, 1000, 1), 6, 'UTC'),
       parseDateTime64BestEffortOrNull(t, 6, 'UTC'));

-- Why a value (text, parsed p) is not an event, or '' when it is one.
CREATE OR REPLACE FUNCTION k8sRejectReason AS (unitReason, text, p) -> multiIf(
    unitReason != '', unitReason,
    startsWith(trimLeft(text), '{') AND k8sIsEvent(p), '',
    NOT isValidJSON(text), 'invalid JSON',
    JSONType(text) != 'Object', 'not an audit event: the JSON value is not an object',
    'not an audit event (no auditID and no kind: Event)');

-- eventTime: the first of requestReceivedTimestamp, stageTimestamp, timestamp, the envelope's times,
-- receivedAt.
CREATE OR REPLACE FUNCTION k8sEventTime AS (p, envTime, envDate, receivedAt) -> coalesce(
    parseDateTime64BestEffortOrNull(tupleElement(p, 'requestReceivedTimestamp'), 6, 'UTC'),
    parseDateTime64BestEffortOrNull(tupleElement(p, 'stageTimestamp'), 6, 'UTC'),
    parseDateTime64BestEffortOrNull(tupleElement(p, 'timestamp'), 6, 'UTC'),
    k8sEnvTime(envTime), k8sEnvTime(envDate), toDateTime64(receivedAt, 6, 'UTC'));

-- A Cloud Logging LogEntry (GKE writes its audit events as such), given its parse.
CREATE OR REPLACE FUNCTION k8sIsLogEntry AS (p) ->
    tupleElement(tupleElement(p, 'protoPayload'), 'serviceName') != '' OR tupleElement(p, 'logName') != '';

-- What a JSON object is, given its parse: an audit event (merged with shipper fields or not), or the
-- envelope around one or more events.
CREATE OR REPLACE FUNCTION k8sEnvelope AS (p) -> multiIf(
    k8sIsEvent(p), 'event',
    tupleElement(p, 'messageType') != '' OR notEmpty(tupleElement(p, 'logEvents')), 'cloudwatch',
    notEmpty(tupleElement(p, 'records')), 'azure',
    tupleElement(tupleElement(p, 'properties'), 'log') != '', 'azure_record',
    tupleElement(p, 'kind') = 'EventList', 'eventlist',
    tupleElement(p, 'log') != '' OR tupleElement(p, 'message') != '', 'shipper',
    'unknown');

-- What a unit is, given its parse: what k8sEnvelope says, except that a GKE LogEntry and a Pub/Sub
-- message (a push envelope holds it in `message`, so it is told apart before a shipper record; a bare
-- message has data and messageId) are told apart first. Only units can be these: in an array (other
-- than a gcloud one, 'gke_array'), a value is what k8sEnvelope says.
CREATE OR REPLACE FUNCTION k8sUnitShape AS (p) -> multiIf(
    k8sIsEvent(p), 'event',
    k8sIsLogEntry(p), 'gke',
    tupleElement(p, 'subscription') != '' AND startsWith(tupleElement(p, 'message'), '{'), 'pubsub_push',
    tupleElement(p, 'data') != '' AND tupleElement(p, 'messageId') != '', 'pubsub',
    k8sEnvelope(p));

-- Every value of the input, parsed once. What is an event goes on as it is; an envelope or an array
-- is unwrapped first.
-- The tuple's type is the one k8sAuditParse() returns: written once, in that function.
CREATE TABLE kubernetes_audit_logs_ingest_values ENGINE = Null
EMPTY AS SELECT *,
    k8sAuditParse(unit) AS u,  -- the unit parsed
    '' AS shape                -- 'event', an envelope or a LogEntry (k8sUnitShape), 'array', 'gke_array', or 'none' (not an object, or rejected by the loader)
FROM kubernetes_audit_logs_ingest;

CREATE MATERIALIZED VIEW kubernetes_audit_logs_ingest_values_mv
TO kubernetes_audit_logs_ingest_values AS
WITH k8sAuditParse(if(unitReason = '' AND startsWith(unit, '{'), unit, '')) AS _u
SELECT *, _u AS u,
       multiIf(unitReason != '', 'none',
               startsWith(unit, '{'), k8sUnitShape(_u),
               -- an array that may hold GKE LogEntries (gcloud logging read) takes the GKE path, where an
               -- element that is no LogEntry is judged as any value
               startsWith(unit, '[') AND isValidJSON(unit), if(position(unit, '"protoPayload"') > 0, 'gke_array', 'array'),
               'none') AS shape
FROM kubernetes_audit_logs_ingest;

CREATE TABLE kubernetes_audit_logs_ingest_events ENGINE = Null
EMPTY AS SELECT
    workspaceID, sourceID, sourceTTL, cluster, source, receivedAt, token, chunk, line, byteOffset,
    toUInt32(0) AS item,       -- 1-based element of a top-level JSON array, 0 when the unit was not one
    toUInt32(0) AS record,     -- 1-based record inside an envelope, 0 when the item was the event itself
    '' AS event,               -- the event's text, one line
    k8sAuditParse(event) AS e, -- the event parsed
    '' AS reason,              -- '' for an event, else why it is a reject
    toUInt64(0) AS rawSize,    -- size of the original text (before truncation by the loader)
    '' AS rawSHA256,           -- SHA-256 of the original text when it is over 1 MiB, else ''
    '' AS envTime,             -- shipper time, Azure time, CloudWatch timestamp (ms)
    '' AS envDate,             -- Fluent Bit date (epoch seconds or ISO)
    '' AS envStream,           -- shipper stream (stdout/stderr)
    e.kubernetes AS envKubernetes, -- shipper kubernetes metadata
    '' AS envPod,              -- Azure properties.pod
    '' AS envCluster,          -- cluster named by the envelope (EKS log group, AKS resource id, GKE cluster)
    CAST(map(), 'Map(String, String)') AS envTags, -- tags the envelope adds (GKE: project, location, ...)
    toDateTime64(0, 6, 'UTC') AS eventTime -- first of requestReceivedTimestamp, stageTimestamp, timestamp, envelope time, receivedAt
FROM kubernetes_audit_logs_ingest;

-- The common path: a value that is an event (or no envelope: it is judged here) goes on as it is.
CREATE MATERIALIZED VIEW kubernetes_audit_logs_ingest_events_mv
TO kubernetes_audit_logs_ingest_events AS
WITH unit AS _text, u AS _p
SELECT
    workspaceID, sourceID, sourceTTL, cluster, source, receivedAt, token, chunk, line, byteOffset,
    toUInt32(0) AS item, toUInt32(0) AS record,
    k8sOneLine(unit) AS event,
    u AS e,
    k8sRejectReason(unitReason, _text, _p) AS reason,
    if(unitSize > 0, unitSize, length(_text)) AS rawSize,
    multiIf(unitSHA256 != '', unitSHA256, length(_text) > 1048576, lower(hex(SHA256(_text))), '') AS rawSHA256,
    u.time AS envTime, u.date AS envDate, u.stream AS envStream, u.kubernetes AS envKubernetes,
    '' AS envPod, '' AS envCluster, map() AS envTags,
    k8sEventTime(_p, envTime, envDate, receivedAt) AS eventTime
FROM kubernetes_audit_logs_ingest_values
WHERE shape IN ('event', 'unknown', 'none');

-- Envelopes and arrays: each event they hold is taken out and parsed.
CREATE MATERIALIZED VIEW kubernetes_audit_logs_ingest_envelopes_mv
TO kubernetes_audit_logs_ingest_events AS
WITH
    -- an element of a top-level array is parsed on its own, and may be an envelope itself
    -- (_shape is used all over the view: arrayMap binds _u rather than copy it into k8sEnvelope's every test)
    if(shape = 'array', k8sAuditParse(if(startsWith(_value, '{'), _value, '')), u) AS _u,
    multiIf(shape != 'array', shape, startsWith(_value, '{'), arrayMap(x -> k8sEnvelope(x), [_u])[1], 'none') AS _shape,
    -- an Azure record is parsed for its own fields, then its log for the event
    if(_shape = 'azure', k8sAuditParse(_u.records[record]), _u) AS _az,
    multiIf(_shape = 'cloudwatch', _u.logEvents[record].message,
            _shape IN ('azure', 'azure_record'), _az.properties.log,
            _shape = 'eventlist', _u.items[record],
            _shape = 'shipper', if(_u.log != '', _u.log, _u.message),
            _value) AS _text,
    if(_shape IN ('event', 'none', 'unknown'), _u, k8sAuditParse(_text)) AS _p
SELECT
    workspaceID, sourceID, sourceTTL, cluster, source, receivedAt, token, chunk, line, byteOffset,
    item, record,
    k8sOneLine(_text) AS event,
    _p AS e,
    k8sRejectReason(unitReason, _text, _p) AS reason,
    if(unitSize > 0, unitSize, length(_text)) AS rawSize,
    multiIf(unitSHA256 != '', unitSHA256, length(_text) > 1048576, lower(hex(SHA256(_text))), '') AS rawSHA256,
    multiIf(_shape = 'cloudwatch', _u.logEvents[record].timestamp, _az.time) AS envTime,
    if(_shape LIKE 'azure%', '', _u.date) AS envDate,
    if(_shape LIKE 'azure%', _az.properties.stream, _u.stream) AS envStream,
    _u.kubernetes AS envKubernetes,
    if(_shape LIKE 'azure%', _az.properties.pod, '') AS envPod,
    multiIf(_shape = 'cloudwatch', extract(_u.logGroup, '^/aws/eks/([^/]+)/'),
            _shape LIKE 'azure%', lower(extract(_az.resourceId, '(?i)/managedClusters/([^/]+)')),
            '') AS envCluster,
    map() AS envTags,
    k8sEventTime(_p, envTime, envDate, receivedAt) AS eventTime
FROM kubernetes_audit_logs_ingest_values
-- a top-level JSON array is loaded element by element (an empty one yields nothing)
ARRAY JOIN
    if(shape = 'array', JSONExtractArrayRaw(unit), [unit]) AS _value,
    if(shape = 'array', arrayEnumerate(JSONExtractArrayRaw(unit)), [toUInt32(0)]) AS item
-- an envelope is loaded record by record (a CloudWatch CONTROL_MESSAGE has none)
ARRAY JOIN
    multiIf(_shape = 'cloudwatch', if(_u.messageType = 'CONTROL_MESSAGE', [], arrayEnumerate(_u.logEvents)),
            _shape = 'azure', arrayEnumerate(_u.records),
            _shape = 'eventlist', arrayEnumerate(_u.items),
            [toUInt32(0)]) AS record
WHERE shape NOT IN ('event', 'unknown', 'none', 'gke', 'gke_array', 'pubsub', 'pubsub_push');

-- GKE: every LogEntry (a unit, the data of a Pub/Sub message, or an element of a gcloud array) becomes
-- the Event it stands for, or a reject. The Event is written out as text (k8sGkeRebuild, 035_gke.sql) in a
-- stage of its own, ingest_gke, then parsed as any event's text: a view's aliases are copied wherever
-- they are used and every view is analysed for every insert, so the rebuild appears once, in one view.
CREATE TABLE kubernetes_audit_logs_ingest_gke ENGINE = Null
EMPTY AS SELECT
    workspaceID, sourceID, sourceTTL, cluster, source, receivedAt, token, chunk, line, byteOffset,
    toUInt32(0) AS item,       -- 1-based element of a gcloud array, 0 when the unit was not one
    CAST(('', map()), 'Tuple(String, Map(String, String))') AS gke, -- k8sGkeRebuild: (the Event as text, its tags)
    '' AS text,                -- the value as received
    false AS logEntry,         -- the value is a LogEntry (else an array element to judge as any value)
    '' AS clusterName,         -- the LogEntry's resource.labels.cluster_name
    '' AS gkeReason            -- why a Pub/Sub message is a reject; the next stage judges the rest
FROM kubernetes_audit_logs_ingest_values;

CREATE MATERIALIZED VIEW kubernetes_audit_logs_ingest_gke_mv
TO kubernetes_audit_logs_ingest_gke AS
WITH
    -- a gcloud array's element is parsed on its own
    if(shape = 'gke_array', k8sAuditParse(if(startsWith(_value, '{'), _value, '')), u) AS _u,
    -- a Pub/Sub message holds its LogEntry in base64 (a bare message in data, a push envelope in message.data)
    shape IN ('pubsub', 'pubsub_push') AS _pubsub,
    if(_pubsub, tryBase64Decode(if(shape = 'pubsub', u.data, JSONExtractString(u.message, 'data'))), _value) AS _entryText,
    _pubsub AND NOT startsWith(_entryText, '{') AS _undecodable,
    if(_pubsub, k8sAuditParse(if(_undecodable, '', _entryText)), _u) AS _entry
SELECT
    workspaceID, sourceID, sourceTTL, cluster, source, receivedAt, token, chunk, line, byteOffset, item,
    k8sGkeRebuild(_entry) AS gke,
    if(_undecodable, _value, _entryText) AS text,
    k8sIsLogEntry(_entry) AS logEntry,
    _entry.resource.labels.cluster_name AS clusterName,
    if(_undecodable, 'not a Pub/Sub message: data is not a base64 JSON object', '') AS gkeReason
FROM kubernetes_audit_logs_ingest_values
ARRAY JOIN
    if(shape = 'gke_array', JSONExtractArrayRaw(unit), [unit]) AS _value,
    if(shape = 'gke_array', arrayEnumerate(JSONExtractArrayRaw(unit)), [toUInt32(0)]) AS item
WHERE shape IN ('gke', 'gke_array', 'pubsub', 'pubsub_push');

CREATE MATERIALIZED VIEW kubernetes_audit_logs_ingest_gke_events_mv
TO kubernetes_audit_logs_ingest_events AS
WITH
    gke.1 != '' AS _gke,
    if(_gke, gke.1, text) AS _text,
    k8sAuditParse(if(gkeReason = '' AND startsWith(_text, '{'), _text, '')) AS _p
SELECT
    workspaceID, sourceID, sourceTTL, cluster, source, receivedAt, token, chunk, line, byteOffset,
    item, toUInt32(0) AS record,
    k8sOneLine(_text) AS event,
    _p AS e,
    -- any other LogEntry is a reject; an array element that is no LogEntry is judged as any value
    multiIf(gkeReason != '', gkeReason, logEntry AND NOT _gke, 'not a kubernetes audit entry',
            k8sRejectReason('', _text, _p)) AS reason,
    length(_text) AS rawSize,
    if(length(_text) > 1048576, lower(hex(SHA256(_text))), '') AS rawSHA256,
    '' AS envTime, '' AS envDate, '' AS envStream, _p.kubernetes AS envKubernetes, '' AS envPod,
    -- the --cluster setting, when given, overrides the LogEntry's cluster name
    if(_gke, if(cluster != '', cluster, clusterName), '') AS envCluster,
    gke.2 AS envTags,
    k8sEventTime(_p, '', '', receivedAt) AS eventTime
FROM kubernetes_audit_logs_ingest_gke;
