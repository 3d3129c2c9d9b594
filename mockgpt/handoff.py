"""Stream handoff: a turn's POST stream ends early and the turn goes on elsewhere.

The 2026 service answers long (Pro, some thinking) turns with a short SSE stub:
`delta_encoding`, the resume token, the `input_message` frame, then a
`stream_handoff` frame naming two ways to read the rest (`resume_sse_endpoint`:
`POST /backend-api/f/conversation/resume` from offset 0; `subscribe_ws_topic`:
the turn's topic on the celsius WebSocket), then `[DONE]`. The turn itself goes
on being made on the app clock, as for a client that left.

`TurnItems` is the turn seen as a WebSocket topic: each SSE event of the turn,
from `delta_encoding` to `[DONE]`, is one stream item with its offset.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.types import Receive, Scope, Send

from mockgpt.framing import EMPTY, Event, WireEvent
from mockgpt.wire.stream import STREAM_HEADERS, Steps

if TYPE_CHECKING:
    from mockgpt.conversation import Turn

#: The typed frames a handoff stub sends before `stream_handoff`.
STUB_FRAMES = frozenset({"resume_conversation_token", "input_message"})
TURN_TOPIC = "conversation-turn-"
LOW_TTL_TOPIC = "conv-turn-low-ttl-"


def topic_of(turn: Turn) -> str:
    """The WebSocket topic a turn's items go to: `conversation-turn-<turn_exchange_id>`."""
    return f"{TURN_TOPIC}{turn.exchange_id}"


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


class TurnItems:
    """A turn as WebSocket stream items: event `i` is item `i`, at offset `"<ms>-<i>"`.

    The offset's milliseconds are the app-clock moment the item was made (the
    turn's start plus the pauses before it), so offsets grow with the items.
    Once the turn is over its closing events (`[DONE]`, or the failure) follow.
    """

    def __init__(self, turn: Turn, ending: Callable[[], list[WireEvent]]) -> None:
        self.turn = turn
        self.ending = ending
        self.topic = topic_of(turn)
        self._ms = int(turn.started_at * 1000)
        self._stamped = -1
        self._tail: list[WireEvent] | None = None
        self._made = 0

    def available(self) -> int:
        """How many items exist now (all of them once the turn is over)."""
        turn = self.turn
        if turn.live:
            return turn.steps.sent
        if self._tail is None:
            # A whole turn has all its events (some may never have been read); a
            # failed one only those made before it failed.
            self._made = turn.steps.sent if turn.failed else len(turn.steps)
            self._tail = [event for event in self.ending() if event is not EMPTY]
        return self._made + len(self._tail)

    def over(self) -> bool:
        return not self.turn.live

    def _stamp(self, index: int) -> int:
        delays = self.turn.steps.delays
        while self._stamped < index:
            self._stamped += 1
            pause = delays.get(self._stamped)
            if pause:
                self._ms += int(pause * 1000)
        return self._ms

    def offset(self, index: int) -> str:
        return f"{self._stamp(index)}-{index}"

    def item_id(self, index: int) -> str | None:
        if index < 0:
            return None
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.topic}/{index}"))

    def encoded(self, index: int) -> str:
        steps = self.turn.steps
        tail = self._tail
        made = steps.sent if tail is None else self._made
        event = steps.events[index] if index < made or tail is None else tail[index - made]
        return steps.framing.encode(event).decode("utf-8")

    def message(self, index: int) -> dict[str, Any]:
        """Item `index` in its topic envelope."""
        stamp = self._stamp(index)
        turn = self.turn
        return {
            "type": "message",
            "topic_id": self.topic,
            "payload": {
                "type": "conversation-turn-stream",
                "payload": {
                    "type": "stream-item",
                    "conversation_id": turn.conversation_id,
                    "turn_id": turn.exchange_id,
                    "encoded_item": self.encoded(index),
                    "stream_item_id": self.item_id(index),
                    "parent_stream_item_id": self.item_id(index - 1),
                    "server_timestamp_ms": stamp,
                },
            },
            "offset": f"{stamp}-{index}",
        }

    def done(self, index: int) -> dict[str, Any]:
        """The `done` that follows the last item (`index` is the item count)."""
        turn = self.turn
        return {
            "type": "message",
            "topic_id": self.topic,
            "offset": self.offset(index),
            "payload": {
                "type": "conversation-turn-stream",
                "payload": {
                    "conversation_id": turn.conversation_id,
                    "turn_id": turn.exchange_id,
                    "type": "done",
                },
            },
        }

    def heartbeat(self, now_ms: int, last: int) -> dict[str, Any]:
        turn = self.turn
        return {
            "type": "message",
            "topic_id": self.topic,
            "payload": {
                "type": "conversation-turn-stream",
                "payload": {
                    "type": "heartbeat",
                    "turn_id": turn.exchange_id,
                    "conversation_id": turn.conversation_id,
                    "server_timestamp_ms": now_ms,
                },
            },
            "offset": self.offset(max(last, 0)),
        }


def offset_index(offset: object) -> int:
    """The index of the last item a subscriber holds, from its `offset` (-1: none).

    `"0"`, a missing or unreadable offset mean "from the start"; `"<ms>-<i>"`
    names item `i`.
    """
    if not isinstance(offset, str):
        return -1
    _, dash, seq = offset.partition("-")
    if not dash or not seq.isdigit() or len(seq) > 9:
        return -1
    return int(seq)


__all__ = [
    "HandoffStream",
    "TurnItems",
    "handoff_frame",
    "handoff_headers",
    "offset_index",
    "stub_length",
    "topic_of",
]
