"""S3: PutBucketLogging reads any target bucket policy.

Real AWS: PutBucketLogging accepts a target bucket whose policy lets the
logging service principal (logging.s3.amazonaws.com) put objects, whatever
else the policy holds: statements whose Principal is "*" (a Deny of requests
without TLS, say), Action or Resource lists, conditions.

moto 5.2.1: it looks for the logging statement by calling .get on every
statement's Principal, so a policy with `"Principal": "*"` anywhere makes
PutBucketLogging fail with a 500 (AttributeError), which the Terraform AWS
provider retries for minutes; it also only matches an Action or Resource given
as a single string. This patch reads Principal, Action and Resource in all
their forms and otherwise keeps moto's check: an Allow of s3:PutObject for
the logging service on the target prefix, the bucket's objects or the bucket.
"""

import json
from typing import Any

from moto.s3.models import FakeBucket
from moto.s3.utils import LOGGING_SERVICE_PRINCIPAL


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def apply() -> None:
    def _log_permissions_enabled_policy(target_bucket: FakeBucket, target_prefix: str | None) -> bool:
        if not target_bucket.policy:
            return False
        arn = f"arn:{target_bucket.partition}:s3:::{target_bucket.name}"
        accepted = {f"{arn}/{target_prefix or ''}*", f"{arn}/*", arn}
        for stmt in json.loads(target_bucket.policy.decode())["Statement"]:
            principal = stmt.get("Principal")
            services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
            if LOGGING_SERVICE_PRINCIPAL not in services or stmt.get("Effect") != "Allow":
                continue
            if "s3:PutObject" not in _as_list(stmt.get("Action")):
                continue
            if accepted & set(_as_list(stmt.get("Resource"))):
                return True
        return False

    FakeBucket._log_permissions_enabled_policy = staticmethod(_log_permissions_enabled_policy)
