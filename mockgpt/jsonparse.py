"""Reading JSON from strangers: the standard parser, with limits it lacks.

Python's `json.loads` accepts `NaN` and `Infinity` (JSON has neither), keeps
lone UTF-16 surrogates such as `"\\udfff"` (which no UTF-8 encoder can write
back), raises `RecursionError` on deep nesting and `ValueError` on integers
past 4,300 digits. Each of those became a 500 somewhere later. `parse_json`
refuses them all up front with one `json.JSONDecodeError`, so every caller
answers them like any other malformed body.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

#: A `\\uD800`-`\\uDFFF` escape: only then can a parsed string hold a surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class JsonLimits:
    """How deep a JSON document may nest and how many digits an integer may have."""

    depth: int = 128
    int_digits: int = 1000


DEFAULT_LIMITS = JsonLimits()


class _Refused(Exception):
    def __init__(self, message: str, token: str) -> None:
        super().__init__(message)
        self.message = message
        self.token = token


def _position(text: str, token: str) -> int:
    found = text.find(token)
    return max(found, 0)


def parse_json(text: str | bytes, limits: JsonLimits = DEFAULT_LIMITS) -> Any:
    """Parse `text` as strict JSON within `limits`; `json.JSONDecodeError` otherwise.

    Bytes are decoded as UTF-8 first (`UnicodeDecodeError` when they are not).
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")

    def constant(name: str) -> Any:
        raise _Refused(f"{name} is not valid JSON", name)

    def integer(digits: str) -> int:
        if len(digits.lstrip("-")) > limits.int_digits:
            raise _Refused(f"Integer longer than {limits.int_digits} digits", digits)
        return int(digits)

    def number(literal: str) -> float:
        value = float(literal)
        if value in (float("inf"), float("-inf")):
            raise _Refused("Number out of range", literal)
        return value

    try:
        value = json.loads(text, parse_constant=constant, parse_int=integer, parse_float=number)
    except _Refused as refused:
        raise json.JSONDecodeError(refused.message, text, _position(text, refused.token)) from None
    except RecursionError:
        raise json.JSONDecodeError(f"Nested deeper than {limits.depth} levels", text, 0) from None
    # Depth can only pass the limit when there are more brackets than levels allowed.
    if text.count("[") + text.count("{") > limits.depth and _too_deep(value, limits.depth):
        raise json.JSONDecodeError(f"Nested deeper than {limits.depth} levels", text, 0)
    found = _SURROGATE_ESCAPE.search(text)
    if found is not None and _has_lone_surrogate(value):
        raise json.JSONDecodeError("Lone surrogate in string", text, found.start())
    return value


def _too_deep(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels (without recursing)."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any string or key holds a surrogate that no pair completed."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
