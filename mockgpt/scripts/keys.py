"""The vocabulary the script format is written in: keys, rules and shapes.

A `Key` says what one key of a script object takes (its JSON type, bounds,
choices, whether it may be null or blank); a `Rule` says what must hold across
keys; a `Shape` is an object made of both. Each of them gives two things from
one declaration: the loader's check (fast, plain Python, with a message that
names the bad key) and the JSON Schema fragment the admin API serves and
hypothesis draws from. `mockgpt.scripts.format` writes the format in these
terms; nothing else describes it.
"""

from __future__ import annotations

import builtins
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast

from mockgpt.scripts.checks import (
    ScriptError,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_str,
    json_copy,
    mapping_at,
    refuse_unknown,
    set_field,
)

Schema = dict[str, Any]
JsonType = Literal["string", "integer", "number", "boolean", "object", "array"]

#: The characters `str.isspace()` calls whitespace, spelt out: a JSON Schema pattern
#: is an ECMA-262 regex, whose `\s` is another set, so `\S` would mean something else
#: in each validator. A string with none but these is blank.
WHITESPACE = r"\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: A string that is not blank has a character outside `WHITESPACE`.
VISIBLE = f"[^{WHITESPACE}]"
_VISIBLE = re.compile(VISIBLE)


def is_visible(text: str) -> bool:
    """Whether `text` has something besides whitespace (what `str.strip()` keeps)."""
    return _VISIBLE.search(text) is not None


def _any_case(word: str) -> str:
    """A pattern for `word` in any case; `-` and `_` stand as they are (an ECMA-262
    regex in unicode mode refuses `\\-`), other punctuation is escaped."""
    return "".join(
        f"[{c.upper()}{c.lower()}]" if c.isalpha() else c if c.isalnum() or c in "-_" else "\\" + c
        for c in word
    )


