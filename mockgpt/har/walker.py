"""Walking a JSON value against its schema, and naming what drifted from it."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

from mockgpt.schemas import FORMAT_CHECKER
from mockgpt.validation import json_type


@dataclass(frozen=True, slots=True)
class Drift:
    """One way a body differs from what mockgpt knows.

    `kind` is one of `missing`, `new`, `type`, `value`, `new-frame-type`,
    `new-event`, `status`, `media`, `body` or `decode`; `where` names the body
    (`request`, `response 200`, `response 200, frame title_generation`...);
    `path` is a JSON path in it (`$.items[*].title`); `detail` says the rest.
    """

    kind: str
    where: str
    path: str
    detail: str


KIND_LABELS: Mapping[str, str] = {
    "missing": "missing field",
    "new": "new field",
    "type": "type changed",
    "value": "value refused",
    "new-frame-type": "new frame type",
    "new-event": "new event name",
    "status": "undocumented status",
    "media": "media type changed",
    "body": "unreadable body",
    "decode": "stream does not decode",
}
HARD_KINDS = frozenset({"missing", "type", "value"})
_LEAF_KEYWORDS = (
    "enum",
    "const",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
    "minProperties",
    "maxProperties",
)


def _type_ok(value: Any, allowed: Sequence[str]) -> bool:
    actual = json_type(value)
    if actual in allowed:
        return True
    if actual == "integer" and "number" in allowed:
        return True
    return actual == "number" and "integer" in allowed and float(value).is_integer()


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_step(path: str, key: str) -> str:
    return f"{path}.{key}" if _IDENTIFIER.match(key) else f"{path}[{json.dumps(key)}]"


def _fingerprint(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True)


class SchemaWalker:
    """Compares JSON values with resolved schemas, field by field.

    Unlike a validator it names every undeclared field, picks the one branch of
    an `anyOf` a value was meant to follow (by its `type`-like discriminator,
    then by the fewest problems), and reports types and values where they
    change. `known` holds, per object schema, the undeclared fields mockgpt's
    own answers carry; those are not reported as new.
    """

    def __init__(self) -> None:
        self.known: dict[str, set[str]] = {}
        self._fingerprints: dict[int, str] = {}
        self._leaf: dict[int, jsonschema.Draft7Validator | None] = {}
        self._pinned: list[Any] = []  # keeps the schemas behind the id() keys alive

    def _print(self, schema: dict[str, Any]) -> str:
        key = id(schema)
        found = self._fingerprints.get(key)
        if found is None:
            found = self._fingerprints[key] = _fingerprint(schema)
            self._pinned.append(schema)
        return found

    def learn(self, schema: dict[str, Any], value: Any) -> None:
        """Record the undeclared fields of `value` (one of mockgpt's own answers) as known."""
        self._walk(schema, value, "$", [], learn=True)

    def compare(self, schema: dict[str, Any], value: Any, where: str) -> list[Drift]:
        out: list[tuple[str, str, str]] = []
        self._walk(schema, value, "$", out, learn=False)
        return [Drift(kind, where, path, detail) for kind, path, detail in out]

    def _leaf_validator(self, schema: dict[str, Any]) -> jsonschema.Draft7Validator | None:
        key = id(schema)
        if key not in self._leaf:
            leaf = {name: schema[name] for name in _LEAF_KEYWORDS if name in schema}
            self._leaf[key] = (
                jsonschema.Draft7Validator(leaf, format_checker=FORMAT_CHECKER) if leaf else None
            )
            self._pinned.append(schema)
        return self._leaf[key]

    def _walk(
        self,
        schema: Any,
        value: Any,
        path: str,
        out: list[tuple[str, str, str]],
        *,
        learn: bool,
    ) -> None:
        if not isinstance(schema, dict):
            return
        branches = schema.get("anyOf") or schema.get("oneOf")
        if isinstance(branches, list) and branches:
            self._branch(branches, value, path, out, learn=learn)
        for part in schema.get("allOf", ()):
            self._walk(part, value, path, out, learn=learn)
        declared = schema.get("type")
        if declared is not None:
            allowed = [declared] if isinstance(declared, str) else list(declared)
            if not _type_ok(value, allowed):
                out.append(("type", path, f"expected {'|'.join(allowed)}, got {json_type(value)}"))
                return
        if isinstance(value, dict):
            self._object(schema, value, path, out, learn=learn)
        elif isinstance(value, list):
            items = schema.get("items")
            if isinstance(items, dict):
                for item in value:
                    self._walk(items, item, f"{path}[*]", out, learn=learn)
            elif isinstance(items, list):
                for index, (part, item) in enumerate(zip(items, value, strict=False)):
                    self._walk(part, item, f"{path}[{index}]", out, learn=learn)
        leaf = self._leaf_validator(schema)
        if leaf is not None:
            for error in leaf.iter_errors(value):
                out.append(("value", path, shorten(error.message)))

    def _object(
        self,
        schema: dict[str, Any],
        value: dict[str, Any],
        path: str,
        out: list[tuple[str, str, str]],
        *,
        learn: bool,
    ) -> None:
        for name in schema.get("required", ()):
            if name not in value:
                out.append(("missing", json_step(path, name), "required field absent"))
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        patterns = schema.get("patternProperties")
        known: set[str] | None = None
        for key, item in value.items():
            if isinstance(properties, dict) and key in properties:
                self._walk(properties[key], item, json_step(path, key), out, learn=learn)
                continue
            if isinstance(patterns, dict):
                matched = [sub for regex, sub in patterns.items() if re.search(regex, key)]
                if matched:
                    for sub in matched:
                        self._walk(sub, item, f"{path}.*", out, learn=learn)
                    continue
            if isinstance(extra, dict):
                self._walk(extra, item, f"{path}.*", out, learn=learn)
                continue
            if not isinstance(properties, dict):
                continue  # the schema says nothing about this object's fields
            if known is None:
                known = self.known.setdefault(self._print(schema), set())
            if learn:
                known.add(key)
            elif key not in known:
                out.append(("new", json_step(path, key), f"undeclared field ({json_type(item)})"))

    def _branch(
        self,
        branches: list[Any],
        value: Any,
        path: str,
        out: list[tuple[str, str, str]],
        *,
        learn: bool,
    ) -> None:
        candidates = _discriminated(branches, value)
        best: list[tuple[str, str, str]] | None = None
        best_score: tuple[int, int, int] | None = None
        chosen: Any = None
        for branch in candidates:
            found: list[tuple[str, str, str]] = []
            self._walk(branch, value, path, found, learn=False)
            # A branch of another type is the worst fit, then the one with more problems.
            rooted = int(any(kind == "type" and where == path for kind, where, _ in found))
            hard = sum(1 for kind, _, _ in found if kind in HARD_KINDS)
            score = (rooted, hard, len(found) - hard)
            if best_score is None or score < best_score:
                best, best_score, chosen = found, score, branch
            if score == (0, 0, 0):
                break
        if learn:
            self._walk(chosen, value, path, out, learn=True)
        elif best:
            out.extend(best)


def _discriminator(branch: Any) -> dict[str, list[Any]]:
    """The properties of a branch that admit fixed values only (`type`, `content_type`...)."""
    if not isinstance(branch, dict) or not isinstance(branch.get("properties"), dict):
        return {}
    found: dict[str, list[Any]] = {}
    for name, spec in branch["properties"].items():
        if isinstance(spec, dict):
            if isinstance(spec.get("enum"), list):
                found[name] = spec["enum"]
            elif "const" in spec:
                found[name] = [spec["const"]]
    return found


def _discriminated(branches: list[Any], value: Any) -> list[Any]:
    """The branches a value's discriminating fields point to (all of them when none do).

    A field discriminates when two branches or more fix its values (`type` of
    the stream's frames, `content_type` of message contents).
    """
    if not isinstance(value, dict):
        return branches
    fixed = [_discriminator(branch) for branch in branches]
    counts = Counter(name for found in fixed for name in found)
    keys = {name for name, count in counts.items() if count > 1 and name in value}
    if not keys:
        return branches
    agreeing: list[Any] = []
    neutral: list[Any] = []
    for branch, found in zip(branches, fixed, strict=True):
        relevant = {name: allowed for name, allowed in found.items() if name in keys}
        if not relevant:
            neutral.append(branch)
        elif all(value[name] in allowed for name, allowed in relevant.items()):
            agreeing.append(branch)
    return agreeing or neutral or branches


def shorten(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def frame_types(schema: Mapping[str, Any]) -> frozenset[str] | None:
    """The `type` values of the typed frames an event schema knows (None: any type passes)."""
    branches = schema.get("anyOf") or schema.get("oneOf") or [schema]
    types: set[str] = set()
    for branch in branches:
        if not isinstance(branch, dict):
            continue
        spec = (branch.get("properties") or {}).get("type")
        if spec is None:
            continue
        fixed = _discriminator({"properties": {"type": spec}}).get("type")
        if fixed is None:
            return None
        types.update(str(item) for item in fixed)
    return frozenset(types)
