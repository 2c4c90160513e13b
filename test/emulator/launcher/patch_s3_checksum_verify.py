"""S3: PutObject and UploadPart verify a declared x-amz-checksum-<algorithm>.

Real AWS: when a request carries `x-amz-checksum-sha256` (or -sha1, -crc32,
...), S3 computes that checksum over the received body and refuses the write
with 400 BadDigest if they differ; the value is stored with the object and
HeadObject with checksum mode ENABLED reports it. This holds whether or not
the client also sends `x-amz-sdk-checksum-algorithm` - a presigned PUT whose
signature covers `x-amz-checksum-sha256` has only the checksum header, and is
how a registry binds an upload URL to one exact content.

moto 5.2.1: the checksum header is only read when
`x-amz-sdk-checksum-algorithm` names the algorithm, and it is never compared
with the body: any bytes are stored under the declared (wrong) checksum, or,
without the SDK header, with no checksum at all.

Verified here: SHA256, SHA1 and CRC32, which moto computes exactly (its
CRC32C/CRC64NVME fall back to CRC32 when optional libraries are missing, so
comparing those could refuse correct bodies). Bodies in aws-chunked
encoding carry their checksum in a trailer and are left to moto.
"""

from typing import Any

from moto.s3.exceptions import S3ClientError
from moto.s3.responses import S3Response
from moto.s3.utils import compute_checksum

VERIFIED = ("SHA256", "SHA1", "CRC32")


class BadDigest(S3ClientError):
    code = 400

    def __init__(self, algorithm: str) -> None:
        super().__init__(
            "BadDigest",
            f"The {algorithm} you specified did not match the calculated checksum.",
        )


def apply() -> None:
    orig = S3Response._get_checksum

    def _get_checksum(self: S3Response, response_headers: dict) -> Any:
        streaming = (self.headers.get("x-amz-content-sha256") or "").startswith("STREAMING-")
        if not streaming:
            for algorithm in VERIFIED:
                header = f"x-amz-checksum-{algorithm.lower()}"
                declared = self.headers.get(header)
                if not declared:
                    continue
                body = self.body or b""
                if isinstance(body, str):
                    body = body.encode("utf-8")
                actual = compute_checksum(body, algorithm).decode()
                if actual != declared:
                    raise BadDigest(algorithm)
                if not self.headers.get("x-amz-sdk-checksum-algorithm"):
                    response_headers[header] = declared
                    return algorithm, declared
                break
        return orig(self, response_headers)

    S3Response._get_checksum = _get_checksum
