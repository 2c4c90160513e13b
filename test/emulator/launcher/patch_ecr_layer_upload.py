"""ECR: push images through the API (layer upload) and digest manifests as ECR does.

Real AWS: a client pushes an image with BatchCheckLayerAvailability (which of
these blobs does the repository hold?), InitiateLayerUpload / UploadLayerPart /
CompleteLayerUpload for each missing blob (ECR hashes the received bytes and
refuses the upload with InvalidLayerException when they do not match the
claimed sha256 digest; LayerAlreadyExistsException when it already has it),
then PutImage with the manifest. The image digest is sha256 of the manifest
bytes exactly as sent (what `docker pull repo@sha256:...` and ECS resolve); a
PutImage whose imageDigest differs fails with ImageDigestDoesNotMatchException.

moto 5.2.1: the four layer calls raise NotImplementedError (HTTP 500, which the
SDK retries), and PutImage takes any imageDigest the caller claims, or without
one computes sha256 of the concatenated layer digests, so DescribeImages
reports a digest no registry would and a URI pinned by it points nowhere.

This patch keeps uploaded blobs in memory per repository and makes image
digests sha256(manifest). It does not check that a manifest's blobs were
uploaded (ECR's LayersNotFoundException), so images put without blobs keep
working as before.
"""

import base64
import hashlib
import re
import threading
import uuid

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ecr.models import ECRBackend, Image
from moto.ecr.responses import ECRResponse

_lock = threading.Lock()
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# The part size ECR suggests in InitiateLayerUpload.
PART_SIZE = 10 * 1024 * 1024


class UploadNotFoundException(ServiceException):
    code = "UploadNotFoundException"


class InvalidLayerPartException(ServiceException):
    code = "InvalidLayerPartException"


class InvalidLayerException(ServiceException):
    code = "InvalidLayerException"


class LayerAlreadyExistsException(ServiceException):
    code = "LayerAlreadyExistsException"


class EmptyUploadException(ServiceException):
    code = "EmptyUploadException"


class ImageDigestDoesNotMatchException(ServiceException):
    code = "ImageDigestDoesNotMatchException"


class InvalidParameterException(ServiceException):
    code = "InvalidParameterException"


def _blobs(repository) -> dict:
    if not hasattr(repository, "_emulator_blobs"):
        repository._emulator_blobs = {}
    return repository._emulator_blobs


def _uploads(backend) -> dict:
    if not hasattr(backend, "_emulator_uploads"):
        backend._emulator_uploads = {}
    return backend._emulator_uploads


def _upload(backend, repository_name: str, upload_id: str) -> dict:
    upload = _uploads(backend).get(upload_id)
    if upload is None or upload["repository"] != repository_name:
        raise UploadNotFoundException(
            f"The upload with id '{upload_id}' does not exist in the repository "
            f"with name '{repository_name}'"
        )
    return upload


def _bytes(value) -> bytes:
    # The JSON protocol carries blobs base64-encoded; moto's parser may or may not
    # have decoded them already.
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return base64.b64decode(value or "")


def manifest_digest(manifest: str) -> str:
    return "sha256:" + hashlib.sha256(manifest.encode("utf-8")).hexdigest()


