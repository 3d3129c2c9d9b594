"""Loading the JSON Schemas in `schemas/` and validating against them.

Schemas refer to shared parts as `{"$ref": "parts/<name>.json"}`, a path
relative to the schemas folder. Every consumer (jsonschema, hypothesis-jsonschema,
the OpenAPI document) gets them through here: inlined for the first two,
rewritten to component references for the third.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mockgpt._resources import read_json, schemas_dir

if TYPE_CHECKING:
    import jsonschema

Schema = dict[str, Any]

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$")


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00").replace(" ", "T"))
    return True


def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or _URI.match(value) is not None


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return str(uuid.UUID(value)) == value.lower() and len(value) == 36


@cache
def format_checker() -> jsonschema.FormatChecker:
    """Draft-07's format checks, plus `uuid` (jsonschema checks it only for later drafts) and
    `date-time` and `uri` (jsonschema checks them only with optional packages installed).

    Made on first use: jsonschema takes a good share of start-up to import, and no
    answer to a GET needs it."""
    import jsonschema

    checker = copy.deepcopy(jsonschema.Draft7Validator.FORMAT_CHECKER)
    checker.checks("date-time", raises=ValueError)(_is_date_time)
    checker.checks("uri")(_is_uri)
    checker.checks("uuid", raises=ValueError)(_is_uuid)
    return checker


def __getattr__(name: str) -> Any:
    """`FORMAT_CHECKER`, the format checker as a module constant, made on first access."""
    if name == "FORMAT_CHECKER":
        return format_checker()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    import jsonschema

    return jsonschema.Draft7Validator(_inlined(relative), format_checker=format_checker())


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
