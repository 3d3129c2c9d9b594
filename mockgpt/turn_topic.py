"""A web turn seen as a WebSocket topic: its name and its stream items.

`TurnItems` is the turn as the celsius WebSocket sends it: each SSE event of the
turn, from `delta_encoding` to `[DONE]`, is one stream item with its offset. It
reads a turn's events and framing but never makes them, so the WebSocket hub
loads without the stream engine (`mockgpt.wire`), which a GET does not need.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mockgpt.framing import EMPTY, WireEvent

if TYPE_CHECKING:
    from mockgpt.web_turn import Turn

TURN_TOPIC = "conversation-turn-"
LOW_TTL_TOPIC = "conv-turn-low-ttl-"


def topic_of(turn: Turn) -> str:
    """The WebSocket topic a turn's items go to: `conversation-turn-<turn_exchange_id>`."""
    return f"{TURN_TOPIC}{turn.exchange_id}"


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
            "payload": {
                "type": "conversation-turn-stream",
                "payload": {
                    "conversation_id": turn.conversation_id,
                    "turn_id": turn.exchange_id,
                    "type": "done",
                },
            },
            "offset": self.offset(index),
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


__all__ = ["LOW_TTL_TOPIC", "TURN_TOPIC", "TurnItems", "offset_index", "topic_of"]
