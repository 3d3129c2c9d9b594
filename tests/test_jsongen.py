"""jsongen draws values valid against the schemas clients send (structured outputs, tools)."""

from __future__ import annotations

import random

import jsonschema
import pytest

from mockgpt.jsongen import JSON_TYPES, instance
from mockgpt.schemas import FORMAT_CHECKER, all_schema_files, resolved_schema

TOOL_SCHEMAS = [
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "minItems": 2,
                "maxItems": 4,
                "items": {"type": "integer", "minimum": 5, "maximum": 9},
            }
        },
        "required": ["items"],
    },
    {
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "id": {"type": "string", "format": "uuid"},
            "mail": {"type": "string", "format": "email"},
            "note": {"type": ["string", "null"], "maxLength": 5},
        },
        "required": ["when", "id", "mail", "note"],
    },
    {
        "$defs": {
            "step": {
                "type": "object",
                "properties": {"n": {"type": "number", "exclusiveMinimum": 0}},
                "required": ["n"],
            }
        },
        "type": "object",
        "properties": {"steps": {"type": "array", "items": {"$ref": "#/$defs/step"}}},
        "required": ["steps"],
    },
    {"anyOf": [{"type": "boolean"}, {"type": "null"}, {"const": "fixed"}]},
    {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"type": "object", "properties": {"b": {"type": "string"}}, "required": ["b"]},
        ]
    },
]


@pytest.mark.parametrize("schema", TOOL_SCHEMAS, ids=range(len(TOOL_SCHEMAS)))
def test_tool_style_schemas(schema: dict[str, object]) -> None:
    validator = jsonschema.Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    for seed in range(25):
        value = instance(schema, random.Random(seed))
        assert not list(validator.iter_errors(value)), value


#: Keywords jsongen does not try to satisfy: OpenAI's structured outputs, whose schemas it
#: serves, accept neither negated nor conditional subschemas.
UNSUPPORTED = frozenset({"not", "if"})


def _uses(node: object, keywords: frozenset[str]) -> bool:
    if isinstance(node, dict):
        return bool(keywords & node.keys()) or any(_uses(v, keywords) for v in node.values())
    if isinstance(node, list):
        return any(_uses(v, keywords) for v in node)
    return False


GENERATED = [r for r in all_schema_files() if not _uses(resolved_schema(r), UNSUPPORTED)]


def test_only_admin_bodies_use_conditional_schemas() -> None:
    left_out = set(all_schema_files()) - set(GENERATED)
    assert left_out, "every schema is generated: drop UNSUPPORTED"
    assert all(relative.startswith("admin/") for relative in left_out), left_out


@pytest.mark.parametrize("relative", GENERATED)
def test_every_project_schema(relative: str) -> None:
    schema = resolved_schema(relative)
    validator = jsonschema.Draft7Validator(schema, format_checker=FORMAT_CHECKER)
    for seed in range(3):
        value = instance(schema, random.Random(seed))
        errors = list(validator.iter_errors(value))
        assert not errors, f"{relative}: {errors[0].message}"


def test_same_rng_same_value() -> None:
    schema = TOOL_SCHEMAS[2]
    assert instance(schema, random.Random(4)) == instance(schema, random.Random(4))


def test_every_json_type_has_a_builder_that_makes_that_type() -> None:
    for kind in JSON_TYPES:
        schema = {"type": kind}
        for seed in range(10):
            value = instance(schema, random.Random(seed))
            assert jsonschema.Draft202012Validator(schema).is_valid(value), (kind, value)
