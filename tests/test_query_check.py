"""Query parameters of the plain kind are checked without jsonschema, with the same verdicts."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockgpt import validation
from mockgpt.catalogue import Param, load_catalogue
from mockgpt.validation import _param_validator, _plainly_valid, query_problems

BOUNDS = st.integers(-5, 105)
UUID = "4c6f6361-6c41-4d6f-8b63-6b4163637431"
SCALARS = st.one_of(
    st.integers(-5, 105),
    st.booleans(),
    st.floats(-5, 105),
    st.sampled_from(["a", "bb", "1", "g-x1", "gpt-5", UUID, UUID.upper(), UUID[:-1], UUID + "0"]),
)
PATTERNS = ["^[a-z0-9][a-z0-9.-]*$", "^g-[A-Za-z0-9-]+$", "1", "^[A-Z]{3}$"]


@st.composite
def schemas(draw: st.DrawFn) -> dict[str, Any]:
    """Schemas a query parameter declares: a type with a keyword or two (bounds, an
    enum, lengths), now and then one the plain check leaves to jsonschema."""
    schema: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        schema["type"] = draw(st.sampled_from(["integer", "number", "boolean", "string"]))
    words = ["minimum", "maximum", "enum", "minLength", "maxLength", "pattern", "format", "const"]
    for word in draw(st.sets(st.sampled_from(words), max_size=2)):
        if word == "enum":
            schema[word] = draw(st.lists(SCALARS, min_size=1, max_size=4))
        elif word in ("minLength", "maxLength"):
            schema[word] = draw(st.integers(0, 3))
        elif word in ("minimum", "maximum"):
            schema[word] = draw(BOUNDS)
        elif word == "pattern":
            schema[word] = draw(st.sampled_from(PATTERNS))
        elif word == "format":
            schema[word] = draw(st.sampled_from(["uuid", "uuid", "date-time", "email"]))
        else:
            schema[word] = "1"
    return schema


RAW = st.one_of(
    st.integers(-10, 120).map(str),
    st.sampled_from(["true", "false", "yes", "0", "1", "a", "bb", "", "1.5", "updated", UUID]),
    st.sampled_from([UUID.upper(), UUID[1:], "g-ab", "USD", "usd", "gpt-5.1"]),
    st.text(max_size=4),
)


def jsonschema_says_valid(schema: dict[str, Any], value: Any) -> bool:
    return not any(_param_validator(json.dumps(schema, sort_keys=True)).iter_errors(value))


def same_problems_as_jsonschema_alone(schema: dict[str, Any], raws: list[str]) -> None:
    params = (Param("p", schema, None, False),)
    query = {"p": raws}
    found = query_problems(params, query)
    original = validation._plainly_valid
    validation._plainly_valid = lambda schema, value: False  # type: ignore[assignment]
    try:
        assert query_problems(params, query) == found
    finally:
        validation._plainly_valid = original


@pytest.mark.parametrize("pinned", [True, False])
def test_a_plain_pass_is_a_jsonschema_pass_and_the_problems_stay_the_same(pinned: bool) -> None:
    @settings(derandomize=pinned, max_examples=400, deadline=None, database=None)
    @given(schemas(), SCALARS, st.lists(RAW, min_size=1, max_size=2))
    def check(schema: dict[str, Any], value: Any, raws: list[str]) -> None:
        if _plainly_valid(schema, value):
            assert jsonschema_says_valid(schema, value), (schema, value)
        same_problems_as_jsonschema_alone(schema, raws)

    check()


def test_true_is_not_one_for_an_enum_nor_an_integer() -> None:
    assert not _plainly_valid({"type": "integer"}, True)
    assert not _plainly_valid({"type": "boolean", "enum": [1]}, True)
    assert not _plainly_valid({"type": "integer", "enum": [True]}, 1)
    assert _plainly_valid({"type": "integer", "enum": [1, 2]}, 1)
    assert not _plainly_valid({"type": "string", "format": "uuid"}, "x")
    assert _plainly_valid({"type": "string", "format": "uuid"}, UUID.upper())
    assert not _plainly_valid({"type": "string", "format": "uuid"}, UUID[:-1])
    assert _plainly_valid({"type": "string", "format": "uuid"}, UUID)
    assert not _plainly_valid({"type": "string", "format": "email"}, "a@example.com")
    assert _plainly_valid({"type": "string", "pattern": "^g-[a-z]+$"}, "g-ab")
    assert not _plainly_valid({"type": "string", "pattern": "^g-[a-z]+$"}, "x-ab")


def test_the_catalogue_examples_of_plain_parameters_pass_without_jsonschema() -> None:
    plain = 0
    for route in load_catalogue():
        for param in route.query + route.params:
            if param.schema.get("format", "uuid") != "uuid":
                continue
            if param.example is None or not set(param.schema) <= validation._PLAIN_KEYWORDS:
                continue
            plain += 1
            assert _plainly_valid(param.schema, param.example), (route.key, param.name)
    assert plain >= 40


def test_the_first_page_of_history_does_not_load_jsonschema() -> None:
    code = """
import sys
from starlette.testclient import TestClient
from mockgpt import Config, create_app
auth = {"Authorization": "Bearer t"}
with TestClient(create_app(Config(clock="virtual"))) as client:
    page = client.get("/backend-api/conversations?offset=0&limit=28&order=updated", headers=auth)
    assert page.status_code == 200, page.text
    print("jsonschema" in sys.modules)
    wrong = client.get("/backend-api/conversations?limit=0", headers=auth)
    print(wrong.status_code, wrong.json()["detail"][0]["loc"], "jsonschema" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == ["False", "422 ['query', 'limit'] True"]
