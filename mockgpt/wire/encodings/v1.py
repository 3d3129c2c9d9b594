"""Delta encoding `v1` of the web backend: a patch stream over one tree per message.

The stream opens with `delta_encoding`; each message is `add`ed on its own
channel, its text grows by `append` ops (after the first, bare `{"v": text}`
deltas by carry-forward), and its end is one `patch`. Everything else is a
typed frame `{"type": ..., "conversation_id": ...}`, listed in `TYPED` with
its keys in the order the server writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from json.encoder import encode_basestring_ascii
from typing import Any, ClassVar

from mockgpt.delta import DeltaEncoder
from mockgpt.framing import Event, WireEvent
from mockgpt.wire.encodings.base import Encoding, Rule, register, typed_frame
from mockgpt.wire.encodings.web import envelope, error_envelope, text_path
from mockgpt.wire.turn import Begin, Done, Limits, Marker, Meta, Text, Title, Update

#: The typed frames of a v1 stream: their `type`, then their keys in order.
TYPED: Mapping[str, tuple[str, ...]] = {
    "resume_conversation_token": ("kind", "token", "conversation_id"),
    "input_message": ("input_message", "conversation_id"),
    "message_marker": ("conversation_id", "message_id", "marker", "event"),
    "server_ste_metadata": ("metadata", "conversation_id"),
    "message_stream_complete": ("conversation_id",),
    "title_generation": ("title", "conversation_id"),
    "conversation_detail_metadata": (
        "banner_info",
        "blocked_features",
        "model_limits",
        "limits_progress",
        "default_model_slug",
        "conversation_id",
    ),
    "conversation_async_status": (
        "conversation_id",
        "message_id",
        "async_status",
        "update_time",
    ),
    "moderation": ("moderation_response", "conversation_id"),
}


@register
class DeltaV1(Encoding):
    """The `v1` patch stream, for requests with `"supported_encodings": ["v1"]`."""

    name = "v1"
    malformed = '{"message": {"id": "'

    def __init__(self, *, conversation_id: str, message_id: str = "") -> None:
        self.conversation_id = conversation_id
        self.message_id = message_id
        self._encoder = DeltaEncoder()
        self._path = ""
        self._run: list[str] | None = None  # texts sent as bare `{"v": text}` deltas

    def opening(self) -> list[WireEvent]:
        return [Event(name, data) for name, data in self._encoder.start()]

    def _typed(self, kind: str, values: Mapping[str, Any]) -> Event:
        return Event(
            None,
            typed_frame(kind, TYPED[kind], {**values, "conversation_id": self.conversation_id}),
        )

    def _end_run(self) -> None:
        """Tell the delta encoder of the bare deltas sent since the last op it wrote."""
        if self._run:
            self._encoder.extend(self._path, self._run)
        self._run = None

    def _envelope(self, message: dict[str, Any]) -> dict[str, Any]:
        """The 2026 `v1` envelope: `error_code` beside `error` (legacy keeps the 2024 one)."""
        return {**envelope(message, self.conversation_id), "error_code": None}

    def _begin(self, event: Begin) -> list[WireEvent]:
        self._end_run()
        if not event.echo:
            self._path = text_path(event.message)
        events = self._encoder.add(self._envelope(event.message))
        return [Event(name, data) for name, data in events]

    def _grow(self, event: Text | str) -> list[WireEvent]:
        text = event if isinstance(event, str) else event.text
        run = self._run
        if run is not None:
            # The bulk of every turn: serialised directly, with no dict in between.
            run.append(text)
            return [("delta", '{"v": ' + encode_basestring_ascii(text) + "}")]
        self._run = []
        return [Event(name, data) for name, data in self._encoder.append(self._path, text)]

    def _done(self, event: Done) -> list[WireEvent]:
        self._end_run()
        if event.message is None:
            return []
        events = self._encoder.update(self._envelope(event.message), batch=True)
        return [Event(name, data) for name, data in events]

    def _update(self, event: Update) -> list[WireEvent]:
        self._end_run()
        events = self._encoder.update(self._envelope(event.message))
        return [Event(name, data) for name, data in events]

    def _marker(self, event: Marker) -> list[WireEvent]:
        values = {"message_id": event.message_id, "marker": event.name, "event": event.event}
        return [self._typed("message_marker", values)]

    def _title(self, event: Title) -> list[WireEvent]:
        return [self._typed("title_generation", {"title": event.title})]

    def _limits(self, event: Limits) -> list[WireEvent]:
        values = {
            "banner_info": event.banner,
            "blocked_features": [],
            "model_limits": [],
            "limits_progress": event.limits,
            "default_model_slug": "auto",
        }
        return [self._typed("conversation_detail_metadata", values)]

    def _meta(self, event: Meta) -> list[WireEvent]:
        if event.kind == "moderation":
            return [self._moderation(event.data.get("blocked", False))]
        if event.kind not in TYPED:
            return []
        return [self._typed(event.kind, event.data)]

    def _moderation(self, blocked: bool) -> Event:
        return self._typed("moderation", {"moderation_response": {"blocked": blocked}})

    frames: ClassVar[Mapping[type, Rule]] = {
        Begin: _begin,
        Text: _grow,
        str: _grow,
        Done: _done,
        Update: _update,
        Marker: _marker,
        Title: _title,
        Limits: _limits,
        Meta: _meta,
    }

    def error(self, message: str | None) -> Event:
        return Event(
            None, {**error_envelope(self.conversation_id, message), "error_code": "stream_error"}
        )

    def blocked(self) -> Event:
        return self._moderation(True)