@dataclass(frozen=True, slots=True)
class Key:
    """One key of a script object and the values it takes (an integer's `minimum`
    is 0 unless set higher: no count in a script is negative).

    `visible`: a string must have something besides whitespace. `charset` is a
    regex class body every character must be in (`charset_means` words it for
    errors); the schema says so as "no character outside", which reads the same
    to every regex engine, where an anchored pattern would not (Python's `$`
    matches before a final newline).
    `refused` are strings the key never takes, matched case-insensitively
    (`content-length` among header names), for the reason `refused_means`. An
    object key lists its `fields` (`open`: other keys are allowed too), or gives
    `names` and `values` for objects keyed by data (frames, headers). `part` is
    a nested shape, checked by the class that implements it.
    """

    name: str
    type: JsonType
    doc: str = ""
    nullable: bool = False
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    choices: tuple[str, ...] = ()
    min_length: int = 0
    visible: bool = False
    charset: str | None = None
    charset_means: str = ""
    refused: tuple[str, ...] = ()
    refused_means: str = ""
    items: Key | None = None
    fields: tuple[Key, ...] = ()
    open: bool = False
    names: Key | None = None
    values: Key | None = None
    part: Shape | None = None
    #: The Python type taken as it is, with nothing more to check (a plain flag).
    as_is: builtins.type | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        bare = self.type == "boolean" or (
            self.type == "string"
            and not (self.choices or self.min_length or self.visible or self.charset)
            and not self.refused
        )
        set_field(self, "as_is", (bool if self.type == "boolean" else str) if bare else None)

    def check(self, value: object, path: str) -> Any:
        """The value, normalised (a whole number for a float key is a float), or a
        `ScriptError` at `path` saying what was expected."""
        if type(value) is self.as_is or (value is None and self.nullable):
            return value
        if self.type == "string":
            return self._check_str(value, path)
        if self.type == "integer":
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # JSON's 2.0 is an integer to JSON Schema too
            whole = check_int(path, value, minimum=int(self.minimum or 0))
            if self.maximum is not None and whole > self.maximum:
                span = f"{self.minimum or 0:g} and {self.maximum:g}"
                raise ScriptError(f"must be between {span}, got {whole}", path)
            return whole
        if self.type == "number":
            low = self.minimum if self.minimum is not None else -math.inf
            high = self.maximum if self.maximum is not None else math.inf
            number = check_float(path, value, minimum=low, maximum=high)
            if self.above is not None and number <= self.above:
                raise ScriptError(f"must be > {self.above:g}, got {number:g}", path)
            return number
        if self.type == "boolean":
            return check_bool(path, value)
        if self.type == "array":
            return self._check_list(value, path)
        return self._check_object(value, path)

    def _check_str(self, value: object, path: str) -> str:
        if self.choices:
            return check_choice(path, value, self.choices)
        text = check_str(path, value)
        if len(text) < self.min_length:
            raise ScriptError("must not be empty", path)
        if self.visible and not is_visible(text):
            raise ScriptError("must not be empty or only whitespace", path)
        if self.charset is not None and re.search(f"[^{self.charset}]", text) is not None:
            raise ScriptError(f"must be {self.charset_means}, got {text!r}", path)
        if text.lower() in self.refused:
            raise ScriptError(f"{text!r} is not allowed here: {self.refused_means}", path)
        return text

    def _check_list(self, value: object, path: str) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise ScriptError(f"must be a list, got {type(value).__name__}", path)
        items = list(value)
        if self.items is not None and self.items.part is None:
            items = [self.items.check(item, f"{path}[{i}]") for i, item in enumerate(items)]
        return items

    def _check_object(self, value: object, path: str) -> dict[str, Any]:
        given = mapping_at(path, value)
        checked: dict[str, Any] = dict(json_copy(path, dict(given))) if self.open else {}
        if self.fields and not self.open:
            try:
                refuse_unknown(given, [inner.name for inner in self.fields])
            except ScriptError as exc:
                raise exc.within(path) from None
        for inner in self.fields:
            if inner.name in given:
                checked[inner.name] = inner.check(given[inner.name], f"{path}.{inner.name}")
            elif inner.required:
                raise ScriptError(f"missing key {inner.name!r}", path)
        if self.names is not None:
            names = self.names
            if names.choices:  # an unknown name is refused with a hint at the closest
                try:
                    refuse_unknown(given, names.choices)
                except ScriptError as exc:
                    raise exc.within(path) from None
            else:
                for name in given:
                    names.check(name, path)
        if self.values is not None:
            values = self.values
            for name, item in given.items():
                # the path is written only for a value that needs a closer look
                good = type(item) is values.as_is
                checked[name] = item if good else values.check(item, f"{path}.{name}")
        return checked

    def schema(self) -> Schema:
        """The key's JSON Schema."""
        if self.part is not None:
            target = self.part.reference()
            out: Schema = {"anyOf": [{"type": "null"}, target]} if self.nullable else target
            return self._described(out)
        out = {"type": [self.type, "null"] if self.nullable else self.type}
        if len(self.choices) == 1 and not self.nullable:
            out["const"] = self.choices[0]
        elif self.choices:
            out["enum"] = [*self.choices, *([None] if self.nullable else [])]
        floor = 0 if self.type == "integer" and self.minimum is None else self.minimum
        for word, figure in (
            ("minimum", floor),
            ("exclusiveMinimum", self.above),
            ("maximum", self.maximum),
        ):
            if figure is not None:
                out[word] = figure
        if self.min_length or self.visible:
            out["minLength"] = max(self.min_length, 1)
        if self.visible:
            out["pattern"] = VISIBLE
        outlawed = [] if self.charset is None else [{"pattern": f"[^{self.charset}]"}]
        if self.refused:
            refused = "|".join(_any_case(word) for word in self.refused)
            outlawed.append({"pattern": f"^(?:{refused})$"})
        if outlawed:
            out["not"] = outlawed[0] if len(outlawed) == 1 else {"anyOf": outlawed}
        if self.items is not None:
            out["items"] = self.items.schema()
        if self.fields:
            out["properties"] = {field.name: field.schema() for field in self.fields}
            required = [field.name for field in self.fields if field.required]
            if required:
                out["required"] = required
            if not self.open:
                out["additionalProperties"] = False
        if self.names is not None:
            out["propertyNames"] = {k: v for k, v in self.names.schema().items() if k != "type"}
        if self.values is not None:
            out["additionalProperties"] = self.values.schema()
        return self._described(out)

    def _described(self, out: Schema) -> Schema:
        if self.doc:
            out["description"] = self.doc
        return out


