"""The mock keeps its own contract: schemathesis drives every operation of the
generated OpenAPI 3.2 documents in-process and checks each answer against them:
the mocked services through `/openapi.json`, the admin API through its own
document at `/__mockgpt__/openapi.json`.

Every case runs schemathesis's default checks, which include the five this
suite is about (a test below pins them): no server error, a documented status,
a documented content type, a body (or, for event streams, every SSE event)
valid against its schema, and invalid input refused. Cases are positive and
negative. Every operation runs twice: derandomized (the explicit examples, the
coverage cases and a fixed draw), so a run is the same on every machine, and
unpinned (fresh random draws only), so each run can find what the fixed one
never draws; a failure there shows the request that broke the contract.

The budget is small and fixed so it fits CI; for a longer run by hand:

    MOCKGPT_CONTRACT_EXAMPLES=200 python -m pytest contracts/test_provider.py
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, assume, settings
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from mockgpt import Config, MockGPT, load_catalogue
from mockgpt._resources import fixture_path, read_json
from mockgpt.openapi import openapi_document

CASES = "contract_case_status"  # counted by contracts/conftest.py for the run summary

EXAMPLES = int(os.environ.get("MOCKGPT_CONTRACT_EXAMPLES", "12"))
#: The unpinned run draws fewer cases an operation: it adds fresh draws, not coverage.
FRESH_EXAMPLES = max(1, EXAMPLES // 3)
CONFIG = Config(seed=0, validate_responses=True, clock="virtual", sample_conversations=3)
APP = MockGPT(CONFIG)
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
#: The admin operations run on a mock of their own, reset before every case, so that
#: what one case sets up (a system clock, scripts that stall) never reaches another.
ADMIN = MockGPT(CONFIG)
FRESH = ADMIN.snapshot()
ADMIN_SCHEMA = schemathesis.openapi.from_asgi("/__mockgpt__/openapi.json", ADMIN)
SCRIPT_PATHS = {"/__mockgpt__/scripts", "/__mockgpt__/scripts/match"}
#: Operations that refuse some schema-valid bodies by a rule across fields or across
#: requests (a `previous_response_id` must name a stored response, `dimensions` depends
#: on the model, Codex words its own refusals), so valid data may get a 400.
CROSS_FIELD_RULES = {
    "POST /v1/responses",
    "POST /v1/responses/input_tokens",
    "POST /v1/embeddings",
    "POST /backend-api/codex/responses",
}
DOCUMENTED_FAILURES = {route.key for route in load_catalogue() if route.status >= 500}
FIXED_PATHS = {route.path for route in load_catalogue() if route.pattern is None}
#: The checks this suite exists for; all are among schemathesis's defaults.
NAMED_CHECKS: tuple[CheckFunction, ...] = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
)
CONTRACT_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
#: Random draws only: without the explicit phase schemathesis adds no examples or
#: coverage cases, which the pinned run has already sent.
UNPINNED_SETTINGS = settings(
    max_examples=FRESH_EXAMPLES,
    deadline=None,
    derandomize=False,
    database=None,
    phases=[Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)


@SCHEMA.parametrize()
@CONTRACT_SETTINGS
def test_operation_keeps_its_contract(
    case: schemathesis.Case, record_property: Callable[[str, object], None]
) -> None:
    _operation_keeps_its_contract(case, record_property)


@SCHEMA.parametrize()
@UNPINNED_SETTINGS
def test_operation_keeps_its_contract_unpinned(
    case: schemathesis.Case, record_property: Callable[[str, object], None]
) -> None:
    _operation_keeps_its_contract(case, record_property)


def _operation_keeps_its_contract(
    case: schemathesis.Case, record_property: Callable[[str, object], None]
) -> None:
    # Any bearer value is accepted by default (clients in the wild send their own tokens),
    # so schemathesis's "invalid credentials must be refused" check does not apply.
    # A template filled in to a fixed path (`input_tokens` as a response id) names the
    # fixed path's operation, as OpenAPI matches concrete paths before templates, so the
    # template's contract says nothing about it.
    assume("{" not in case.operation.path or case.formatted_path not in FIXED_PATHS)
    excluded = [ignored_auth]
    if f"{case.operation.method.upper()} {case.operation.path}" in DOCUMENTED_FAILURES:
        excluded.append(not_a_server_error)
    if f"{case.operation.method.upper()} {case.operation.path}" in CROSS_FIELD_RULES:
        excluded.append(positive_data_acceptance)
    response = case.call_and_validate(excluded_checks=excluded)
    record_property(CASES, response.status_code)


@ADMIN_SCHEMA.parametrize()
@CONTRACT_SETTINGS
def test_admin_operation_keeps_its_contract(
    case: schemathesis.Case, record_property: Callable[[str, object], None]
) -> None:
    _admin_operation_keeps_its_contract(case, record_property)


@ADMIN_SCHEMA.parametrize()
@UNPINNED_SETTINGS
def test_admin_operation_keeps_its_contract_unpinned(
    case: schemathesis.Case, record_property: Callable[[str, object], None]
) -> None:
    _admin_operation_keeps_its_contract(case, record_property)


def _admin_operation_keeps_its_contract(
    case: schemathesis.Case, record_property: Callable[[str, object], None]
) -> None:
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
    if case.operation.path == "/__mockgpt__/reset":
        # settings.fixtures must name a folder that exists, which no schema can check.
        excluded.append(positive_data_acceptance)
    response = case.call_and_validate(excluded_checks=excluded)
    assert ADMIN.failures() == []
    record_property(CASES, response.status_code)


def test_the_named_checks_run_by_default() -> None:
    operation = SCHEMA["/backend-api/conversation"]["POST"]
    config = SCHEMA.config.checks_config_for(operation=operation, phase=None)
    assert all(config.get_by_name(name=check.__name__).enabled for check in NAMED_CHECKS)


def test_every_event_stream_is_described_event_by_event() -> None:
    document = openapi_document(load_catalogue())
    assert document["openapi"] == "3.2.0"
    streams = [
        media
        for item in document["paths"].values()
        for operation in item.values()
        for answer in operation["responses"].values()
        for name, media in answer.get("content", {}).items()
        if name.startswith("text/event-stream")
    ]
    assert len(streams) >= 4  # the conversation, its resume, and the /v1 stream
    assert all("itemSchema" in media and "schema" not in media for media in streams)


def test_a_drifted_stream_event_fails_the_contract() -> None:
    # The same check the suite runs, on a stream whose first event lost its fields.
    mock = MockGPT(CONFIG)
    operation = schemathesis.openapi.from_asgi("/openapi.json", mock)["/backend-api/conversation"]
    route = next(r for r in load_catalogue() if r.key == "POST /backend-api/conversation")
    assert route.request_example is not None
    body = read_json(fixture_path(route.request_example))
    case = operation["POST"].Case(body=body, headers={"Authorization": "Bearer c"})
    case.validate_response(case.call(), checks=[response_schema_conformance])  # the real one
    drifted = 'data: {"message": {"id": 5}}\n\ndata: [DONE]\n\n'
    mock.on("POST /backend-api/conversation").respond(
        text=drifted, headers={"content-type": "text/event-stream; charset=utf-8"}
    )
    with pytest.raises(FailureGroup, match="SSE event violates schema"):
        case.validate_response(case.call(), checks=[response_schema_conformance])
