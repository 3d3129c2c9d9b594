"""Every schema works in jsonschema (draft-07), hypothesis-jsonschema and OpenAPI 3.2."""

from __future__ import annotations

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from mockgpt._resources import fixture_path, read_json
from mockgpt.admin import ENDPOINTS, PREFIX
from mockgpt.catalogue import load_catalogue
from mockgpt.openapi import admin_document, openapi_document
from mockgpt.schemas import FORMAT_CHECKER, all_schema_files, resolved_schema, schema_errors

SCHEMAS = list(all_schema_files())
# hypothesis-jsonschema knows the draft-07 formats; uuid (OpenAPI's) is taught here.
CUSTOM_FORMATS = {"uuid": st.uuids().map(str)}


def test_there_are_schemas() -> None:
    assert len(SCHEMAS) >= 60


@pytest.mark.parametrize("relative", SCHEMAS)
def test_schema_is_valid_draft7(relative: str) -> None:
    schema = resolved_schema(relative)
    jsonschema.Draft7Validator.check_schema(schema)
    assert "$schema" not in schema
    assert "definitions" not in schema


@pytest.mark.parametrize("relative", SCHEMAS)
def test_hypothesis_draws_valid_instances(relative: str) -> None:
    schema = resolved_schema(relative)
    validator = jsonschema.Draft7Validator(schema, format_checker=FORMAT_CHECKER)
    # Building the strategy is the slow part (seconds for the script schemas), so both
    # draws share it.
    strategy = from_schema(schema, custom_formats=CUSTOM_FORMATS)

    # One draw proves the tool understands the schema; the property suites draw many more.
    # The pinned draw is the same on every run, the unpinned one new each time.
    for pinned in (True, False):

        @settings(
            max_examples=1,
            deadline=None,
            database=None,
            derandomize=pinned,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def draws(instance: object) -> None:
            validator.validate(instance)

        draws()


def test_openapi_loads_in_schemathesis() -> None:
    document = openapi_document(load_catalogue())
    loaded = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in loaded.get_all_operations()]
    assert len(operations) == len(load_catalogue())
    admin = schemathesis.openapi.from_dict(admin_document(ENDPOINTS, PREFIX))
    assert len([result.ok() for result in admin.get_all_operations()]) == len(ENDPOINTS)


def _pairs() -> list[tuple[str, str, str]]:
    pairs = []
    for route in load_catalogue():
        if route.request and route.request_example:
            pairs.append((route.key, route.request, route.request_example))
        for spec in route.responses:
            if spec.is_json and spec.schema and spec.fixture:
                pairs.append((f"{route.key} {spec.status}", spec.schema, spec.fixture))
    return pairs


@pytest.mark.parametrize(("where", "schema", "fixture"), _pairs(), ids=lambda v: str(v))
def test_fixture_matches_schema(where: str, schema: str, fixture: str) -> None:
    problems = schema_errors(schema, read_json(fixture_path(fixture)))
    assert not problems, f"{where}: {fixture}: {problems[0].message}"


def test_schemas_reject_what_they_should() -> None:
    """A schema that accepts anything would make the fixture checks above meaningless."""
    route = load_catalogue().get("GET /backend-api/conversations")
    schema = route.documented.schema
    assert schema is not None
    assert schema_errors(schema, {"items": "nope"})
    assert schema_errors(schema, [])


@given(st.sampled_from(SCHEMAS))
@settings(max_examples=5, deadline=None, database=None, derandomize=True)
def test_resolution_leaves_no_reference(relative: str) -> None:
    _assert_no_reference(relative)


@given(st.sampled_from(SCHEMAS))
@settings(max_examples=5, deadline=None, database=None)
def test_resolution_leaves_no_reference_unpinned(relative: str) -> None:
    _assert_no_reference(relative)


def _assert_no_reference(relative: str) -> None:
    assert '"$ref"' not in str(resolved_schema(relative)).replace("'", '"')
