-- Stage 2: unwrap whatever envelope the log shipper used, then judge each candidate event.
-- Shapes recognised (contract, "What a line of input can be"):
--   audit Event (possibly merged with Fluent Bit/Fluentd/Vector fields date/stream/time/kubernetes),
--   EventList (items[]), shipper record with the Event nested in log/message (object or JSON string),
--   CloudWatch Logs subscription payload (logEvents[].message; CONTROL_MESSAGE skipped),
--   Azure diagnostic settings (records[].properties.log, or a single record).
-- Each output row is one candidate event text (minified to one line, Secrets redacted) plus the
-- envelope's fields; reason is empty for a valid event and says why otherwise.
CREATE TABLE IF NOT EXISTS kubernetes_audit_logs_ingest_events
(
    workspaceID String, sourceID String, sourceTTL UInt32, cluster String, source String,
    receivedAt DateTime, token String, chunk UInt32, line UInt64, byteOffset UInt64, item UInt32,
    record UInt32,           -- 1-based record inside an envelope, 0 when the item was the event itself
    event String,            -- the event as one line of JSON, redacted
    reason String,           -- '' for an event, else why it is a reject
    rawSize UInt64,          -- size of the original text (before truncation by the loader)
    rawSHA256 String,        -- SHA-256 of the original text when it is over 1 MiB, else ''
    envTime String,          -- envelope time: Fluent Bit time, Azure time, CloudWatch timestamp (ms)
    envDate String,          -- Fluent Bit date (epoch seconds or ISO)
    envStream String,        -- shipper stream (stdout/stderr)
    envKubernetes String,    -- shipper kubernetes metadata object, as JSON
    envPod String,           -- Azure properties.pod
    envCluster String,       -- cluster named by the envelope (EKS log group, AKS resource id)
    eventTime DateTime64(6, 'UTC') -- first of requestReceivedTimestamp, stageTimestamp, timestamp, envelope time, receivedAt
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS kubernetes_audit_logs_ingest_events_mv
TO kubernetes_audit_logs_ingest_events AS
WITH
    _rec.1 AS _text,
    -- one line of JSON: drop whitespace outside strings (pretty-printed input, trailing newlines)
    if(match(_text, '[\\n\\r]'),
       replaceRegexpAll(_text, '("(?:[^"\\\\]|\\\\.)*")|\\s+', '\\1'),
       _text) AS _line,
    -- Secret values: each flat data/stringData object is rebuilt with hashed values; the
    -- last-applied-configuration annotation (a copy of the whole Secret) is blanked.
    redact AND match(_line, '"resource"\\s*:\\s*"secrets"') AS _isSecret,
    extractAll(_line, '"(?:data|stringData)"\\s*:\\s*\\{[^{}]*\\}') AS _objs,
    arrayMap(o -> concat(
            substring(o, 1, position(o, '{')),
            arrayStringConcat(arrayMap(p -> concat(p[1], ':"<redacted sha256:',
                    left(lower(hex(SHA256(JSONExtractString(concat('[', p[2], ']'), 1)))), 12), '>"'),
                extractAllGroups(o, '("(?:[^"\\\\]|\\\\.)*")\\s*:\\s*("(?:[^"\\\\]|\\\\.)*")')), ','),
            '}'), _objs) AS _newObjs,
    multiIf(NOT _isSecret, _line,
       -- a Secret event that does not parse cannot be redacted field by field: its bodies are cut off
       NOT isValidJSON(_line),
       replaceRegexpOne(_line, '("(?:requestObject|responseObject)"\\s*:).*$', '\\1"<redacted: unparseable Secret body>"'),
       replaceRegexpAll(
           arrayFold((acc, x) -> replaceOne(acc, x.1, x.2), arrayZip(_objs, _newObjs), _line),
           '("kubectl\\.kubernetes\\.io/last-applied-configuration"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"',
           '\\1"<redacted>"')) AS _event,
    -- envelope times: ISO text, epoch seconds, or epoch milliseconds (CloudWatch)
    (t -> if(match(t, '^[0-9]+(\\.[0-9]+)?$'),
             if(toFloat64OrZero(t) > 100000000000, toDateTime64(toFloat64OrZero(t) / 1000, 6, 'UTC'), toDateTime64(toFloat64OrZero(t), 6, 'UTC')),
             parseDateTime64BestEffortOrNull(t, 6, 'UTC'))) AS _parse,
    JSONExtract(_event, 'Tuple(requestReceivedTimestamp String, stageTimestamp String, timestamp String)') AS _ts
SELECT
    workspaceID, sourceID, sourceTTL, cluster, source, receivedAt, token, chunk, line, byteOffset, item,
    _rec.2 AS record,
    _event AS event,
    multiIf(_rec.9 != '', _rec.9,
            NOT isValidJSON(_event), 'invalid JSON',
            JSONType(_event) != 'Object', 'not an audit event: the JSON value is not an object',
            NOT (JSONHas(_event, 'auditID') OR JSONExtractString(_event, 'kind') = 'Event'),
                'not an audit event (no auditID and no kind: Event)',
            '') AS reason,
    if(unitSize > 0, unitSize, length(_text)) AS rawSize,
    multiIf(unitSHA256 != '', unitSHA256, length(_text) > 1048576, lower(hex(SHA256(_text))), '') AS rawSHA256,
    _rec.3 AS envTime, _rec.4 AS envDate, _rec.5 AS envStream, _rec.6 AS envKubernetes,
    _rec.7 AS envPod, _rec.8 AS envCluster,
    coalesce(parseDateTime64BestEffortOrNull(_ts.1, 6, 'UTC'), parseDateTime64BestEffortOrNull(_ts.2, 6, 'UTC'),
             parseDateTime64BestEffortOrNull(_ts.3, 6, 'UTC'), _parse(_rec.3), _parse(_rec.4),
             toDateTime64(receivedAt, 6, 'UTC')) AS eventTime
FROM
(
    SELECT *,
        multiIf(unitReason != '', 'loader',
                NOT isValidJSON(unit), 'invalid',
                JSONType(unit) != 'Object', 'event',
                JSONHas(unit, 'logEvents'), 'cloudwatch',
                JSONHas(unit, 'records'), 'azure',
                JSONExtractString(unit, 'kind') = 'EventList', 'eventlist',
                JSONHas(unit, 'auditID') OR JSONExtractString(unit, 'kind') = 'Event', 'event',
                JSONHas(unit, 'properties', 'log'), 'azure_record',
                JSONHas(unit, 'log') OR JSONHas(unit, 'message'), 'shipper',
                'event') AS _shape
    FROM kubernetes_audit_logs_ingest_items
)
-- (text, record, envTime, envDate, envStream, envKubernetes, envPod, envCluster, reason)
ARRAY JOIN
    multiIf(
        _shape = 'cloudwatch',
            if(JSONExtractString(unit, 'messageType') = 'CONTROL_MESSAGE', [],
               arrayMap((e, i) -> (JSONExtractString(e, 'message'), toUInt32(i),
                                   toString(JSONExtractUInt(e, 'timestamp')), '', '', '', '',
                                   extract(JSONExtractString(unit, 'logGroup'), '^/aws/eks/([^/]+)/'), ''),
                        JSONExtractArrayRaw(unit, 'logEvents'), arrayEnumerate(JSONExtractArrayRaw(unit, 'logEvents')))),
        _shape IN ('azure', 'azure_record'),
            arrayMap((r, i) -> (
                        if(JSONType(r, 'properties', 'log') = 'String', JSONExtractString(r, 'properties', 'log'),
                           JSONExtractRaw(r, 'properties', 'log')),
                        toUInt32(i), JSONExtractString(r, 'time'), '', JSONExtractString(r, 'properties', 'stream'), '',
                        JSONExtractString(r, 'properties', 'pod'),
                        lower(extract(JSONExtractString(r, 'resourceId'), '(?i)/managedClusters/([^/]+)')), ''),
                     if(_shape = 'azure', JSONExtractArrayRaw(unit, 'records'), [unit]),
                     if(_shape = 'azure', arrayEnumerate(JSONExtractArrayRaw(unit, 'records')), [0])),
        _shape = 'eventlist',
            arrayMap((e, i) -> (e, toUInt32(i), '', '', '', '', '', '', ''),
                     JSONExtractArrayRaw(unit, 'items'), arrayEnumerate(JSONExtractArrayRaw(unit, 'items'))),
        _shape = 'shipper',
            [(if(JSONHas(unit, 'log'),
                 if(JSONType(unit, 'log') = 'String', JSONExtractString(unit, 'log'), JSONExtractRaw(unit, 'log')),
                 if(JSONType(unit, 'message') = 'String', JSONExtractString(unit, 'message'), JSONExtractRaw(unit, 'message'))),
              toUInt32(0),
              if(JSONType(unit, 'time') = 'String', JSONExtractString(unit, 'time'), JSONExtractRaw(unit, 'time')),
              if(JSONType(unit, 'date') = 'String', JSONExtractString(unit, 'date'), JSONExtractRaw(unit, 'date')),
              JSONExtractString(unit, 'stream'), JSONExtractRaw(unit, 'kubernetes'), '', '', '')],
        _shape = 'event',
            [(unit, toUInt32(0),
              if(JSONType(unit, 'time') = 'String', JSONExtractString(unit, 'time'), JSONExtractRaw(unit, 'time')),
              if(JSONType(unit, 'date') = 'String', JSONExtractString(unit, 'date'), JSONExtractRaw(unit, 'date')),
              JSONExtractString(unit, 'stream'), JSONExtractRaw(unit, 'kubernetes'), '', '', '')],
        _shape = 'invalid',
            [(unit, toUInt32(0), '', '', '', '', '', '', 'invalid JSON')],
        [(unit, toUInt32(0), '', '', '', '', '', '', unitReason)]
    ) AS _rec;
