"""CloudWatch: the Smithy RPC v2 CBOR protocol.

Real AWS: CloudWatch serves smithy-rpc-v2-cbor (POST
/service/GraniteServiceVersion20100801/operation/<Operation>, CBOR bodies,
header Smithy-Protocol: rpc-v2-cbor) besides awsJson1_0 and awsQuery. Current
AWS SDKs (the Go SDK's cloudwatch client among them) speak only CBOR.

moto 5.2.1: only awsQuery and awsJson1_0; a CBOR request gets a 404 HTML page
the SDK cannot decode. This patch translates at the WSGI layer: the CBOR
request becomes the equivalent awsJson1_0 request, and moto's JSON answer is
re-encoded as CBOR, timestamps tagged (tag 1) where the service model has them.
"""

import io
import json
import struct

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

PREFIX = "/service/GraniteServiceVersion20100801/operation/"
TARGET = "GraniteServiceVersion20100801."


class Tag:
    def __init__(self, tag: int, value: object) -> None:
        self.tag, self.value = tag, value


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | info]) + struct.pack(fmt, n)
    raise ValueError("integer too large for CBOR")


def encode(v: object) -> bytes:
    if v is None:
        return b"\xf6"
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if isinstance(v, Tag):
        return _head(6, v.tag) + encode(v.value)
    if isinstance(v, int):
        return _head(0, v) if v >= 0 else _head(1, -1 - v)
    if isinstance(v, float):
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, bytes):
        return _head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return _head(3, len(b)) + b
    if isinstance(v, list):
        return _head(4, len(v)) + b"".join(encode(x) for x in v)
    if isinstance(v, dict):
        return _head(5, len(v)) + b"".join(encode(k) + encode(x) for k, x in v.items())
    raise TypeError(f"cannot encode {type(v)}")


def decode(b: bytes) -> object:
    value, _ = _decode(b, 0)
    return value


def _decode(b: bytes, i: int):  # type: ignore[no-untyped-def]
    major, info = b[i] >> 5, b[i] & 0x1F
    i += 1
    if major == 7:
        simple = {20: False, 21: True, 22: None, 23: None}
        if info in simple:
            return simple[info], i
        if info == 25:
            return struct.unpack(">e", b[i : i + 2])[0], i + 2
        if info == 26:
            return struct.unpack(">f", b[i : i + 4])[0], i + 4
        if info == 27:
            return struct.unpack(">d", b[i : i + 8])[0], i + 8
        raise ValueError(f"unsupported CBOR simple value {info}")
    if info < 24:
        n = info
    elif info == 31:
        n = None  # indefinite length
    else:
        size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        n = int.from_bytes(b[i : i + size], "big")
        i += size
    if major == 0:
        return n, i
    if major == 1:
        return -1 - n, i  # type: ignore[operator]
    if major in (2, 3):
        if n is None:
            parts = []
            while b[i] != 0xFF:
                part, i = _decode(b, i)
                parts.append(part)
            raw = (b"" if major == 2 else "").join(parts)  # type: ignore[attr-defined]
            return raw, i + 1
        raw = b[i : i + n]
        return (raw if major == 2 else raw.decode()), i + n
    if major == 4:
        out = []
        while (n is None and b[i] != 0xFF) or (n is not None and len(out) < n):
            x, i = _decode(b, i)
            out.append(x)
        return out, i + (1 if n is None else 0)
    if major == 5:
        d = {}
        while (n is None and b[i] != 0xFF) or (n is not None and len(d) < n):
            k, i = _decode(b, i)
            d[k], i = _decode(b, i)
        return d, i + (1 if n is None else 0)
    if major == 6:
        return _decode(b, i)  # tags (epoch timestamps) carry their number through
    raise ValueError(f"unsupported CBOR major type {major}")


def _tag_timestamps(value, shape):  # type: ignore[no-untyped-def]
    if value is None or shape is None:
        return value
    if shape.type_name == "timestamp" and isinstance(value, (int, float)):
        return Tag(1, float(value))
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: _tag_timestamps(v, shape.members.get(k)) for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_tag_timestamps(v, shape.member) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: _tag_timestamps(v, shape.value) for k, v in value.items()}
    return value


_model = None


def _output_shape(operation: str):  # type: ignore[no-untyped-def]
    global _model
    if _model is None:
        import botocore.session

        _model = botocore.session.get_session().get_service_model("cloudwatch")
    try:
        return _model.operation_model(operation).output_shape
    except Exception:  # unknown operation: moto answers with its own error
        return None


def apply() -> None:
    orig_call = DomainDispatcherApplication.__call__

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        path = environ.get("PATH_INFO", "")
        if not (path.startswith(PREFIX) and environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor"):
            return orig_call(self, environ, start_response)
        operation = path[len(PREFIX) :]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        params = decode(raw) if raw else {}
        body = json.dumps(params).encode()
        environ = dict(environ)
        environ.update(
            {
                "PATH_INFO": "/",
                "REQUEST_URI": "/",
                "RAW_URI": "/",
                "CONTENT_TYPE": "application/x-amz-json-1.0",
                "HTTP_X_AMZ_TARGET": TARGET + operation,
                "CONTENT_LENGTH": str(len(body)),
                "wsgi.input": io.BytesIO(body),
            }
        )
        captured = {}

        def capture(status, headers, exc_info=None):  # type: ignore[no-untyped-def]
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = orig_call(self, environ, capture)
        answer = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        status = captured["status"]
        try:
            result = json.loads(answer) if answer.strip() else {}
        except ValueError:
            result = {"__type": "InternalFailure", "message": answer.decode(errors="replace")}
        if status.startswith("2"):
            result = _tag_timestamps(result, _output_shape(operation))
        out = encode(result)
        headers = [
            (k, v)
            for k, v in captured["headers"]
            if k.lower() not in ("content-type", "content-length")
        ]
        headers += [
            ("Content-Type", "application/cbor"),
            ("Content-Length", str(len(out))),
            ("Smithy-Protocol", "rpc-v2-cbor"),
        ]
        start_response(status, headers)
        return [out]

    DomainDispatcherApplication.__call__ = __call__
