"""S3: HeadObject reports a multipart object's checksum as "<base64>-<parts>".

Real AWS: an object uploaded in N parts with a SHA-256 (or SHA-1, CRC32,
CRC32C) checksum has a composite checksum - the checksum of the part
checksums - which GetObject and HeadObject with checksum mode ENABLED both
report as "<base64>-N", with x-amz-checksum-type COMPOSITE.

moto 5.2.1: GetObject adds the "-N" suffix, HeadObject leaves it out, so a
client comparing HeadObject's value with the one it recorded (or with
GetObject's) sees a mismatch for every multipart object.
"""

from typing import Any

from moto.s3.responses import S3Response


def apply() -> None:
    orig = S3Response.head_object

    def head_object(self: S3Response, bucket_name: str, query: dict, key_name: str, headers: dict) -> Any:
        status, response_headers, body = orig(self, bucket_name, query, key_name, headers)
        if status != 200 or headers.get("x-amz-checksum-mode") != "ENABLED":
            return status, response_headers, body
        version_id = query.get("versionId", [None])[0]
        key = self.backend.head_object(bucket_name, key_name, version_id=version_id)
        if key is None or key.checksum_type != "COMPOSITE" or not key.checksum_algorithm:
            return status, response_headers, body
        header = f"x-amz-checksum-{key.checksum_algorithm.lower()}"
        value = response_headers.get(header)
        if value and "-" not in value:
            response_headers[header] = f"{value}-{key.checksum_parts}"
            response_headers["x-amz-checksum-type"] = "COMPOSITE"
        return status, response_headers, body

    S3Response.head_object = head_object
