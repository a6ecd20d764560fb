"""Notifications: an SQS message body -> the S3 objects it announces.

Accepted bodies: S3 event notifications (Records[], several per message), the same wrapped by SNS
(raw delivery is the S3 body itself; non-raw wraps it as a JSON string in "Message"), and EventBridge
"Object Created" events. s3:TestEvent is recognised so it can be deleted. Only ObjectCreated:*
records are returned. Keys arrive URL-encoded as S3 encodes them ('+' a space, '%2B' a plus).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import unquote_plus


class NotificationError(ValueError):
    """The body is not a notification this loader understands."""


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str
    etag: str | None = None
    version: str | None = None
    size: int | None = None


@dataclass
class Notification:
    objects: list[ObjectRef] = field(default_factory=list)
    test_event: bool = False
    ignored: int = 0          # records of other kinds (ObjectRemoved:*, ...)


def parse(body: str) -> Notification:
    try:
        doc = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise NotificationError(f"body is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise NotificationError("body is not a JSON object")
    if doc.get("Type") == "Notification" and isinstance(doc.get("Message"), str):  # SNS, non-raw delivery
        return parse(doc["Message"])
    if doc.get("Event") == "s3:TestEvent":
        return Notification(test_event=True)
    if isinstance(doc.get("Records"), list):
        return _s3_records(doc["Records"])
    if doc.get("source") == "aws.s3" and isinstance(doc.get("detail"), dict):
        return _eventbridge(doc)
    raise NotificationError("neither an S3, SNS nor EventBridge notification")


def _s3_records(records: list) -> Notification:
    out = Notification()
    for r in records:
        try:
            name = r["eventName"]
            s3 = r["s3"]
            bucket, obj = s3["bucket"]["name"], s3["object"]
            key = obj["key"]
        except (KeyError, TypeError) as exc:
            raise NotificationError(f"S3 record without {exc}") from exc
        if not str(name).startswith(("ObjectCreated:", "s3:ObjectCreated:")):
            out.ignored += 1
            continue
        out.objects.append(ObjectRef(bucket, unquote_plus(key), obj.get("eTag") or None,
                                     obj.get("versionId") or None, obj.get("size")))
    return out


def _eventbridge(doc: dict) -> Notification:
    if doc.get("detail-type") != "Object Created":
        return Notification(ignored=1)
    detail = doc["detail"]
    try:
        bucket, obj = detail["bucket"]["name"], detail["object"]
        key = obj["key"]
    except (KeyError, TypeError) as exc:
        raise NotificationError(f"EventBridge event without {exc}") from exc
    # EventBridge keys are URL-encoded like S3 notification keys (AWS Lambda Powertools'
    # S3EventBridgeNotificationObject.key decodes them with unquote_plus too)
    return Notification([ObjectRef(bucket, unquote_plus(key), obj.get("etag") or None,
                                   obj.get("version-id") or None, obj.get("size"))])
