"""ECS: a service's deployment configuration.

Real AWS: CreateService keeps `deploymentConfiguration` (deployment circuit
breaker, minimum healthy and maximum percent) and DescribeServices returns it;
without one, AWS reports {maximumPercent: 200, minimumHealthyPercent: 100,
deploymentCircuitBreaker: {enable: false, rollback: false}}.

moto 5.2.1: CreateService drops the parameter, so DescribeServices returns no
deployment configuration at all (UpdateService already keeps it). This patch
stores the requested configuration over AWS's defaults on the new service.
"""

import copy

from moto.ecs.responses import EC2ContainerServiceResponse

DEFAULT = {
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
}


def apply() -> None:
    orig_create = EC2ContainerServiceResponse.create_service

    def create_service(self: EC2ContainerServiceResponse):  # type: ignore[no-untyped-def]
        result = orig_create(self)
        service = result.result["service"]
        config = copy.deepcopy(DEFAULT)
        config.update(self._get_param("deploymentConfiguration") or {})
        service.deployment_configuration = config
        return result

    EC2ContainerServiceResponse.create_service = create_service
