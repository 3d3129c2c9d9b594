"""The script format's vocabulary (fault kinds, frame names), its error, and the value checks."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import fields
from types import MappingProxyType
from typing import Any, Literal, cast, get_args

from mockgpt.errors import MockGPTError

FaultKind = Literal[
    "close_after", "no_done", "malformed_frame", "stall", "error_envelope", "moderation_block"
]
Finish = Literal["stop", "max_tokens"]

#: Every way a stream can be made to break.
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
#: The optional typed frames a script can switch on or off.
FRAME_NAMES: tuple[str, ...] = (
    "title_generation",
    "server_ste_metadata",
    "conversation_detail_metadata",
    "message_marker",
    "resume_conversation_token",
    "input_message",
    "message_stream_complete",
    "moderation",
    "conversation_async_status",
)
#: Frames a plain turn does not send: the 2023 moderation frame, and the async status
#: of long-running tasks (deep research, image generation).
OPTIONAL_FRAMES = frozenset({"moderation", "conversation_async_status"})
#: The real 2025-26 stream sends all of them except the optional ones.
DEFAULT_FRAMES: Mapping[str, bool] = MappingProxyType(
    {name: name not in OPTIONAL_FRAMES for name in FRAME_NAMES}
)


class ScriptError(MockGPTError, ValueError):
    """A script is malformed; the message names the offending key.

    `path` locates the value (`script[1].pacing.jitter`), `problem` says what
    is wrong with it; `str()` joins both.
    """

    def __init__(self, problem: str, path: str = "") -> None:
        self.problem = problem
        self.path = path
        super().__init__(f"{path}: {problem}" if path else problem)

    def within(self, prefix: str) -> ScriptError:
        """The same error seen from an enclosing object (`prefix` goes in front)."""
        if not prefix:
            return self
        if not self.path:
            return ScriptError(self.problem, prefix)
        sep = "" if self.path.startswith("[") else "."
        return ScriptError(self.problem, f"{prefix}{sep}{self.path}")


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    return (is_int(value) or isinstance(value, float)) and math.isfinite(cast(float, value))


def check_int(name: str, value: object, *, minimum: int) -> int:
    if not is_int(value):
        raise ScriptError(f"must be an integer, got {value!r}", name)
    number = cast(int, value)
    if number < minimum:
        raise ScriptError(f"must be >= {minimum}, got {number}", name)
    return number


def check_float(name: str, value: object, *, minimum: float, maximum: float = math.inf) -> float:
    if not is_number(value):
        raise ScriptError(f"must be a finite number, got {value!r}", name)
    number = float(cast(float, value))
    if not minimum <= number <= maximum:
        bounds = f"between {minimum:g} and {maximum:g}" if maximum < math.inf else f">= {minimum:g}"
        raise ScriptError(f"must be {bounds}, got {number:g}", name)
    return number


def check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ScriptError(f"must be true or false, got {value!r}", name)
    return value


def check_str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ScriptError(f"must be a string, got {value!r}", name)
    return value


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ScriptError(f"must be one of {', '.join(map(repr, choices))}; got {value!r}", name)
    return value


def json_copy(name: str, value: object) -> Any:
    """A deep copy of a JSON value, refusing anything json cannot write."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ScriptError(f"must be plain JSON data ({exc})", name) from None
    return copy.deepcopy(value)


def set_field(obj: object, name: str, value: object) -> None:
    """Normalise a field of a frozen dataclass inside `__post_init__`."""
    object.__setattr__(obj, name, value)


def mapping_at(path: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScriptError(f"must be a JSON object, got {type(value).__name__}", path)
    return cast(Mapping[str, Any], value)


def refuse_unknown(data: Mapping[str, Any], known: Sequence[str]) -> None:
    for key in data:
        if key not in known:
            import difflib  # lazy: start-up

            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ScriptError(
                f"unknown key {key!r}{hint} (allowed: {', '.join(sorted(known))})", str(key)
            )


def field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def compact(obj: object) -> dict[str, Any]:
    """The fields of a dataclass that differ from a default-built one."""
    default = type(obj)()
    return {
        name: getattr(obj, name)
        for name in field_names(type(obj))
        if getattr(obj, name) != getattr(default, name)
    }
