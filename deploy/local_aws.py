"""One-shot setup of the local S3 + SQS emulator for the compose stack (idempotent).

Creates the bucket, the queue and its dead-letter queue (redrive after LOADER_MAX_RECEIVES receives)
and the bucket notification that sends every new object's event to the queue. AWS settings come
from boto3's standard chain (AWS_ENDPOINT_URL points at the emulator).
"""

import json
import os

import boto3

bucket = os.environ.get("AUDIT_BUCKET", "audit-logs")
queue = os.environ.get("AUDIT_QUEUE", "audit-logs")
max_receives = int(os.environ.get("LOADER_MAX_RECEIVES", "5"))

s3, sqs = boto3.client("s3"), boto3.client("sqs")
s3.create_bucket(Bucket=bucket)
dlq_url = sqs.create_queue(QueueName=f"{queue}-dlq")["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
url = sqs.create_queue(QueueName=queue, Attributes={
    "VisibilityTimeout": "300",
    "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}),
})["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
    "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}],
})
print(json.dumps({"bucket": bucket, "queue": url, "dlq": dlq_url}))
