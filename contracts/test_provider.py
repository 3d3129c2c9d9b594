"""The mock keeps its own contract: schemathesis drives every operation of the
generated OpenAPI document in-process and checks each answer against it.

The budget is small and fixed so it fits CI; for a longer run by hand:

    MOCKGPT_CONTRACT_EXAMPLES=200 python -m pytest contracts/test_provider.py
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from mockgpt import Config, MockGPT, load_catalogue
from mockgpt.openapi import ADMIN_TAG

EXAMPLES = int(os.environ.get("MOCKGPT_CONTRACT_EXAMPLES", "12"))
CONFIG = Config(seed=0, validate_responses=True, clock="virtual", sample_conversations=3)
APP = MockGPT(CONFIG)
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(tag=ADMIN_TAG)
#: The admin operations run on a mock of their own, reset before every case, so that
#: what one case sets up (a system clock, scripts that stall) never reaches another.
ADMIN = MockGPT(CONFIG)
FRESH = ADMIN.snapshot()
ADMIN_SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", ADMIN).include(tag=ADMIN_TAG)
SCRIPT_PATHS = {"/__mockgpt__/scripts", "/__mockgpt__/scripts/match"}
DOCUMENTED_FAILURES = {route.key for route in load_catalogue() if route.status >= 500}
CONTRACT_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@SCHEMA.parametrize()
@CONTRACT_SETTINGS
def test_operation_keeps_its_contract(case: schemathesis.Case) -> None:
    # Any bearer value is accepted by default (clients in the wild send their own tokens),
    # so schemathesis's "invalid credentials must be refused" check does not apply.
    excluded = [ignored_auth]
    if f"{case.operation.method.upper()} {case.operation.path}" in DOCUMENTED_FAILURES:
        excluded.append(not_a_server_error)
    case.call_and_validate(headers={"Authorization": "Bearer contract"}, excluded_checks=excluded)


@ADMIN_SCHEMA.parametrize()
@CONTRACT_SETTINGS
def test_admin_operation_keeps_its_contract(case: schemathesis.Case) -> None:
    ADMIN.restore(FRESH)  # a copy of a fresh app, quicker than building one
    ADMIN.snapshots.clear()
    # The admin API takes no credentials from loopback clients.
    excluded = [ignored_auth]
    if case.operation.path in SCRIPT_PATHS:
        # A script's explicit chunks must join to its text exactly: a rule across two
        # fields that JSON Schema cannot state, so a schema-valid script can be refused.
        excluded.append(positive_data_acceptance)
    if case.operation.path == "/__mockgpt__/journal/assert":
        # A well-formed assertion that does not hold is answered 417, by design.
        excluded.append(positive_data_acceptance)
    case.call_and_validate(excluded_checks=excluded)
    assert ADMIN.failures() == []
