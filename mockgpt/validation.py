"""Checking request bodies and query strings, and wording the errors.

A problem found by jsonschema becomes a `Problem` (where, what kind, the
schema's figures); `fastapi_detail` words problems the way the web backend's
pydantic validators do (the 422 `detail` list), and `openai_error_body` the
way the platform API words its 400s.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from mockgpt.catalogue import Param
from mockgpt.errors import openai_error
from mockgpt.jsonparse import DEFAULT_LIMITS, JsonLimits, parse_json
from mockgpt.schemas import _is_uuid, format_checker, schema_errors

if TYPE_CHECKING:
    import jsonschema

_TYPE_WORDS = {
    "string": ("str type expected", "type_error.str"),
    "integer": ("value is not a valid integer", "type_error.integer"),
    "number": ("value is not a valid float", "type_error.float"),
    "boolean": ("value could not be parsed to a boolean", "type_error.bool"),
    "array": ("value is not a valid list", "type_error.list"),
    "object": ("value is not a valid dict", "type_error.dict"),
    "null": ("none is not an allowed value", "type_error.none.allowed"),
}
_OPENAI_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a decimal",
    "boolean": "a boolean",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request, located by `loc` (`("body", "messages", 0)`)."""

    loc: tuple[str | int, ...]
    msg: str
    type: str
    ctx: dict[str, Any] | None = None
    validator: str = ""
    expected: Any = None
    value: Any = field(default=None, compare=False)

    def as_detail(self) -> dict[str, Any]:
        item: dict[str, Any] = {"loc": list(self.loc), "msg": self.msg, "type": self.type}
        if self.ctx is not None:
            item["ctx"] = self.ctx
        return item


def _expected_type(expected: Any) -> str:
    if isinstance(expected, list):
        non_null = [name for name in expected if name != "null"]
        return str(non_null[0] if non_null else expected[0])
    return str(expected)


def _problem(error: jsonschema.ValidationError, where: tuple[str | int, ...]) -> list[Problem]:
    if error.validator in ("anyOf", "oneOf") and error.context:
        deepest = max(error.context, key=lambda sub: len(sub.absolute_path))
        return _problem(deepest, where)
    loc = (*where, *error.absolute_path)
    kind, expected = str(error.validator), error.validator_value
    if kind == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        return [
            Problem((*loc, name), "field required", "value_error.missing", validator=kind)
            for name in expected
            if name not in present
        ]
    if kind == "type":
        msg, type_ = _TYPE_WORDS.get(_expected_type(expected), (error.message, "type_error"))
        return [Problem(loc, msg, type_, None, kind, expected, error.instance)]
    if kind == "enum":
        permitted = ", ".join(repr(value) for value in expected)
        return [
            Problem(
                loc,
                f"value is not a valid enumeration member; permitted: {permitted}",
                "type_error.enum",
                {"enum_values": list(expected)},
                kind,
                expected,
                error.instance,
            )
        ]
    if kind == "const":
        return [
            Problem(
                loc,
                f"unexpected value; permitted: {expected!r}",
                "value_error.const",
                {"given": error.instance, "permitted": [expected]},
                kind,
                expected,
                error.instance,
            )
        ]
    words = {
        "minimum": (
            "ensure this value is greater than or equal to {}",
            "value_error.number.not_ge",
        ),
        "maximum": ("ensure this value is less than or equal to {}", "value_error.number.not_le"),
        "minLength": (
            "ensure this value has at least {} characters",
            "value_error.any_str.min_length",
        ),
        "maxLength": (
            "ensure this value has at most {} characters",
            "value_error.any_str.max_length",
        ),
        "minItems": ("ensure this value has at least {} items", "value_error.list.min_items"),
        "maxItems": ("ensure this value has at most {} items", "value_error.list.max_items"),
    }
    if kind in words:
        template, type_ = words[kind]
        return [
            Problem(
                loc,
                template.format(expected),
                type_,
                {"limit_value": expected},
                kind,
                expected,
                error.instance,
            )
        ]
    if kind == "pattern":
        return [
            Problem(
                loc,
                f'string does not match regex "{expected}"',
                "value_error.str.regex",
                {"pattern": expected},
                kind,
                expected,
                error.instance,
            )
        ]
    if kind == "format":
        return [
            Problem(
                loc,
                f"value is not a valid {expected}",
                f"type_error.{expected}",
                None,
                kind,
                expected,
                error.instance,
            )
        ]
    if kind == "additionalProperties":
        # pydantic names each extra key: its loc ends with the key itself
        extra = _extra_keys(error.schema, error.instance)
        places: list[tuple[str | int, ...]] = [(*loc, key) for key in extra] or [loc]
        return [
            Problem(at, "extra fields not permitted", "value_error.extra", None, kind)
            for at in places
        ]
    return [Problem(loc, error.message, "value_error", None, kind, expected, error.instance)]


