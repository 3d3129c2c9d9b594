"""Deterministic JSON instances of a JSON Schema, for `response_format` and tool arguments.

A client that asks for `json_schema` output or defines tools expects content
valid against its schema. `instance(schema, rng)` builds one by a table from
JSON type to builder (`_BUILDERS`; a test checks the table covers every type),
preferring `const`, `enum`, `examples` and `default` where the schema gives them.
It covers what structured outputs and function parameters use: objects with
properties and required keys, arrays with item schemas and bounds, strings with
lengths and common formats, numbers with bounds, booleans, null, `anyOf`/`oneOf`,
`allOf` of objects, and local `$ref`s into `$defs`/`definitions`.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable
from typing import Any

Schema = dict[str, Any]
_WORDS = (
    "alpha",
    "amber",
    "bright",
    "cedar",
    "delta",
    "ember",
    "harbor",
    "island",
    "juniper",
    "lumen",
    "maple",
    "north",
    "orbit",
    "pebble",
    "quartz",
    "river",
    "summit",
    "tidal",
)
_MAX_DEPTH = 12


def instance(schema: Schema | bool, rng: random.Random, *, root: Schema | None = None) -> Any:
    """One JSON value valid against `schema` (drawn from `rng`, so reproducible)."""
    return _build(schema, rng, root if root is not None else schema, 0)


def _resolve(schema: Schema, root: Any) -> Schema:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#"):
        return schema
    node: Any = root
    for part in ref.lstrip("#/").split("/"):
        if part:
            node = node[part.replace("~1", "/").replace("~0", "~")]
    merged = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    return _resolve(merged, root)


def _with_siblings(schema: Schema, option: Schema) -> Schema:
    """A branch of `anyOf`/`oneOf` together with the keywords beside it (an object
    schema whose branches only say which fields are required, say)."""
    siblings = {key: value for key, value in schema.items() if key not in ("anyOf", "oneOf")}
    if not siblings:
        return option
    merged = {**siblings, **option}
    for key in ("properties", "required"):
        if key in siblings and key in option:
            both = (siblings[key], option[key])
            merged[key] = {**both[0], **both[1]} if key == "properties" else [*both[0], *both[1]]
    return merged


def _build(schema: Schema | bool, rng: random.Random, root: Any, depth: int) -> Any:
    if schema is True or not isinstance(schema, dict) or not schema:
        return rng.choice(_WORDS)
    schema = _resolve(schema, root)
    for key in ("const",):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return rng.choice(schema["enum"])
    for key in ("examples", "default"):
        value = schema.get(key)
        if key == "examples" and isinstance(value, list) and value:
            return value[0]
        if key == "default" and value is not None:
            return value
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        option = _resolve(options[0] if depth >= _MAX_DEPTH else rng.choice(options), root)
        return _build(_with_siblings(schema, option), rng, root, depth + 1)
    if schema.get("allOf"):
        merged: Schema = {"type": "object", "properties": {}, "required": []}
        for part in schema["allOf"]:
            part = _resolve(part, root)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        return _build(merged, rng, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        choices = [k for k in kind if k != "null"] or kind
        kind = choices[0] if depth >= _MAX_DEPTH else rng.choice(choices)
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    return _BUILDERS[str(kind)](schema, rng, root, depth)


def _object(schema: Schema, rng: random.Random, root: Any, depth: int) -> dict[str, Any]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    result: dict[str, Any] = {}
    for name, sub in properties.items():
        if name in required or (depth < 3 and rng.random() < 0.5):
            result[name] = _build(sub, rng, root, depth + 1)
    extra = schema.get("additionalProperties")
    for name in sorted(required - result.keys()):
        # Required keys the schema types only through additionalProperties (maps).
        result[name] = _build(extra if isinstance(extra, dict) else {}, rng, root, depth + 1)
    minimum = int(schema.get("minProperties", 0))
    index = 0
    while len(result) < minimum and extra is not False:
        result[f"{rng.choice(_WORDS)}_{index}"] = _build(
            extra if isinstance(extra, dict) else {}, rng, root, depth + 1
        )
        index += 1
    return result


def _array(schema: Schema, rng: random.Random, root: Any, depth: int) -> list[Any]:
    low = int(schema.get("minItems", 0))
    high = int(schema.get("maxItems", max(low, 3)))
    count = (
        low if depth >= _MAX_DEPTH else rng.randint(max(low, min(1, high)), max(low, min(high, 3)))
    )
    prefix = schema.get("prefixItems") or []
    items = schema.get("items", {})
    values = [
        _build(prefix[i] if i < len(prefix) else items, rng, root, depth + 1)
        for i in range(max(count, len(prefix)))
    ]
    return values


_FORMATS: dict[str, Callable[[random.Random], str]] = {
    "date-time": lambda rng: (
        f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z"
    ),
    "date": lambda rng: f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    "time": lambda rng: f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00",
    "email": lambda rng: f"{rng.choice(_WORDS)}@example.com",
    "uri": lambda rng: f"https://example.com/{rng.choice(_WORDS)}",
    "uuid": lambda rng: (
        f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-8{rng.getrandbits(12):03x}-{rng.getrandbits(48):012x}"
    ),
    "ipv4": lambda rng: ".".join(str(rng.randint(1, 254)) for _ in range(4)),
    "hostname": lambda rng: f"{rng.choice(_WORDS)}.example.com",
}


_CLASSES = {"d": string.digits, "w": string.ascii_letters + string.digits + "_", "s": " "}
_SIMPLE_RE = re.compile(
    r"(\\[dws]|\\.|\[\^?(?:\\.|[^\]])+\]|\.|[^\\\[\]().*+?{}|^$])"
    r"(\{\d+(?:,\d*)?\}|[*+?])?"
)


def _class_chars(token: str) -> str:
    """The characters a one-character regex token stands for (a usable subset)."""
    if token.startswith("\\") and token[1] in _CLASSES:
        return _CLASSES[token[1]]
    if token.startswith("\\"):
        return token[1]
    if token == ".":
        return string.ascii_lowercase
    if token.startswith("["):
        negated = token.startswith("[^")
        body = token[2:-1] if negated else token[1:-1]
        chars, index = "", 0
        while index < len(body):
            if body[index] == "\\" and index + 1 < len(body):
                chars += _CLASSES.get(body[index + 1], body[index + 1])
                index += 2
            elif index + 2 < len(body) and body[index + 1] == "-":
                chars += "".join(chr(c) for c in range(ord(body[index]), ord(body[index + 2]) + 1))
                index += 3
            else:
                chars += body[index]
                index += 1
        if negated:
            return "".join(c for c in string.ascii_letters + string.digits if c not in chars)
        return chars
    return token


def _from_pattern(pattern: str, rng: random.Random) -> str | None:
    """A string matching a simple anchored pattern (classes, literals, quantifiers), or None."""
    body = pattern.removeprefix("^").removesuffix("$")
    pieces = _SIMPLE_RE.findall(body)
    if "".join(token + quantifier for token, quantifier in pieces) != body:
        return None  # groups, alternation: beyond this small generator
    text = ""
    for token, quantifier in pieces:
        low, high = 1, 1
        if quantifier in ("*", "+", "?"):
            low, high = {"*": (0, 3), "+": (1, 4), "?": (0, 1)}[quantifier]
        elif quantifier:
            bounds = quantifier[1:-1].split(",")
            low = int(bounds[0])
            high = (
                int(bounds[1])
                if len(bounds) > 1 and bounds[1]
                else (low if len(bounds) == 1 else low + 3)
            )
        chars = _class_chars(token)
        text += "".join(rng.choice(chars) for _ in range(rng.randint(low, high)))
    return text if re.search(pattern, text) else None


def _string(schema: Schema, rng: random.Random, root: Any, depth: int) -> str:
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt](rng)
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        drawn = _from_pattern(pattern, rng)
        if drawn is not None:
            return drawn
    low = int(schema.get("minLength", 0))
    high = int(schema.get("maxLength", max(low, 24)))
    text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3)))
    while len(text) < low:
        text += rng.choice(string.ascii_lowercase)
    return text[:high]


def _number(schema: Schema, rng: random.Random, root: Any, depth: int) -> float:
    low, high = _bounds(schema, 0.0, 100.0)
    value = round(rng.uniform(low, high), 2)
    return min(max(value, low), high)


def _integer(schema: Schema, rng: random.Random, root: Any, depth: int) -> int:
    low, high = _bounds(schema, 0, 100)
    low_i, high_i = int(-(-low // 1)), int(high // 1)
    step = int(schema.get("multipleOf", 1))
    value = rng.randint(low_i, max(low_i, high_i))
    return value - value % step if step > 1 and value - value % step >= low_i else value


def _bounds(schema: Schema, low: float, high: float) -> tuple[float, float]:
    low = float(schema.get("minimum", low))
    high = float(schema.get("maximum", max(high, low)))
    if "exclusiveMinimum" in schema and not isinstance(schema["exclusiveMinimum"], bool):
        low = float(schema["exclusiveMinimum"]) + 1
    if "exclusiveMaximum" in schema and not isinstance(schema["exclusiveMaximum"], bool):
        high = float(schema["exclusiveMaximum"]) - 1
    return low, max(low, high)


_BUILDERS: dict[str, Callable[[Schema, random.Random, Any, int], Any]] = {
    "object": _object,
    "array": _array,
    "string": _string,
    "number": _number,
    "integer": _integer,
    "boolean": lambda schema, rng, root, depth: rng.random() < 0.5,
    "null": lambda schema, rng, root, depth: None,
}
JSON_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
assert set(_BUILDERS) == JSON_TYPES, "every JSON type needs a builder"
