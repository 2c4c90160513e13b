"""CloudTrail: accept a trail ARN wherever AWS accepts "name or ARN".

Real AWS: StartLogging, StopLogging and DeleteTrail take `Name`, documented as
"the name or the CloudTrail ARN of the trail". The Terraform AWS provider
(v5) keeps the trail ARN as the resource id and passes it to all three.

moto 5.2.1: these three index `self.trails[name]` directly, so an ARN raises
KeyError (HTTP 500) for Start/StopLogging, and DeleteTrail silently keeps the
trail. The provider retries the 500 for minutes. GetTrailStatus, UpdateTrail
and the selector calls already resolve ARNs and are left alone.
"""

from moto.cloudtrail.models import CloudTrailBackend


def apply() -> None:
    def _name(backend: CloudTrailBackend, name_or_arn: str) -> str:
        # get_trail raises TrailNotFoundException (as AWS does) when unknown.
        return backend.get_trail(name_or_arn).trail_name

    def start_logging(self: CloudTrailBackend, name: str) -> None:
        self.trails[_name(self, name)].start_logging()

    def stop_logging(self: CloudTrailBackend, name: str) -> None:
        self.trails[_name(self, name)].stop_logging()

    def delete_trail(self: CloudTrailBackend, name: str) -> None:
        self.trails.pop(_name(self, name), None)

    CloudTrailBackend.start_logging = start_logging
    CloudTrailBackend.stop_logging = stop_logging
    CloudTrailBackend.delete_trail = delete_trail
