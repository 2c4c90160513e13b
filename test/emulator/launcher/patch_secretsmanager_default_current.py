"""Secrets Manager: a read without version or stage returns AWSCURRENT.

Real AWS: GetSecretValue without VersionId and VersionStage returns the
version labelled AWSCURRENT. RotateSecret only invokes the rotation function;
AWSCURRENT moves when the function's finishSecret step moves it, so a
rotation that has not finished (or failed) leaves readers on the old value.

moto 5.2.1: such a read returns the secret's "default version", which
RotateSecret sets to the new AWSPENDING version before (and whether or not)
the rotation function ran. Here the function cannot run (no Docker), so that
version has no value and every default read - ECS resolving a task's
secrets, a runtime reading its secret - fails with ResourceNotFoundException
as soon as a rotation is configured. This patch resolves the label instead.
"""

from typing import Any

from moto.secretsmanager.models import SecretsManagerBackend


def apply() -> None:
    orig_get_secret_value = SecretsManagerBackend.get_secret_value

    def get_secret_value(self: SecretsManagerBackend, secret_id: str, version_id: str, version_stage: str) -> dict[str, Any]:
        if not version_id and not version_stage:
            version_stage = "AWSCURRENT"
        return orig_get_secret_value(self, secret_id, version_id, version_stage)

    SecretsManagerBackend.get_secret_value = get_secret_value
