"""Registry of the moto patches: one module per gap, each exposing apply()."""

import importlib

# name -> module. Names are what EMULATOR_DISABLE_PATCHES / Options.DisablePatches use.
PATCHES = {
    "cloudtrail-arn": "patch_cloudtrail_arn",
    "appautoscaling-tags": "patch_appautoscaling_tags",
    "s3-lifecycle-min-size": "patch_s3_lifecycle_min_size",
    "s3-bucket-policy-conditions": "patch_s3_bucket_policy_conditions",
    "s3-checksum-verify": "patch_s3_checksum_verify",
    "s3-head-composite-checksum": "patch_s3_head_composite_checksum",
    "dynamodb-atomic-writes": "patch_dynamodb_atomic_writes",
    "ecr-layer-upload": "patch_ecr_layer_upload",
    "ecs-create-service-settings": "patch_ecs_create_service_settings",
    "ec2-rule-descriptions": "patch_ec2_rule_descriptions",
    "ec2-vpc-endpoint-delete-again": "patch_ec2_vpc_endpoint_delete_again",
    "elbv2-default-scheme": "patch_elbv2_default_scheme",
    "cloudwatch-cbor": "patch_cloudwatch_cbor",
    "lambda-kms-key-arn": "patch_lambda_kms_key_arn",
    "secretsmanager-default-current": "patch_secretsmanager_default_current",
    "iam-aws-managed-policies": "patch_iam_aws_managed_policies",
    "s3-eventbridge-notifications": "patch_s3_eventbridge_notifications",
    "s3-logging-target-policy": "patch_s3_logging_target_policy",
}


def apply_all(disabled: set) -> list:
    unknown = disabled - set(PATCHES)
    if unknown:
        raise SystemExit(f"unknown patch names: {sorted(unknown)}; known: {sorted(PATCHES)}")
    applied = []
    for name, module in PATCHES.items():
        if name in disabled:
            continue
        importlib.import_module(module).apply()
        applied.append(name)
    return applied
