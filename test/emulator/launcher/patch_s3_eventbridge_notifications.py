"""S3: GetBucketNotificationConfiguration reports EventBridge delivery.

Real AWS: PutBucketNotificationConfiguration with an (empty)
`EventBridgeConfiguration` element turns on delivery of the bucket's events to
Amazon EventBridge, and GetBucketNotificationConfiguration returns the element
again. The Terraform AWS provider (`aws_s3_bucket_notification` with
`eventbridge = true`) reads it back after every apply.

moto 5.2.1: the configuration is stored, but the GET response leaves the
element out, so the provider reads `eventbridge = false` and every plan after
apply wants to turn it on again (never converges). This patch adds the element
to the response when the bucket's configuration has it.
"""

import re
from typing import Any

from moto.s3.responses import S3Response

ELEMENT = b"<EventBridgeConfiguration></EventBridgeConfiguration>"
CLOSE = b"</NotificationConfiguration>"
# An otherwise empty configuration comes back as one self-closed element.
SELF_CLOSED = re.compile(rb"(<NotificationConfiguration\b[^>]*?)\s*/>")


def apply() -> None:
    orig_get = S3Response.get_bucket_notification

    def get_bucket_notification(self: S3Response) -> Any:
        result = orig_get(self)
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if config is None or config.event_bridge is None:
            return result
        status, headers, body = result
        raw = body.encode() if isinstance(body, str) else body
        if ELEMENT in raw:
            return result
        if CLOSE in raw:
            raw = raw.replace(CLOSE, ELEMENT + CLOSE, 1)
        else:
            raw = SELF_CLOSED.sub(lambda m: m.group(1) + b">" + ELEMENT + CLOSE, raw, count=1)
        headers = dict(headers)
        headers.pop("Content-Length", None)
        return status, headers, raw

    S3Response.get_bucket_notification = get_bucket_notification
