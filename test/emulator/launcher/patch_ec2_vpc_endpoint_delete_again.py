"""EC2: DeleteVpcEndpoints of an endpoint already deleted.

Real AWS: deleting an endpoint that is already deleted succeeds again, so a client
that sends the delete a second time - as the SDKs do when the first answer is lost
to a dropped or timed-out connection - gets the same success, and terraform
destroy goes on.

moto 5.2.1: deleting a gateway endpoint removes its routes and marks it "deleted"
but keeps it; a second delete tries to remove the routes again and fails with
InvalidRoute.NotFound ("no route with destination-cidr-block pl-..."), which ends
terraform destroy. This patch skips endpoints already deleted.
"""

from moto.ec2.models.vpcs import VPCBackend


def apply() -> None:
    orig = VPCBackend.delete_vpc_endpoints

    def delete_vpc_endpoints(self, vpce_ids=None):  # type: ignore[no-untyped-def]
        live = [
            i
            for i in vpce_ids or []
            if getattr(self.vpc_end_points.get(i), "state", None) != "deleted"
        ]
        return orig(self, live)

    VPCBackend.delete_vpc_endpoints = delete_vpc_endpoints
