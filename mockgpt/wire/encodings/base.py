"""What every encoding is: a table from turn events to wire events, and its own words for faults."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from mockgpt.framing import DONE, EMPTY, Event, WireEvent

#: Every registered encoding by name.
ENCODINGS: dict[str, type[Encoding]] = {}

Rule = Callable[..., list[WireEvent]]
"""How one kind of turn event is written: `rule(encoding, event)`, the events to send."""


class Encoding:
    """One stream's encoder: stateful, as formats that send deltas must be.

    Subclasses set `name`, `frames` (their table), `malformed` (the start of a
    frame cut off mid-JSON) and may change `pad_block` (the padding block size
    the real server uses on this format) and `empty_before_done` (a padded
    stream sends an empty `data:` line before `[DONE]`).
    """

    name: ClassVar[str]
    frames: ClassVar[Mapping[type, Rule]] = {}
    malformed: ClassVar[str]
    pad_block: ClassVar[int] = 8
    empty_before_done: ClassVar[bool] = False

    def opening(self) -> list[WireEvent]:
        """The events every stream of this format begins with (a resume repeats them)."""
        return []

    def encode(self, event: Any) -> list[WireEvent]:
        """The wire events that say `event`, none when the format does not carry it.

        Always the `frames` table's answer (streams read the table directly).
        """
        rule = self.frames.get(type(event))
        return rule(self, event) if rule is not None else []

    def closing(self, *, padded: bool) -> list[WireEvent]:
        """The events that end a whole stream."""
        return [EMPTY, DONE] if padded and self.empty_before_done else [DONE]

    def strike(self, index: int) -> None:
        """Hear that a fault strikes before wire event `index` (formats that number events do)."""

    def error(self, message: str | None) -> Event:
        """A mid-stream error, in the format's own shape (`message` None: its default)."""
        raise NotImplementedError

    def blocked(self) -> Event:
        """A moderation refusal of the answer, in the format's own shape."""
        raise NotImplementedError


E = TypeVar("E", bound=type[Encoding])


def register(kind: E) -> E:
    """Add an encoding to the registry under its `name`."""
    if kind.name in ENCODINGS:
        raise ValueError(f"encoding {kind.name!r} is registered twice")
    ENCODINGS[kind.name] = kind
    return kind


def typed_frame(kind: str, keys: tuple[str, ...], values: Mapping[str, Any]) -> dict[str, Any]:
    """A typed frame `{"type": kind, ...}` with `keys` in the order the server writes them."""
    frame: dict[str, Any] = {"type": kind}
    for key in keys:
        frame[key] = values[key]
    return frame
