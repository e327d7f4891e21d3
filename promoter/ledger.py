"""The ledger: every decision as one JSON object in the Object Lock bucket, and the same JSON on the SNS topic.

`decisions/YYYY/MM/DD/NAME/VERSION/TIMESTAMP.json` holds each record. A decision that repeats unchanged (a
refused version is decided again every run) is recorded once: before writing, the promoter puts the same
record at `seen/NAME/VERSION/FINGERPRINT.json` with `If-None-Match: *`, and S3 refuses that put (412) when the
decision was recorded before. The promoter only puts; it never reads, overwrites or deletes an object.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Final, Protocol

from botocore.exceptions import ClientError

SUBJECT_LIMIT: Final = 100  # SNS subjects are at most 100 characters
# Where the promoter puts objects, and nowhere else (its role may put under these prefixes only).
DECISIONS: Final = "decisions/"
SEEN: Final = "seen/"
PREFIXES: Final = (DECISIONS, SEEN)


class ObjectStore(Protocol):
    def put_object(self, **kwargs: object) -> object: ...


class Topic(Protocol):
    def publish(self, **kwargs: object) -> object: ...


def fingerprint(record: Mapping[str, object]) -> str:
    """The decision without its time: equal fingerprints are the same decision taken again."""
    stable = {key: value for key, value in record.items() if key != "decidedAt"}
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()


class Ledger:
    def __init__(self, s3: ObjectStore, sns: Topic, bucket: str, topic_arn: str) -> None:
        self.s3 = s3
        self.sns = sns
        self.bucket = bucket
        self.topic_arn = topic_arn

    def record(self, record: Mapping[str, object], now: datetime) -> bool:
        """Write and publish one decision; False (and nothing written) when the same decision is already recorded."""
        name, version = str(record["package"]), str(record["version"])
        body = json.dumps(record, sort_keys=True, indent=1).encode()
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=f"{SEEN}{name}/{version}/{fingerprint(record)}.json",
                Body=body,
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
                return False
            raise
        moment = now.astimezone(timezone.utc)
        self.s3.put_object(
            Bucket=self.bucket,
            Key=f"{DECISIONS}{moment:%Y/%m/%d}/{name}/{version}/{moment:%Y%m%dT%H%M%S%fZ}.json",
            Body=body,
            ContentType="application/json",
        )
        subject = f"airlock: {name} {version} {record['outcome']}"
        self.sns.publish(
            TopicArn=self.topic_arn,
            Subject=subject[:SUBJECT_LIMIT],
            Message=body.decode(),
            MessageAttributes={
                "outcome": {"DataType": "String", "StringValue": str(record["outcome"])},
                "package": {"DataType": "String", "StringValue": name},
            },
        )
        return True
