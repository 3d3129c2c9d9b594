"""OpenAI chat completion chunks: `chat.completion.chunk` objects, one per `data:` line.

Each choice opens with a chunk naming the role (or its tool call), then one
chunk per piece of text or of the call's arguments, then a chunk with its
`finish_reason`; with `include_usage` a last chunk carries the usage and every
chunk before it `"usage": null`. Errors and moderation refusals mid-stream are
the platform's error object, which the SDKs raise on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from mockgpt.errors import openai_error
from mockgpt.framing import Event, WireEvent
from mockgpt.wire.encodings.base import Encoding, Rule, register
from mockgpt.wire.turn import Arguments, Begin, Done, Text, ToolCall, Usage

ERROR_TEXT = "The server had an error while processing your request. Sorry about that!"
BLOCKED_TEXT = "This content was flagged as possibly violating our usage policies."


@register
class Chunks(Encoding):
    """The `/v1/chat/completions` stream."""

    name = "chunks"
    malformed = '{"id": "chatcmpl-'

    def __init__(self, *, base: dict[str, Any], include_usage: bool = False) -> None:
        #: The keys every chunk starts with (id, object, created, model, ...).
        self.base = base
        self.include_usage = include_usage

    def _chunk(self, index: int, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        frame = {
            **self.base,
            "choices": [
                {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }
        if self.include_usage:
            frame["usage"] = None
        return frame

    def _begin(self, event: Begin) -> list[WireEvent]:
        if event.message.get("content") is None:
            return []  # a tool call follows, and its first chunk names the role
        delta = {"role": event.message.get("role", "assistant"), "content": "", "refusal": None}
        return [Event(None, self._chunk(event.index, delta, None))]

    def _grow(self, event: Text) -> list[WireEvent]:
        frame = self._chunk(event.index, {"content": event.text}, None)
        if event.logprobs is not None:
            frame["choices"][0]["logprobs"] = event.logprobs
        return [Event(None, frame)]

    def _call(self, event: ToolCall) -> list[WireEvent]:
        call = {
            "index": 0,
            "id": event.call_id,
            "type": "function",
            "function": {"name": event.name, "arguments": ""},
        }
        delta = {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None}
        return [Event(None, self._chunk(event.index, delta, None))]

    def _arguments(self, event: Arguments) -> list[WireEvent]:
        delta = {"tool_calls": [{"index": 0, "function": {"arguments": event.text}}]}
        return [Event(None, self._chunk(event.index, delta, None))]

    def _done(self, event: Done) -> list[WireEvent]:
        return [Event(None, self._chunk(event.index, {}, event.finish))]

    def _usage(self, event: Usage) -> list[WireEvent]:
        if not self.include_usage:
            return []
        return [Event(None, {**self.base, "choices": [], "usage": event.usage})]

    frames: ClassVar[Mapping[type, Rule]] = {
        Begin: _begin,
        Text: _grow,
        ToolCall: _call,
        Arguments: _arguments,
        Done: _done,
        Usage: _usage,
    }

    def error(self, message: str | None) -> Event:
        return Event(None, openai_error(message or ERROR_TEXT, type_="server_error"))

    def blocked(self) -> Event:
        body = openai_error(BLOCKED_TEXT, code="content_policy_violation")
        return Event(None, body)