def _extra_keys(schema: Any, instance: Any) -> list[str]:
    if not isinstance(schema, dict) or not isinstance(instance, dict):
        return []
    known = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    return [
        key for key in instance if key not in known and not any(p.search(key) for p in patterns)
    ]


def body_problems(
    schema: str, raw: bytes, *, optional: bool = False, limits: JsonLimits = DEFAULT_LIMITS
) -> tuple[Any, list[Problem]]:
    """Parse and check a JSON body; return the parsed value (or None) and what is wrong.

    Parsing is strict and bounded (`parse_json`): NaN, lone surrogates, deep
    nesting and endless integers are malformed JSON here, never a later 500.
    """
    # Only JSON's own whitespace makes a body empty: a lone form feed is malformed JSON.
    if not raw.strip(b" \t\r\n"):
        if optional:
            return None, []
        return None, [
            Problem(("body",), "field required", "value_error.missing", validator="required")
        ]
    try:
        text = raw.decode("utf-8")
        value = parse_json(text, limits)
    except UnicodeDecodeError as exc:
        return None, [
            Problem(
                ("body", exc.start),
                "body is not valid UTF-8",
                "value_error.jsondecode",
                validator="json",
            )
        ]
    except json.JSONDecodeError as exc:
        ctx = {
            "msg": exc.msg,
            "doc": exc.doc,
            "pos": exc.pos,
            "lineno": exc.lineno,
            "colno": exc.colno,
        }
        return None, [Problem(("body", exc.pos), str(exc), "value_error.jsondecode", ctx, "json")]
    problems = [p for error in schema_errors(schema, value) for p in _problem(error, ("body",))]
    return value, problems


_TRUE = {"1", "true", "on", "yes", "y", "t"}
_FALSE = {"0", "false", "off", "no", "n", "f"}


def _coerce(raw: str, kind: str) -> tuple[bool, Any]:
    if kind == "integer":
        try:
            return True, int(raw)
        except ValueError:
            return False, raw
    if kind == "number":
        try:
            return True, float(raw)
        except ValueError:
            return False, raw
    if kind == "boolean":
        lowered = raw.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return True, lowered in _TRUE
        return False, raw
    return True, raw


@cache
def _param_validator(schema_text: str) -> jsonschema.Draft7Validator:
    import jsonschema

    return jsonschema.Draft7Validator(json.loads(schema_text), format_checker=format_checker())


def path_problems(params: tuple[Param, ...], values: dict[str, str]) -> list[Problem]:
    """Check path parameters against their declared schemas."""
    return query_problems(params, {name: [value] for name, value in values.items()}, where="path")


def query_problems(
    params: tuple[Param, ...], query: dict[str, list[str]], *, where: str = "query"
) -> list[Problem]:
    """Check a parsed query string against the route's declared parameters."""
    problems: list[Problem] = []
    for param in params:
        values = query.get(param.name)
        loc: tuple[str | int, ...] = (where, param.name)
        if not values:
            if param.required:
                problems.append(
                    Problem(loc, "field required", "value_error.missing", validator="required")
                )
            continue
        schema = param.schema
        if schema.get("type") == "array":
            item_kind = str(schema.get("items", {}).get("type", "string"))
            converted = []
            for index, raw in enumerate(values):
                ok, value = _coerce(raw, item_kind)
                if not ok:
                    msg, type_ = _TYPE_WORDS[item_kind]
                    problems.append(Problem((*loc, index), msg, type_, validator="type"))
                converted.append(value)
            candidate: Any = converted
        else:
            kind = _expected_type(schema.get("type", "string"))
            ok, candidate = _coerce(values[-1], kind)
            if not ok:
                msg, type_ = _TYPE_WORDS[kind]
                problems.append(Problem(loc, msg, type_, validator="type"))
                continue
        if _plainly_valid(schema, candidate):
            continue
        for error in _param_validator(json.dumps(schema, sort_keys=True)).iter_errors(candidate):
            problems.extend(_problem(error, loc))
    return problems


