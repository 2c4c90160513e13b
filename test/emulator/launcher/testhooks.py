"""Instrumentation for the emulator's own tests; nothing here is on by default.

EMULATOR_TEST_DYNAMODB_CONDITION_DELAY_MS=<n> sleeps n milliseconds after every
DynamoDB condition expression is evaluated and before the write it guards. A real
DynamoDB write is atomic, so a delay there changes nothing; a backend that checks
and writes without a lock lets every racing request through the widened window.
The dynamodb-atomic-writes test uses it so that moto's race shows on every run
instead of on a lucky thread switch.
"""

import os
import time


def apply() -> list:
    applied = []
    delay_ms = int(os.environ.get("EMULATOR_TEST_DYNAMODB_CONDITION_DELAY_MS", "0") or 0)
    if delay_ms > 0:
        _delay_dynamodb_conditions(delay_ms / 1000)
        applied.append(f"dynamodb-condition-delay={delay_ms}ms")
    return applied


def _delay_dynamodb_conditions(seconds: float) -> None:
    import moto.dynamodb.models as models

    orig = models.create_condition_expression_parser

    class _Op:
        def __init__(self, op):
            self._op = op

        def expr(self, item):
            result = self._op.expr(item)
            time.sleep(seconds)
            return result

    class _Parser:
        def __init__(self, parser):
            self._parser = parser

        def parse(self):
            return _Op(self._parser.parse())

    def delayed(*args, **kwargs):
        return _Parser(orig(*args, **kwargs))

    models.create_condition_expression_parser = delayed
