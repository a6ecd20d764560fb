-- The ingest path up to the events. The loader inserts one row per top-level JSON value ("unit") it
-- read into kubernetes_audit_logs_ingest (Null engine: nothing is stored there). Inside ClickHouse:
--   1. every unit is parsed once into the named tuple k8sAuditParse() returns -> ..._ingest_values
--   2. a unit that is an event (nearly all input) goes on with that tuple as it is; an envelope (array,
--      EventList, shipper record, CloudWatch or Azure payload) is unwrapped into its events, each
--      parsed once                                                            -> ..._ingest_events
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
DROP VIEW IF EXISTS kubernetes_audit_logs_ingest_envelopes_mv;
DROP VIEW IF EXISTS kubernetes_audit_logs_ingest_values_mv;
-- 0.1.0 split arrays in a stage of its own
DROP VIEW IF EXISTS kubernetes_audit_logs_ingest_items_mv;
DROP TABLE IF EXISTS kubernetes_audit_logs_ingest_items;
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
-- shipper fields merged next to it or wrapping it (Fluent Bit, Fluentd, Vector), and the envelopes'
-- fields. A String element holds a JSON string's text, or the raw JSON of any other value.
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
    records Array(String), resourceId String, properties Tuple(log String, stream String, pod String))');

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

-- Every value of the input, parsed once. What is an event goes on as it is; an envelope or an array
-- is unwrapped first.
-- The tuple's type is the one k8sAuditParse() returns: written once, in that function.
CREATE TABLE kubernetes_audit_logs_ingest_values ENGINE = Null
EMPTY AS SELECT *,
    k8sAuditParse(unit) AS u,  -- the unit parsed
    '' AS shape                -- 'event', an envelope (k8sEnvelope), 'array', or 'none' (not an object, or rejected by the loader)
FROM kubernetes_audit_logs_ingest;

CREATE MATERIALIZED VIEW kubernetes_audit_logs_ingest_values_mv
TO kubernetes_audit_logs_ingest_values AS
WITH k8sAuditParse(if(unitReason = '' AND startsWith(unit, '{'), unit, '')) AS _u
SELECT *, _u AS u,
       multiIf(unitReason != '', 'none',
               startsWith(unit, '{'), k8sEnvelope(_u),
               startsWith(unit, '[') AND isValidJSON(unit), 'array',
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
    '' AS envCluster,          -- cluster named by the envelope (EKS log group, AKS resource id)
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
    '' AS envPod, '' AS envCluster,
    k8sEventTime(_p, envTime, envDate, receivedAt) AS eventTime
FROM kubernetes_audit_logs_ingest_values
WHERE shape IN ('event', 'unknown', 'none');

-- Envelopes and arrays: each event they hold is taken out and parsed.
CREATE MATERIALIZED VIEW kubernetes_audit_logs_ingest_envelopes_mv
TO kubernetes_audit_logs_ingest_events AS
WITH
    -- an element of a top-level array is parsed on its own, and may be an envelope itself
    if(shape = 'array', k8sAuditParse(if(startsWith(_value, '{'), _value, '')), u) AS _u,
    multiIf(shape != 'array', shape, startsWith(_value, '{'), k8sEnvelope(_u), 'none') AS _shape,
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
WHERE shape NOT IN ('event', 'unknown', 'none');
