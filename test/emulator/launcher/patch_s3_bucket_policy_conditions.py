"""S3: evaluate bucket-policy conditions the way AWS does.

Real AWS: a statement applies only when all its conditions hold; a Deny whose
conditions do not hold denies nothing. Condition keys come from the request
(for example s3:x-amz-server-side-encryption from the request header). A key
missing from the request makes a condition false, except for negated operators
(StringNotEquals, ...), which are true, `...IfExists`, which is true, and Null,
which tests exactly that.

moto 5.2.1: bucket policies are checked for object requests without any request
context, only StringEquals is understood, every other operator is ignored (so a
conditioned Deny matches every request), and a statement whose conditions fail
returns DENIED even when it is an Allow. A bucket that denies "PutObject asking
for encryption other than aws:kms" therefore refuses every upload.

This patch evaluates object requests' bucket-policy statements with the request's
headers as context. The emulator serves plain HTTP on loopback in place of AWS's
TLS endpoint, so aws:SecureTransport is "true" for every request.
"""

import fnmatch
import threading

from moto.iam.access_control import PermissionResult
from moto.s3.models import FakeBucket
from moto.s3.responses import S3Response

_request = threading.local()

# Request headers that become condition keys.
_HEADER_KEYS = {
    "s3:x-amz-server-side-encryption": "x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id": "x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-acl": "x-amz-acl",
    "s3:x-amz-storage-class": "x-amz-storage-class",
}


def _context(headers) -> dict:
    ctx = {"aws:securetransport": ["true"]}
    for key, header in _HEADER_KEYS.items():
        value = headers.get(header) if headers is not None else None
        if value is not None:
            ctx[key.lower()] = [value]
    return ctx


def _list(v):
    return v if isinstance(v, list) else [v]


def _like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


_POSITIVE = {
    "StringEquals": lambda e, a: a == e,
    "StringEqualsIgnoreCase": lambda e, a: a.lower() == e.lower(),
    "StringLike": _like,
    "ArnEquals": lambda e, a: a == e,
    "ArnLike": _like,
    "Bool": lambda e, a: a.lower() == str(e).lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _holds(operator: str, key: str, expected, ctx: dict) -> bool:
    if_exists = operator.endswith("IfExists")
    op = operator[: -len("IfExists")] if if_exists else operator
    actual = ctx.get(key.lower())
    if op == "Null":
        want_missing = str(_list(expected)[0]).lower() == "true"
        return (actual is None) == want_missing
    if actual is None:
        return if_exists or op in _NEGATED
    if op in _NEGATED:
        match = _POSITIVE[_NEGATED[op]]
        return not any(match(str(e), a) for e in _list(expected) for a in actual)
    match = _POSITIVE.get(op)
    if match is None:
        return True  # unknown operator: keep moto's "ignore" behaviour
    return any(match(str(e), a) for e in _list(expected) for a in actual)


def _conditions_hold(statement: dict, ctx: dict) -> bool:
    for operator, block in (statement.get("Condition") or {}).items():
        for key, expected in block.items():
            if not _holds(operator, key, expected, ctx):
                return False
    return True


def _matches(patterns, value: str) -> bool:
    return any(_like(p, value) for p in _list(patterns))


def _applies_to_anyone(principal) -> bool:
    # Like moto, only policies naming everyone are evaluated for a request.
    return principal == "*" or (isinstance(principal, dict) and _list(principal.get("AWS")) == ["*"])


def evaluate(policy: dict, action: str, resource: str, ctx: dict) -> PermissionResult:
    result = PermissionResult.NEUTRAL
    for st in _list(policy.get("Statement", [])):
        if "Action" in st and not _matches(st["Action"], action):
            continue
        if "NotAction" in st and _matches(st["NotAction"], action):
            continue
        if "Resource" in st and not _matches(st["Resource"], resource):
            continue
        if not _applies_to_anyone(st.get("Principal")):
            continue
        if not _conditions_hold(st, ctx):
            continue
        if st.get("Effect") == "Deny":
            return PermissionResult.DENIED
        result = PermissionResult.PERMITTED
    return result


def apply() -> None:
    import json

    original_key_response = S3Response._key_response

    def key_response(self, request, full_url):
        _request.headers = getattr(request, "headers", None)
        try:
            return original_key_response(self, request, full_url)
        finally:
            _request.headers = None

    def get_permission(self, action: str, resource: str):
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)
        return evaluate(policy, action, resource, _context(getattr(_request, "headers", None)))

    S3Response._key_response = key_response
    FakeBucket.get_permission = get_permission