def apply() -> None:
    def batch_check_layer_availability(self: ECRResponse) -> ActionResult:
        name = self._get_param("repositoryName")
        repository = self.ecr_backend._get_repository(name, self._get_param("registryId"))
        layers, failures = [], []
        with _lock:
            blobs = dict(_blobs(repository))
        for digest in self._get_param("layerDigests") or []:
            if not _DIGEST.match(digest or ""):
                failures.append({"layerDigest": digest, "failureCode": "InvalidLayerDigest",
                                 "failureReason": "Invalid layer digest"})
            elif digest in blobs:
                layers.append({"layerDigest": digest, "layerAvailability": "AVAILABLE",
                               "layerSize": blobs[digest]})
            else:
                failures.append({"layerDigest": digest, "failureCode": "MissingLayerDigest",
                                 "failureReason": "Could not find the requested layer"})
        return ActionResult({"layers": layers, "failures": failures})

    def initiate_layer_upload(self: ECRResponse) -> ActionResult:
        name = self._get_param("repositoryName")
        repository = self.ecr_backend._get_repository(name, self._get_param("registryId"))
        upload_id = str(uuid.uuid4())
        with _lock:
            _uploads(self.ecr_backend)[upload_id] = {"repository": name, "data": bytearray()}
        return ActionResult({"uploadId": upload_id, "partSize": PART_SIZE})

    def upload_layer_part(self: ECRResponse) -> ActionResult:
        name = self._get_param("repositoryName")
        repository = self.ecr_backend._get_repository(name, self._get_param("registryId"))
        upload_id = self._get_param("uploadId")
        first, last = int(self._get_param("partFirstByte")), int(self._get_param("partLastByte"))
        part = _bytes(self._get_param("layerPartBlob"))
        with _lock:
            upload = _upload(self.ecr_backend, name, upload_id)
            data = upload["data"]
            if first != len(data) or last - first + 1 != len(part):
                raise InvalidLayerPartException(
                    f"The part bytes {first}-{last} ({len(part)} bytes sent) do not follow "
                    f"the {len(data)} bytes received for upload '{upload_id}'"
                )
            data.extend(part)
            received = len(data) - 1
        return ActionResult({"registryId": repository.registry_id, "repositoryName": name,
                             "uploadId": upload_id, "lastByteReceived": received})

    def complete_layer_upload(self: ECRResponse) -> ActionResult:
        name = self._get_param("repositoryName")
        repository = self.ecr_backend._get_repository(name, self._get_param("registryId"))
        upload_id = self._get_param("uploadId")
        claimed = self._get_param("layerDigests") or []
        with _lock:
            upload = _upload(self.ecr_backend, name, upload_id)
            data = bytes(upload["data"])
            del _uploads(self.ecr_backend)[upload_id]
            if not data:
                raise EmptyUploadException(f"The upload '{upload_id}' contains no layer parts")
            actual = "sha256:" + hashlib.sha256(data).hexdigest()
            if len(claimed) != 1 or claimed[0] != actual:
                raise InvalidLayerException(
                    f"The layer digest calculation performed by Amazon ECR upon receipt "
                    f"of the image layer ({actual}) does not match the digest specified ({claimed})"
                )
            blobs = _blobs(repository)
            if actual in blobs:
                raise LayerAlreadyExistsException(
                    f"Layer {actual} already exists in the repository with name '{name}'"
                )
            blobs[actual] = len(data)
        return ActionResult({"registryId": repository.registry_id, "repositoryName": name,
                             "uploadId": upload_id, "layerDigest": actual})

    original_put_image = ECRBackend.put_image

    def put_image(self: ECRBackend, repository_name, image_manifest, image_tag,
                  image_manifest_mediatype=None, digest=None):
        if image_manifest is None:
            raise InvalidParameterException("imageManifest is required")
        actual = manifest_digest(image_manifest)
        if digest is not None and digest != actual:
            raise ImageDigestDoesNotMatchException(
                f"Invalid parameter at 'imageDigest' failed to satisfy constraint: "
                f"'{digest}' does not match the manifest's digest {actual}"
            )
        return original_put_image(self, repository_name, image_manifest, image_tag,
                                  image_manifest_mediatype, actual)

    def _create_digest(self: Image) -> None:
        self._image_digest = manifest_digest(self.image_manifest)

    ECRResponse.batch_check_layer_availability = batch_check_layer_availability
    ECRResponse.initiate_layer_upload = initiate_layer_upload
    ECRResponse.upload_layer_part = upload_layer_part
    ECRResponse.complete_layer_upload = complete_layer_upload
    ECRBackend.put_image = put_image
    Image._create_digest = _create_digest
