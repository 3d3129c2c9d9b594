"""A web turn as it is streamed: its events, where it stands, and its responses.

`TurnPlanner` (`mockgpt.conversation`) makes a `Turn`; the conversation service
keeps it and answers with what it offers here: the stream of a turn, the
follower of a live one, its making with no client reading, and its close when
stopped. The service reaches all of that through a turn it holds, so loading
the service (which every conversation GET does) does not load the stream engine.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

from mockgpt.clock import Clock
from mockgpt.framing import Event, WireEvent
from mockgpt.scripts import Fault
from mockgpt.wire.encodings.web import envelope
from mockgpt.wire.stream import STREAM_HEADERS, EventStream, Follower, Steps, produce


@dataclass(slots=True)
class Turn:
    """A web turn: its wire events (made as they are streamed) and what the store needs."""

    conversation_id: str
    assistant_id: str
    model_slug: str
    started_at: float
    steps: Steps
    final: dict[str, Any]
    encoding: str
    title: str | None = None
    text: str = ""
    #: Whether the store holds the final answer already.
    final_stored: bool = False
    fault: Fault | None = None
    pings: int = 0
    live: bool = True
    #: Whether a scripted failure cut the turn short (`stream_status` says FAILURE).
    failed: bool = False
    #: The turn's `turn_exchange_id`: its WebSocket topic is `conversation-turn-<this>`.
    exchange_id: str = ""
    #: Whether the POST's stream hands the turn off (`stream_handoff`) after its opening.
    handoff: bool = False
    #: The title the store took from this turn (see `given_title`), for the WebSocket's
    #: `title-update` when the turn ends.
    new_title: str | None = None

    @property
    def sent(self) -> int:
        """How many of the turn's events have been delivered at least once."""
        return self.steps.sent

    def given_title(self) -> str | None:
        """The title this turn has given its conversation so far, None if none (yet).

        Only a first turn with its `title_generation` frame on makes one, and it
        counts as given once the turn is past it: on `v1` once that frame is
        delivered, on `legacy` (no such frame) once what comes before it is. A
        turn that fails or is stopped before that point gives none. The stream,
        the store and the WebSocket all follow this one answer.
        """
        steps = self.steps
        # A turn that ended whole has all its events, whether or not anyone read them.
        delivered = steps.sent if self.live or self.failed else len(steps)
        end = steps.title_end
        return self.title if 0 <= end <= delivered else None

    def stream(
        self,
        clock: Clock,
        *,
        start: int = 0,
        on_end: Callable[[Turn, bool], None] | None = None,
        on_leave: Callable[[Turn, int], None] | None = None,
        token: str | None = None,
    ) -> EventStream:
        """The response that sends this turn from `start`.

        The scripted fault strikes on the first delivery only: a resume (a later
        `start`) gets the rest of the turn intact, after the opening events again.
        A `token` goes out as the stream's `x-conduit-token` header.
        """
        return EventStream(
            self.steps,
            clock,
            start=start,
            fault=self.fault if start == 0 else None,
            pings=self.pings,
            replay=start > 0,
            headers=None if token is None else conduit_headers(token),
            on_end=None if on_end is None else partial(on_end, self),
            on_leave=None if on_leave is None else partial(on_leave, self),
        )

    def produce(self, clock: Clock, sent: int) -> Coroutine[Any, Any, bool]:
        """Make the rest of the turn from event `sent` at its pace, with nobody reading."""
        return produce(self.steps, clock, sent, self.fault)

    def follow(self, start: int, ending: Callable[[], list[WireEvent]]) -> Follower:
        """The response that reads this turn, still being made, from event `start`."""
        return Follower(
            self.steps,
            start=start,
            live=lambda: self.live,
            ending=ending,
            replay=start > 0,
        )

    def stop_events(self, message: dict[str, Any] | None) -> list[Event]:
        """How the stream ends when the stop button cuts the answer short, in the
        turn's encoding: the interrupted answer (`message`, once it has begun),
        then `message_stream_complete` (`v1` only)."""
        cid = self.conversation_id
        if message is None:
            return [_stream_complete(cid)] if self.encoding == "v1" else []
        if self.encoding != "v1":
            return [Event(None, envelope(copy.deepcopy(message), cid))]
        ops = [
            {"p": "/message/status", "o": "replace", "v": "finished_partial_completion"},
            {
                "p": "/message/metadata",
                "o": "append",
                "v": {"finish_details": {"type": "interrupted"}, "is_complete": True},
            },
        ]
        return [Event("delta", {"p": "", "o": "patch", "v": ops}), _stream_complete(cid)]


def conduit_headers(token: str) -> list[tuple[bytes, bytes]]:
    """A turn stream's headers, with its resume token as `x-conduit-token`."""
    return [*STREAM_HEADERS, (b"x-conduit-token", token.encode())]


def _stream_complete(conversation_id: str) -> Event:
    return Event(None, {"type": "message_stream_complete", "conversation_id": conversation_id})


__all__ = ["Turn", "conduit_headers"]
