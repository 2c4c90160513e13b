"""Application Auto Scaling: tags on scalable targets.

Real AWS: RegisterScalableTarget accepts `Tags`, and TagResource,
UntagResource and ListTagsForResource work on a scalable target's ARN
(ResourceNotFoundException for an unknown ARN). The Terraform AWS provider
reads tags back with ListTagsForResource after every create and refresh.

moto 5.2.1: none of the three tagging actions exist (the provider retries the
"not implemented" error for minutes) and `Tags` on register is dropped.
This patch keeps tags per target ARN in moto's TaggingService and drops them
when the target is deregistered.
"""

import json

from moto.applicationautoscaling.models import ApplicationAutoscalingBackend
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.core.exceptions import JsonRESTError
from moto.utilities.tagging_service import TaggingService


class ResourceNotFoundException(JsonRESTError):
    def __init__(self, arn: str) -> None:
        super().__init__("ResourceNotFoundException", f"Resource not found: {arn}")


def _tags(backend: ApplicationAutoscalingBackend) -> TaggingService:
    # The backend object predates the patch's attribute; create it on first use.
    if not hasattr(backend, "_emulator_tags"):
        backend._emulator_tags = TaggingService()
    return backend._emulator_tags


def _require_target(backend: ApplicationAutoscalingBackend, arn: str) -> None:
    for by_resource in backend.targets.values():
        for target in by_resource.values():
            if target.arn == arn:
                return
    raise ResourceNotFoundException(arn)


def apply() -> None:
    orig_register = ApplicationAutoScalingResponse.register_scalable_target
    orig_deregister = ApplicationAutoscalingBackend.deregister_scalable_target

    def register_scalable_target(self: ApplicationAutoScalingResponse) -> str:
        body = orig_register(self)
        tags = self._get_param("Tags") or {}
        if tags:
            arn = json.loads(body)["ScalableTargetARN"]
            svc = _tags(self.applicationautoscaling_backend)
            svc.tag_resource(arn, TaggingService.convert_dict_to_tags_input(tags))
        return body

    def deregister_scalable_target(self, namespace, r_id, dimension):  # type: ignore[no-untyped-def]
        target = self.targets.get(dimension, {}).get(r_id)
        orig_deregister(self, namespace, r_id, dimension)
        if target is not None:
            _tags(self).delete_all_tags_for_resource(target.arn)

    def tag_resource(self: ApplicationAutoScalingResponse) -> str:
        backend = self.applicationautoscaling_backend
        arn = self._get_param("ResourceARN")
        _require_target(backend, arn)
        tags = self._get_param("Tags") or {}
        _tags(backend).tag_resource(arn, TaggingService.convert_dict_to_tags_input(tags))
        return json.dumps({})

    def untag_resource(self: ApplicationAutoScalingResponse) -> str:
        backend = self.applicationautoscaling_backend
        arn = self._get_param("ResourceARN")
        _require_target(backend, arn)
        _tags(backend).untag_resource_using_names(arn, self._get_param("TagKeys") or [])
        return json.dumps({})

    def list_tags_for_resource(self: ApplicationAutoScalingResponse) -> str:
        backend = self.applicationautoscaling_backend
        arn = self._get_param("ResourceARN")
        _require_target(backend, arn)
        return json.dumps({"Tags": _tags(backend).get_tag_dict_for_resource(arn)})

    ApplicationAutoScalingResponse.register_scalable_target = register_scalable_target
    ApplicationAutoscalingBackend.deregister_scalable_target = deregister_scalable_target
    ApplicationAutoScalingResponse.tag_resource = tag_resource
    ApplicationAutoScalingResponse.untag_resource = untag_resource
    ApplicationAutoScalingResponse.list_tags_for_resource = list_tags_for_resource
