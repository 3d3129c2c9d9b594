"""Stream handoff: a turn's POST stream ends early and the turn goes on elsewhere.

The 2026 service answers long (Pro, some thinking) turns with a short SSE stub:
`delta_encoding`, the resume token, the `input_message` frame, then a
`stream_handoff` frame naming two ways to read the rest (`resume_sse_endpoint`:
`POST /backend-api/f/conversation/resume` from offset 0; `subscribe_ws_topic`:
the turn's topic on the celsius WebSocket), then `[DONE]`. The turn itself goes
on being made on the app clock, as for a client that left.

The turn seen as a WebSocket topic (`TurnItems`) lives in `mockgpt.turn_topic`,
which the WebSocket hub reads without loading the stream engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.types import Receive, Scope, Send

from mockgpt.framing import Event
from mockgpt.turn_topic import TurnItems, offset_index, topic_of
from mockgpt.wire.stream import STREAM_HEADERS, Steps

if TYPE_CHECKING:
    from mockgpt.web_turn import Turn

#: The typed frames a handoff stub sends before `stream_handoff`.
STUB_FRAMES = frozenset({"resume_conversation_token", "input_message"})


def handoff_frame(turn: Turn) -> Event:
    """The `stream_handoff` frame, its two options in the order the service sends them."""
    topic = topic_of(turn)
    return Event(
        None,
        {
            "type": "stream_handoff",
            "conversation_id": turn.conversation_id,
            "turn_exchange_id": turn.exchange_id,
            "options": [
                {"type": "resume_sse_endpoint", "topic_id": topic},
                {"type": "subscribe_ws_topic", "topic_id": topic},
            ],
        },
    )


def stub_length(steps: Steps) -> int:
    """How many of the turn's first events the stub sends: the opening, then the
    leading token and `input_message` frames."""
    index = steps.opening
    while True:
        try:
            event = steps[index].event
        except IndexError:
            return index
        data = event.data if isinstance(event, Event) else None
        if not (isinstance(data, dict) and data.get("type") in STUB_FRAMES):
            return index
        index += 1


class HandoffStream:
    """The ASGI response of a handed-off turn: the stub, `stream_handoff`, `[DONE]`.

    Its end (`on_leave`, with how many events the stub sent) starts the rest of
    the turn on the app clock, whether or not the client read the whole stub.
    """

    def __init__(
        self,
        turn: Turn,
        *,
        headers: list[tuple[bytes, bytes]],
        on_leave: Callable[[Turn, int], None],
    ) -> None:
        self.turn = turn
        self.headers = headers
        self.on_leave = on_leave

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        steps = self.turn.steps
        cut = stub_length(steps)
        encode = steps.framing.encode
        stub = [steps[index].event for index in range(cut)]
        closing = steps.encoding.closing(padded=steps.framing.padding)
        body = b"".join(encode(event) for event in [*stub, handoff_frame(self.turn), *closing])
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.headers})
            await send({"type": "http.response.body", "body": body})
        except OSError:
            pass  # the client left: the turn goes on all the same
        finally:
            if cut > steps.sent:
                steps.sent = cut
            steps.wake()
            self.on_leave(self.turn, cut)


def handoff_headers(token: str) -> list[tuple[bytes, bytes]]:
    return [*STREAM_HEADERS, (b"x-conduit-token", token.encode())]


__all__ = [
    "HandoffStream",
    "TurnItems",
    "handoff_frame",
    "handoff_headers",
    "offset_index",
    "stub_length",
    "topic_of",
]
