"""Lambda: keep a function's KMSKeyArn.

Real AWS: CreateFunction and UpdateFunctionConfiguration take `KMSKeyArn`, the
customer managed key that encrypts the function's environment variables, and
GetFunction / GetFunctionConfiguration report it (an empty string removes it).
The Terraform AWS provider reads it back after every apply.

moto 5.2.1: the key is dropped on create and update and never reported, so
every plan after apply wants to set kms_key_arn again (never converges).
This patch stores it on the function and reports it.
"""

from typing import Any

from moto.awslambda.models import LambdaFunction


def apply() -> None:
    orig_init = LambdaFunction.__init__
    orig_get_configuration = LambdaFunction.get_configuration
    orig_update_configuration = LambdaFunction.update_configuration

    def __init__(self: LambdaFunction, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        orig_init(self, account_id, spec, *args, **kwargs)
        self._emulator_kms_key_arn = spec.get("KMSKeyArn") or None

    def get_configuration(self: LambdaFunction, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config = orig_get_configuration(self, *args, **kwargs)
        key = getattr(self, "_emulator_kms_key_arn", None)
        if key:
            config["KMSKeyArn"] = key
        return config

    def update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "KMSKeyArn" in config_updates:
            self._emulator_kms_key_arn = config_updates["KMSKeyArn"] or None
        return orig_update_configuration(self, config_updates)

    LambdaFunction.__init__ = __init__
    LambdaFunction.get_configuration = get_configuration
    LambdaFunction.update_configuration = update_configuration
