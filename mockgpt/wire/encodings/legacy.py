"""The legacy web encoding: every event is a full snapshot of the message.

The answer is not sent when it begins, only once it has text; each snapshot
after that carries all of the text so far. Markers, titles, limits and the
typed frames of `v1` have no place in this format; the moderation verdict
does, in its 2023 shape.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from json.encoder import encode_basestring_ascii
from typing import Any, ClassVar

from mockgpt.framing import Event, WireEvent
from mockgpt.jsonfmt import dumps
from mockgpt.message_text import set_text
from mockgpt.wire.encodings.base import Encoding, Rule, register
from mockgpt.wire.encodings.web import envelope, error_envelope
from mockgpt.wire.turn import Begin, Done, Meta, Text, Update

_TEXT_MARK = "\u2063mockgpt-text\u2063"


@register
class Legacy(Encoding):
    """Full snapshots, as the web backend sends them without `supported_encodings`."""

    name = "legacy"
    malformed = '{"message": {"id": "'
    pad_block = 32
    empty_before_done = True

    def __init__(self, *, conversation_id: str, message_id: str = "") -> None:
        self.conversation_id = conversation_id
        self.message_id = message_id
        self._text = ""
        self._around = ("", "")

    def _begin(self, event: Begin) -> list[WireEvent]:
        content = event.message["content"]
        if event.echo or ("parts" not in content and "text" not in content):
            # Whole at once, or content with no text to grow (a reasoning message).
            return [Event(None, envelope(event.message, self.conversation_id))]
        # Every snapshot is the same JSON but for the text: serialise it once around a
        # marker and splice each prefix of the answer in, instead of re-encoding it all.
        probe = copy.deepcopy(event.message)
        set_text(probe, _TEXT_MARK)
        before, after = dumps(envelope(probe, self.conversation_id)).split(dumps(_TEXT_MARK), 1)
        self._around, self._text = (before, after), ""
        return []

    def _grow(self, event: Text | str) -> list[WireEvent]:
        text = event if isinstance(event, str) else event.text
        self._text += text
        before, after = self._around
        return [(None, before + encode_basestring_ascii(self._text) + after)]

    def _done(self, event: Done) -> list[WireEvent]:
        if event.message is None:
            return []
        return [Event(None, envelope(event.message, self.conversation_id))]

    def _update(self, event: Update) -> list[WireEvent]:
        return [Event(None, envelope(event.message, self.conversation_id))]

    def _meta(self, event: Meta) -> list[WireEvent]:
        if event.kind != "moderation":
            return []
        return [Event(None, self._moderation(event.data.get("blocked", False)))]

    def _moderation(self, blocked: bool) -> dict[str, Any]:
        message_id = self.message_id
        return {
            "conversation_id": self.conversation_id,
            "message_id": message_id,
            "is_completion": True,
            "moderation_response": {
                "flagged": blocked,
                "blocked": blocked,
                "moderation_id": f"modr-{uuid.UUID(message_id).hex[:24]}",
            },
        }

    frames: ClassVar[Mapping[type, Rule]] = {
        Begin: _begin,
        Text: _grow,
        str: _grow,
        Done: _done,
        Update: _update,
        Meta: _meta,
    }

    def error(self, message: str | None) -> Event:
        return Event(None, error_envelope(self.conversation_id, message))

    def blocked(self) -> Event:
        return Event(None, self._moderation(True))
