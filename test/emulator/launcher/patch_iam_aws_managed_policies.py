"""IAM: AWS managed policies exist.

Real AWS: every account has the AWS managed policies
(arn:aws:iam::aws:policy/AdministratorAccess, ReadOnlyAccess,
service-role/AWS_ConfigRole, ...); AttachRolePolicy and AttachGroupPolicy
accept them and GetPolicy describes them.

moto 5.2.1: it ships their documents but loads them only when
MOTO_IAM_LOAD_MANAGED_POLICIES is set, so attaching one answers
NoSuchEntity and terraform apply fails. This patch loads them, as AWS has them.
"""

import moto.iam.models


def apply() -> None:
    moto.iam.models.load_iam_aws_managed_policies = lambda: True
