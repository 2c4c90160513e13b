"""Elastic Load Balancing v2: the default scheme.

Real AWS: CreateLoadBalancer without `Scheme` makes an internet-facing load
balancer, and DescribeLoadBalancers reports Scheme "internet-facing". The
Terraform AWS provider only sends Scheme for internal load balancers.

moto 5.2.1: the missing parameter is passed on as None over the model's
"internet-facing" default, so DescribeLoadBalancers reports no scheme. This
patch applies AWS's default.
"""

from moto.elbv2.responses import ELBV2Response


def apply() -> None:
    orig_create = ELBV2Response.create_load_balancer

    def create_load_balancer(self: ELBV2Response):  # type: ignore[no-untyped-def]
        result = orig_create(self)
        for lb in result.result["LoadBalancers"]:
            if not lb.scheme:
                lb.scheme = "internet-facing"
        return result

    ELBV2Response.create_load_balancer = create_load_balancer
