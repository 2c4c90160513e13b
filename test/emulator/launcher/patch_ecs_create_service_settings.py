"""ECS: service settings given to CreateService.

Real AWS: CreateService keeps `deploymentConfiguration` (deployment circuit
breaker, minimum healthy and maximum percent), `healthCheckGracePeriodSeconds`,
`enableECSManagedTags` and `availabilityZoneRebalancing`, and DescribeServices
returns them; without a deployment configuration AWS reports
{maximumPercent: 200, minimumHealthyPercent: 100, deploymentCircuitBreaker:
{enable: false, rollback: false}}, and rebalancing defaults to ENABLED on
create.

moto 5.2.1: CreateService drops all four, so DescribeServices reports no
deployment configuration, no grace period, managed tags off and no rebalancing setting, and Terraform
plans to change them after every apply (UpdateService already keeps them).
This patch stores them on the new service, the configuration over AWS's
defaults.
"""

import copy

from moto.ecs.responses import EC2ContainerServiceResponse

DEFAULT_DEPLOYMENT = {
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
}


def apply() -> None:
    orig_create = EC2ContainerServiceResponse.create_service

    def create_service(self: EC2ContainerServiceResponse):  # type: ignore[no-untyped-def]
        result = orig_create(self)
        service = result.result["service"]
        config = copy.deepcopy(DEFAULT_DEPLOYMENT)
        config.update(self._get_param("deploymentConfiguration") or {})
        service.deployment_configuration = config
        grace = self._get_param("healthCheckGracePeriodSeconds")
        if grace is not None:
            service.health_check_grace_period_seconds = int(grace)
        service.enable_ecs_managed_tags = bool(self._get_param("enableECSManagedTags", False))
        service.availability_zone_rebalancing = self._get_param("availabilityZoneRebalancing") or "ENABLED"
        return result

    EC2ContainerServiceResponse.create_service = create_service
