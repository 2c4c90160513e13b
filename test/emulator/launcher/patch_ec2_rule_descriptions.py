"""EC2: descriptions of security group rules that name a group or prefix list.

Real AWS: a rule's Description is kept whether the rule's peer is a CIDR, a
security group (UserIdGroupPairs[].Description) or a prefix list
(PrefixListIds[].Description), and DescribeSecurityGroupRules returns it.

moto 5.2.1: only CIDR rules keep their description; rules referencing a group
or a prefix list come back without one, so Terraform plans to add the
description of aws_vpc_security_group_*_rule resources after every apply.
This patch reads the description from whichever peer the rule has.
"""

from moto.ec2.models.security_groups import SecurityGroupRule


def apply() -> None:
    orig_init = SecurityGroupRule.__init__

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        orig_init(self, *args, **kwargs)
        # prefix_list_id is the 8th parameter after self; moto keeps only its id.
        prefix_list = kwargs.get("prefix_list_id", args[7] if len(args) > 7 else None)
        self._prefix_list_description = (prefix_list or {}).get("Description")

    def description(self):  # type: ignore[no-untyped-def]
        return (
            self.ip_range.get("Description")
            or self.source_group.get("Description")
            or getattr(self, "_prefix_list_description", None)
        )

    SecurityGroupRule.__init__ = __init__
    SecurityGroupRule.description = property(description)
