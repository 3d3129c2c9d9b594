"""A stopgap writer for Responses streams: events to bytes, paced, faults as scripted.

Kept apart on purpose: once the stream engine's writer takes encodings from
its registry, the Responses encoding moves there and this module goes away.
Faults mirror the chat stream's: `close_after` drops the connection after
`after` events, `no_done` ends the body cleanly there, `stall` goes silent for
`seconds`, `malformed_frame` sends a frame whose JSON does not parse,
`error_envelope` and `moderation_block` send the platform's nested `error`
event (then `response.failed`) and end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mockgpt.clock import Clock
from mockgpt.framing import Event, Framing
from mockgpt.scripts import Fault

STREAM_MEDIA = "text/event-stream; charset=utf-8"
MODERATION = "This content may violate our usage policies."
#: The events that should be sent when a stream fails at sequence number N.
Failure = Callable[[int, str | None], list[tuple[str, dict[str, Any]]]]


class ResponseStream:
    """An ASGI answer that writes `(event type, payload)` pairs as SSE."""

    def __init__(
        self,
        events: list[tuple[str, dict[str, Any]]],
        delays: list[float],
        clock: Clock,
        fault: Fault | None,
        headers: list[tuple[str, str]],
        failure: Failure,
    ) -> None:
        framing = Framing()
        self.lines = [framing.encode(Event(kind, payload)) for kind, payload in events]
        self.delays = delays
        self.clock = clock
        self.fault = fault
        self.failure = failure
        self.headers = [(b"content-type", STREAM_MEDIA.encode())] + [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in headers
        ]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        fault = self.fault
        strike = fault.after if fault is not None else len(self.lines) + 1
        for index, line in enumerate(self.lines):
            if index == strike and fault is not None:
                if fault.kind != "stall":
                    await self._strike(fault, index, send)
                    return
                await self.clock.sleep(fault.seconds)
            if index < len(self.delays) and self.delays[index] > 0:
                await self.clock.sleep(self.delays[index])
            await send({"type": "http.response.body", "body": line, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _strike(self, fault: Fault, index: int, send: Any) -> None:
        if fault.kind == "close_after":
            return  # unfinished: the server drops the connection
        tail = b""
        if fault.kind == "malformed_frame":
            tail = b'event: response.output_text.delta\ndata: {"type": "response.\n\n'
        elif fault.kind in ("error_envelope", "moderation_block"):
            message = fault.message
            if fault.kind == "moderation_block":
                message = MODERATION
            framing = Framing()
            tail = b"".join(
                framing.encode(Event(kind, payload))
                for kind, payload in self.failure(index, message)
            )
        await send({"type": "http.response.body", "body": tail})