@dataclass(frozen=True, slots=True)
class Rule:
    """Something that must hold across the keys of one object.

    `holds` is the loader's test of a built object, `schema` the same rule in
    JSON Schema, for the admin API and hypothesis; None marks a rule JSON Schema
    cannot state, which only the loader applies (the tests name each of them).
    `says` words the rule (the error at `path`, and the schema's description);
    `telling`, when given, words the error for the object at hand instead.
    """

    says: str
    path: str
    holds: Callable[[Any], bool]
    schema: Schema | None
    telling: Callable[[Any], str] | None = None

    def check(self, obj: object) -> None:
        if not self.holds(obj):
            words = self.says if self.telling is None else self.telling(obj)
            raise ScriptError(words, self.path)


@dataclass(frozen=True, slots=True)
class Shape:
    """A script object: its keys and the rules across them, or (`variants`) one of
    several objects. `file` is the schema file that holds it, when it has its own."""

    title: str
    doc: str
    keys: tuple[Key, ...] = ()
    rules: tuple[Rule, ...] = ()
    variants: tuple[Shape, ...] = ()
    file: str | None = None
    names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _by_name: Mapping[str, Key] = field(init=False, repr=False, compare=False)
    _plain: tuple[Key, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_field(self, "names", tuple(key.name for key in self.keys))
        set_field(self, "_by_name", MappingProxyType({key.name: key for key in self.keys}))
        plain = (
            key
            for key in self.keys
            if key.part is None and (key.items is None or key.items.part is None)
        )
        set_field(self, "_plain", tuple(plain))

    def key(self, name: str) -> Key:
        return self._by_name[name]

    def check(self, obj: object) -> None:
        """Check and normalise the plain keys of a built object, then its rules."""
        self.check_keys(obj)
        self.check_rules(obj)

    def check_keys(self, obj: object) -> None:
        """Check and normalise the keys of a built object, except those holding parts
        (which their own classes check)."""
        for key in self._plain:
            value = getattr(obj, key.name)
            if type(value) is key.as_is or (value is None and key.nullable):
                continue  # `key.check` would take it as it is
            checked = key.check(value, key.name)
            if checked is not value:
                set_field(obj, key.name, checked)

    def check_rules(self, obj: object) -> None:
        for rule in self.rules:
            rule.check(obj)

    def arguments(self, data: object) -> dict[str, Any]:
        """The keyword arguments of a JSON object of this shape: no unknown or missing keys."""
        given = mapping_at("", data)
        refuse_unknown(given, self.names)
        for key in self.keys:
            if key.required and key.name not in given:
                raise ScriptError(f"missing key {key.name!r}")
        return dict(given)

    def reference(self) -> Schema:
        """How another schema points to this one: a `$ref` to its file, or the schema itself."""
        return {"$ref": self.file} if self.file is not None else self.schema(titled=False)

    def schema(self, *, titled: bool = True) -> Schema:
        """The shape's JSON Schema."""
        out: Schema = {"title": self.title, "description": self.doc} if titled else {}
        if self.variants:
            out["oneOf"] = [variant.schema(titled=False) for variant in self.variants]
            return out
        out["type"] = "object"
        out["additionalProperties"] = False
        required = [key.name for key in self.keys if key.required]
        if required:
            out["required"] = required
        out["properties"] = {key.name: key.schema() for key in self.keys}
        stated = [rule for rule in self.rules if rule.schema is not None]
        if stated:
            out["allOf"] = [
                {**cast(Schema, rule.schema), "description": rule.says} for rule in stated
            ]
        return out


def checked_items(key: Key, value: object, parse: Callable[[Mapping[str, Any]], Any]) -> list[Any]:
    """A list of parts (tool messages) from JSON objects or built parts, with paths."""
    parsed = []
    for i, item in enumerate(key.check(value, key.name)):
        if isinstance(item, Mapping):
            try:
                item = parse(item)
            except ScriptError as exc:
                raise exc.within(f"{key.name}[{i}]") from None
        parsed.append(item)
    return parsed
