"""Loading the JSON Schemas in `schemas/` and validating against them.

Schemas refer to shared parts as `{"$ref": "parts/<name>.json"}`, a path
relative to the schemas folder. Every consumer (jsonschema, hypothesis-jsonschema,
the OpenAPI document) gets them through here: inlined for the first two,
rewritten to component references for the third.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from mockgpt._resources import read_json, schemas_dir

Schema = dict[str, Any]


@cache
def _raw(relative: str) -> Schema:
    schema: Schema = read_json(schemas_dir() / relative)
    return schema


def load_schema(relative: str) -> Schema:
    """The schema file as written (with its `$ref`s), as a fresh copy."""
    return copy.deepcopy(_raw(relative))


def _inline(node: Any, trail: tuple[str, ...]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in trail:
                raise ValueError(f"recursive schema reference {' -> '.join((*trail, ref))}")
            return _inline(_raw(ref), (*trail, ref))
        return {key: _inline(value, trail) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value, trail) for value in node]
    return node


@cache
def _inlined(relative: str) -> Schema:
    schema: Schema = _inline(_raw(relative), (relative,))
    return schema


def resolved_schema(relative: str) -> Schema:
    """The schema with every `$ref` replaced by the part it names (a fresh copy)."""
    return copy.deepcopy(_inlined(relative))


@cache
def validator(relative: str) -> jsonschema.Draft7Validator:
    """A draft-07 validator for the schema, checking formats too."""
    return jsonschema.Draft7Validator(
        _inlined(relative), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def schema_errors(relative: str, instance: Any) -> list[jsonschema.ValidationError]:
    """Every way `instance` breaks the schema, most shallow first."""
    errors = list(validator(relative).iter_errors(instance))
    errors.sort(key=lambda error: (len(error.absolute_path), list(map(str, error.absolute_path))))
    return errors


def all_schema_files() -> Iterator[str]:
    """Every schema file, as a path relative to the schemas folder."""
    root = schemas_dir()
    for path in sorted(root.rglob("*.json")):
        if path.name == "openapi.json":
            continue
        yield path.relative_to(root).as_posix()


def component_name(relative: str) -> str:
    """The OpenAPI component name of a schema file: `parts/message.json` -> `parts.message`."""
    return Path(relative).with_suffix("").as_posix().replace("/", ".")
