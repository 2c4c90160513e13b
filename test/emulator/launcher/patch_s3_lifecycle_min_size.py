"""S3: PutBucketLifecycleConfiguration reports and keeps the transition minimum size.

Real AWS: PutBucketLifecycleConfiguration takes the optional header
`x-amz-transition-default-minimum-object-size` (default
`all_storage_classes_128K`), stores it with the configuration, and echoes it in
the PUT response header; GetBucketLifecycleConfiguration returns the stored
value in the same header.

moto 5.2.1: the PUT response has no such header and GET always answers
`all_storage_classes_128K`. The Terraform AWS provider (5.86+) waits until the
configuration it reads back, including this value, equals what it wrote; with
`transition_default_minimum_object_size = "varies_by_storage_class"` that
never happens against moto and the apply fails after its 3-minute wait.

Not the cause of the ~55 s every lifecycle apply takes against moto: that is
the provider's own steady-state polling (a 10 s delay, then ten reads 5 s
apart that must all match; moto's already do), a fixed wait AWS shows too.
"""

from typing import Any

from moto.s3.responses import S3Response

HEADER = "x-amz-transition-default-minimum-object-size"
DEFAULT = "all_storage_classes_128K"


def apply() -> None:
    orig_put = S3Response._bucket_response_put
    orig_get = S3Response.get_bucket_lifecycle

    def _bucket_response_put(self: S3Response, request: Any, bucket_name: str, querystring: dict) -> Any:
        result = orig_put(self, request, bucket_name, querystring)
        if "lifecycle" not in querystring or result != "":
            return result
        value = request.headers.get(HEADER) or DEFAULT
        self.backend.get_bucket(bucket_name)._emulator_transition_min_size = value
        return 200, {HEADER: value}, ""

    def get_bucket_lifecycle(self: S3Response) -> Any:
        status, headers, body = orig_get(self)
        bucket = self.backend.get_bucket(self.bucket_name)
        value = getattr(bucket, "_emulator_transition_min_size", DEFAULT)
        headers = dict(headers)
        headers[HEADER] = value
        return status, headers, body

    S3Response._bucket_response_put = _bucket_response_put
    S3Response.get_bucket_lifecycle = get_bucket_lifecycle