_PLAIN_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "string": (str,),
}
_PLAIN_KEYWORDS = frozenset(
    {"type", "minimum", "maximum", "enum", "minLength", "maxLength", "pattern", "format"}
)


def _uuid_text(value: Any) -> bool:
    try:
        return isinstance(value, str) and _is_uuid(value)
    except ValueError:
        return False


def _plainly_valid(schema: dict[str, Any], value: Any) -> bool:
    """True when `value` passes a schema of the plain kind query and path parameters
    have (a type, bounds, an enum, a pattern, a UUID), checked without jsonschema, whose
    import costs the first such request 65 ms. False means "ask jsonschema", which
    then words any problem."""
    kinds = _PLAIN_TYPES.get(str(schema.get("type")))
    if kinds is None or not schema.keys() <= _PLAIN_KEYWORDS:
        return False
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        return False
    if "minimum" in schema or "maximum" in schema:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        if not schema.get("minimum", value) <= value <= schema.get("maximum", value):
            return False
    if "minLength" in schema or "maxLength" in schema:
        if not isinstance(value, str):
            return False
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
            return False
    if "pattern" in schema and not (isinstance(value, str) and re.search(schema["pattern"], value)):
        return False
    if "format" in schema and not (schema["format"] == "uuid" and _uuid_text(value)):
        return False
    if "enum" in schema:
        # jsonschema tells True from 1, as `in` would not
        return any(type(member) is type(value) and member == value for member in schema["enum"])
    return True


def fastapi_detail(problems: list[Problem]) -> dict[str, Any]:
    return {"detail": [problem.as_detail() for problem in problems]}


def _param_name(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc[1:]:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _openai_value(value: Any) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value)


def openai_error_body(problem: Problem) -> dict[str, Any]:
    """The platform API's 400 body for the first problem of a request."""
    if problem.validator == "json":
        return openai_error(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
            "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what "
            "was "
            "sent was not valid JSON. If you have trouble figuring out how to fix this, please "
            "contact us through our help center at help.openai.com.)"
        )
    param = _param_name(problem.loc)
    if problem.validator == "required":
        if not param:
            return openai_error("you must provide a model parameter", param=None)
        return openai_error(
            f"Missing required parameter: '{param}'.",
            param=param,
            code="missing_required_parameter",
        )
    if problem.validator == "type":
        expected = _OPENAI_TYPE_WORDS.get(_expected_type(problem.expected), "a valid value")
        got = _OPENAI_TYPE_WORDS.get(json_type(problem.value), "a value")
        return openai_error(
            f"Invalid type for '{param}': expected {expected}, but got {got} instead.",
            param=param,
            code="invalid_type",
        )
    if problem.validator == "enum":
        allowed = [f"'{value}'" for value in problem.expected]
        listed = ", ".join(allowed[:-1]) + (
            f", and {allowed[-1]}" if len(allowed) > 1 else allowed[0]
        )
        return openai_error(
            f"Invalid value: {_openai_value(problem.value)}. Supported values are: {listed}.",
            param=param,
            code="invalid_value",
        )
    if problem.validator in ("minimum", "maximum") and isinstance(problem.value, int | float):
        kind = "integer" if isinstance(problem.value, int) else "decimal"
        below = problem.validator == "minimum"
        side, bound, sign = ("below", "min", ">=") if below else ("above", "max", "<=")
        return openai_error(
            f"Invalid '{param}': {kind} {side} {bound}imum value. Expected a value {sign} "
            f"{problem.expected}, but got {problem.value} instead.",
            param=param,
            code=f"{kind}_{side}_{bound}_value",
        )
    if problem.validator == "minItems" and problem.value == []:
        return openai_error(
            f"Invalid '{param}': empty array. Expected an array with minimum length "
            f"{problem.expected}, but got an empty array instead.",
            param=param,
            code="empty_array",
        )
    return openai_error(f"Invalid '{param}': {problem.msg}.", param=param, code="invalid_value")


def json_type(value: Any) -> str:
    """The JSON Schema type name of a parsed JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
