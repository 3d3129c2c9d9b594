"""The registry of wire encodings: how each format says the events of a turn.

An encoding turns turn events (`mockgpt.wire.turn`) into SSE events
(`mockgpt.framing.Event`). Its `frames` table maps each kind of turn event to
the function that writes it; a kind missing from the table is not sent by that
format. Faults that a format can say in its own words (a mid-stream error, a
moderation refusal) are the `error` and `blocked` events; the stream
(`mockgpt.wire.stream`) applies pacing, realism and faults alike to all.

To add an encoding, add one module to this package:

    from mockgpt.wire.encodings.base import Encoding, register
    from mockgpt.wire.turn import Begin, Done, Text

    @register
    class Responses(Encoding):
        name = "responses"
        malformed = '{"type": "response.output_text.delta", "delta": "'

        def __init__(self, *, response_id: str) -> None: ...

        def _text(self, event: Text) -> list[Event]:
            return [Event("response.output_text.delta", {...})]

        frames = {Begin: _begin, Text: _text, Done: _done}

Every module here is imported when the package is, so `@register` is all the
wiring there is; `encoding("responses", response_id=...)` then builds one.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from mockgpt.wire.encodings.base import ENCODINGS, Encoding, register


def encoding(name: str, **context: Any) -> Encoding:
    """A new encoder of the format `name` for one stream; `context` is what it needs to know."""
    try:
        kind = ENCODINGS[name]
    except KeyError:
        known = ", ".join(sorted(ENCODINGS))
        raise ValueError(f"unknown encoding {name!r} (known: {known})") from None
    return kind(**context)


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["ENCODINGS", "Encoding", "encoding", "register"]
