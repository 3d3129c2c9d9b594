"""What happens in a turn, in order, with no wire format in it.

A turn is an iterator of the events below, made lazily: the stream asks for the
next event only when it is ready to send it, so the first byte never waits for
the last token to be planned. Every event carries `delay`, the pause before it
on the app's clock (pacing, jitter); faults and byte realism are not part of
the turn, the stream applies them (`mockgpt.wire.stream`).

How the formats of today and tomorrow say things with these events:

- a web turn: `Meta` frames (resume token, the echoed input), a `Begin` with
  `echo=True` per system, user and tool message, a `Begin` of the answer,
  `Text` (or bare `str`) as it grows, `Marker`s around the visible text, `Done` with the final
  message, then `Meta`, `Title` and `Limits`;
- a reasoning turn (2026): a `Begin` on channel `analysis` with its `Text` and
  `Done`, then the answer's `Begin` on channel `final`, `Marker("final_channel_token")`
  and its text; a tool call is a `Begin` addressed to the tool, `Done` with
  `end_turn: false`, then an echoed tool message;
- a platform completion: per choice a `Begin` (the role), `Text` or a `ToolCall`
  with `Arguments`, `Done` with the finish reason; then `Usage`;
- a Responses answer: per output item a `Begin` (the item announced empty), its
  `Part`s with their `Text` (or a call's `Arguments`, a search's `Meta`), `Done`
  with the finished item; then `Usage`, the end.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from mockgpt.scripts import Pacing


@dataclass(slots=True)
class Begin:
    """A message begins: its snapshot at that moment.

    `echo` marks a message that is whole at once (the user's, the system's, a
    tool's answer). `index` tells apart parallel answers (`n` choices), and
    `channel` names the channel a message is written on (`analysis`, `final`).
    """

    message: dict[str, Any]
    echo: bool = False
    index: int = 0
    channel: str | None = None
    delay: float = 0.0


@dataclass(slots=True)
class Text:
    """The open message's text grows by `text`.

    A bare `str` in a turn stands for `Text(str)` with no pause: most events of
    an unpaced answer, made without an object each. Encodings that do not list
    `str` in their table get it as a `Text`.
    """

    text: str
    logprobs: Any = None
    index: int = 0
    delay: float = 0.0


@dataclass(slots=True)
class Update:
    """The open message changed in a way other than text growing at its end.

    `message` is its whole new state (a reasoning message gaining a thought
    item, an item's content growing); delta encodings send the difference,
    snapshot encodings the whole message.
    """

    message: dict[str, Any]
    delay: float = 0.0


@dataclass(slots=True)
class Part:
    """The open message starts its `index`-th part of `kind` (`output_text`, `refusal`,
    `summary_text`); the `Text` that follows fills it. Formats without parts skip it."""

    kind: str
    index: int = 0
    delay: float = 0.0


@dataclass(slots=True)
class ToolCall:
    """The open message calls a tool; its arguments follow as `Arguments`."""

    call_id: str
    name: str
    index: int = 0
    delay: float = 0.0


@dataclass(slots=True)
class Arguments:
    """The arguments of the open tool call grow by `text`."""

    text: str
    index: int = 0
    delay: float = 0.0


@dataclass(slots=True)
class Marker:
    """A point in the answer clients key on (`user_visible_token`, `last_token`, ...)."""

    name: str
    event: str
    message_id: str
    delay: float = 0.0


@dataclass(slots=True)
class Done:
    """The open message is complete: its final form and why it stopped.

    `message` is the full final message where the format sends one (the web);
    `finish` the reason (`stop`, `length`, `tool_calls`, `max_tokens`).
    Text the final form holds beyond the `Text` events sent arrives with it.
    """

    message: dict[str, Any] | None
    finish: str = "stop"
    index: int = 0
    delay: float = 0.0


@dataclass(slots=True)
class Title:
    """The conversation's title, generated during its first turn."""

    title: str
    delay: float = 0.0


@dataclass(slots=True)
class Limits:
    """Where the user stands against their quotas, and any banner to show."""

    limits: list[dict[str, Any]] | None
    banner: dict[str, Any] | None
    delay: float = 0.0


@dataclass(slots=True)
class Meta:
    """Server metadata of the turn, by kind; each format sends the kinds it knows.

    Kinds today: `resume_conversation_token`, `input_message`,
    `server_ste_metadata`, `message_stream_complete`, `conversation_async_status`,
    `moderation` (the verdict on a finished answer), `web_search_call` (a search's
    `status`: `in_progress`, `searching`, `completed`).
    """

    kind: str
    data: dict[str, Any]
    delay: float = 0.0


@dataclass(slots=True)
class Usage:
    """Token counts of the whole turn."""

    usage: dict[str, Any]
    delay: float = 0.0


TurnEvent = (
    str
    | Begin
    | Text
    | Update
    | Part
    | ToolCall
    | Arguments
    | Marker
    | Done
    | Title
    | Limits
    | Meta
    | Usage
)


class Pace:
    """The pause before each piece of a turn: time to first token, then tokens over the rate.

    Pieces are paced in the order they are asked for; the first one waits
    `ttft_ms` on top of its tokens. Draws of the jitter come from `rng` in that
    order, so a seeded turn is paced the same on every run.
    """

    __slots__ = ("_first", "_pacing", "_rng", "active")

    def __init__(self, pacing: Pacing | None, rng: random.Random) -> None:
        self._pacing = pacing if pacing is not None and _paced(pacing) else None
        self._rng = rng
        self._first = True
        #: Whether anything is paced at all (unpaced turns skip the arithmetic).
        self.active = self._pacing is not None

    def next(self, text: str) -> float:
        """The pause before a piece carrying `text` (empty for pieces with no text)."""
        pacing = self._pacing
        if pacing is None:
            return 0.0
        delay = 0.0
        if pacing.tokens_per_second:
            delay = max(1, len(text) // 4) / pacing.tokens_per_second
            if pacing.jitter:
                delay *= 1 + self._rng.uniform(-pacing.jitter, pacing.jitter)
        if self._first:
            self._first = False
            delay += pacing.ttft_ms / 1000
        return max(0.0, delay)


def _paced(pacing: Pacing) -> bool:
    return bool(pacing.tokens_per_second or pacing.ttft_ms)


__all__ = [
    "Arguments",
    "Begin",
    "Done",
    "Limits",
    "Marker",
    "Meta",
    "Pace",
    "Part",
    "Text",
    "Title",
    "ToolCall",
    "TurnEvent",
    "Update",
    "Usage",
]
