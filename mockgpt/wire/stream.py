"""One event stream for every encoding: paced on the clock, realism and faults applied.

`Steps` turns a turn's events into wire events as the stream asks for them,
and keeps them, so a resume is a slice of the same list and `after` in a fault
counts the same events on every encoding. `EventStream` is the ASGI response
that sends them: it waits out each pause on the app's clock, adds the byte
realism (padding, pings, CRLF, through `mockgpt.framing`), strikes the
scripted fault, and stops at once when its client goes away, leaving no task
or timer behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from mockgpt.clock import Clock
from mockgpt.framing import Framing, WireEvent
from mockgpt.scripts import Fault, Realism
from mockgpt.wire.encodings import Encoding
from mockgpt.wire.turn import Begin, Done, Text, Title


@dataclass(slots=True)
class Step:
    """One counted wire event, the pause before it, and how much of the answer it has sent.

    `text_end` is the length of the answer's text once this event is out (None for
    events that do not grow it); `final` marks the event that completes the answer.
    A store follows these marks instead of keeping a copy of the message per step.
    """

    event: WireEvent
    delay: float = 0.0
    text_end: int | None = None
    final: bool = False


#: How many turn events `Steps` turns into wire events at a time (ahead of the stream).
BATCH = 32


class Steps:
    """The wire events of one stream, made from its turn on demand and kept for replays.

    The events are kept in a flat list with the pauses and the answer's marks
    beside them (most events have neither), which keeps the hot path of a long
    answer to one object per event.
    """

    def __init__(self, encoding: Encoding, turn: Iterator[Any], framing: Framing) -> None:
        self.encoding = encoding
        self.framing = framing
        self.events: list[WireEvent] = encoding.opening()
        #: The pause before each event that has one, by index.
        self.delays: dict[int, float] = {}
        #: The answer's text length once each event that grows it is out, by index.
        self.ends: dict[int, int] = {}
        #: The index of the event that completes the answer (-1: none yet).
        self.final = -1
        #: How many events must be delivered for the turn's title to count as given (its
        #: `title_generation` frame and all before it; -1: no title made, or it was cut).
        self.title_end = -1
        #: How many opening events a resume repeats before its slice.
        self.opening = len(self.events)
        #: How many steps have been delivered at least once.
        self.sent = 0
        self._turn: Iterator[Any] | None = turn
        self._carry = 0.0  # the pauses of turn events this format does not send
        self._end = 0  # the length of the open message's text so far
        #: Set while a reader waits for more steps; fired when `sent` grows or the turn ends.
        self.waiting: asyncio.Event | None = None

    def changed(self) -> asyncio.Event:
        """An event that fires the next time `sent` grows or the turn ends (see `wake`)."""
        if self.waiting is None:
            self.waiting = asyncio.Event()
        return self.waiting

    def wake(self) -> None:
        """Tell the readers waiting on `changed` that something happened."""
        waiting = self.waiting
        if waiting is not None:
            self.waiting = None
            waiting.set()

    def more(self) -> bool:
        """Make the wire events of the turn's next few events; False once the turn is over."""
        turn = self._turn
        if turn is None:
            return False
        encoding = self.encoding
        frames = encoding.frames
        events, delays, ends = self.events, self.delays, self.ends
        before = len(events)
        taken = 0
        carry, end = self._carry, self._end
        for event in turn:
            kind = type(event)
            if kind is str:
                rule = frames.get(str)
                if rule is None:
                    event, kind = Text(event), Text
                    rule = frames.get(Text)
                delay = carry
            else:
                rule = frames.get(kind)
                delay = carry + event.delay
            made = rule(encoding, event) if rule is not None else None
            if not made:
                if kind is Title:
                    # A format without a title frame: given once what came before it is out.
                    self.title_end = len(events)
                carry = delay
                continue
            carry = 0.0
            index = len(events)
            if delay:
                delays[index] = delay
            if kind is str:
                end += len(event)
                ends[index] = end
            elif kind is Text:
                end += len(event.text)
                ends[index] = end
            elif kind is Begin and not event.echo:
                end = ends[index] = 0
            elif kind is Done:
                self.final = index
            elif kind is Title:
                self.title_end = index + len(made)
            if len(made) == 1:
                events.append(made[0])
            else:
                events.extend(made)
            taken += 1
            if taken == BATCH:
                self._carry, self._end = carry, end
                return True
        self._carry, self._end = carry, end
        self._turn = None
        return len(events) > before

    def cut(self, tail: list[WireEvent]) -> None:
        """End the turn after the steps sent so far, with `tail` (a stopped turn).

        What was made ahead and not yet sent is dropped; the tail counts as sent
        at once, so every reader of the turn gets it.
        """
        at = self.sent
        del self.events[at:]
        for marks in (self.delays, self.ends):
            for index in [index for index in marks if index >= at]:
                del marks[index]
        if self.final >= at:
            self.final = -1
        if self.title_end > at:
            self.title_end = -1
        self._turn = None
        self.events.extend(tail)
        self.sent = len(self.events)
        self.wake()

    def __iter__(self) -> Iterator[Step]:
        index = 0
        while index < len(self.events) or self.more():
            yield self[index]
            index += 1

    def __len__(self) -> int:
        """How many steps the whole turn has (makes the rest of them)."""
        while self.more():
            pass
        return len(self.events)

    def __getitem__(self, index: int) -> Step:
        while index >= len(self.events) and self.more():
            pass
        event = self.events[index]
        return Step(event, self.delays.get(index, 0.0), self.ends.get(index), index == self.final)

    def progress(self) -> int | None:
        """The answer's text length in the events delivered so far (None: none of it yet)."""
        ends = self.ends
        for index in range(self.sent - 1, -1, -1):
            end = ends.get(index)
            if end is not None:
                return end
        return None


STREAM_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
]


def framing_for(encoding: Encoding, realism: Realism | None) -> Framing:
    """How `encoding`'s events become bytes under a script's realism."""
    return Framing(
        crlf=bool(realism and realism.crlf),
        padding=bool(realism and realism.padding),
        pad_block=encoding.pad_block,
    )


#: The most bytes one write carries when several events are ready at once.
COALESCE = 32 * 1024
#: How many writes at the start of a stream carry one event each (see `Writer`).
SINGLE_WRITES = 16


class Writer:
    """The body of one stream as it goes out: events ready together leave in one write.

    Each `send` costs the server a write of its own, whatever its size. SSE
    framing does not depend on how the bytes fall into writes, so events with
    no pause between them are held (`add`) and written together once the
    stream must wait (a pause, a fault, the end) or `COALESCE` bytes are
    held. The first `SINGLE_WRITES` writes carry one event each, as before,
    so the time to the first byte stays one event's: on granian, which served
    all of mockgpt's HTTP then and still serves its HTTP/2, a batch made right
    after the first event held the head and first event back by milliseconds
    (measured: 4 ms with 2 single writes, 1.9 ms with 8 to 32, against 2.4 ms
    for one write per event).
    """

    __slots__ = ("left", "parts", "send", "size", "writes")

    def __init__(self, send: Send, left: asyncio.Future[None]) -> None:
        self.send = send
        #: Done once the client has gone away (the watch on `receive`).
        self.left = left
        self.parts: list[bytes] = []
        self.size = 0
        self.writes = 0

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    def add(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)

    def full(self) -> bool:
        """Whether what is held should go out now."""
        return self.size >= COALESCE or self.writes < SINGLE_WRITES

    async def flush(self) -> bool:
        """Write what is held; False when the client has left (the stream must end)."""
        parts = self.parts
        if parts:
            body = parts[0] if len(parts) == 1 else b"".join(parts)
            self.parts = []
            self.size = 0
            self.writes += 1
            await self.send({"type": "http.response.body", "body": body, "more_body": True})
        return not self.left.done()

    async def close(self, tail: bytes) -> None:
        """The last write: what is held, then `tail`, ending the body."""
        body = b"".join([*self.parts, tail])
        self.parts = []
        self.size = 0
        await self.send({"type": "http.response.body", "body": body})


class _Body:
    """What both stream responses share: the watch for the client leaving, the start of
    the answer, the opening events a resume repeats, and how the writer's end is told.

    `_write` sends the body and says whether it was whole; `_finish` hears of it.
    """

    steps: Steps
    start: int
    replay: bool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watch() -> None:
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    return

        # The one helper task of a stream: every wait of the writer also ends when it does.
        watcher = asyncio.ensure_future(watch())
        completed = False
        try:
            completed = await self._write(Writer(send, watcher))
        except OSError:
            completed = False
        finally:
            watcher.cancel()
            self._finish(completed)

    async def _write(self, writer: Writer) -> bool:
        raise NotImplementedError

    def _finish(self, completed: bool) -> None:
        """Hear how the body ended (whole or not)."""

    def _replay(self, writer: Writer) -> None:
        """A resume from the middle first repeats the opening events."""
        if self.replay and self.start > 0:
            steps = self.steps
            encode = steps.framing.encode
            for index in range(min(steps.opening, self.start)):
                writer.add(encode(steps.events[index]))


class EventStream(_Body):
    """The ASGI response that sends `steps` from `start`, paced on the clock.

    A scripted fault strikes before step `fault.after`, or at the end when the
    stream has fewer steps. `replay` first repeats the opening events (a resume
    from the middle). `on_end` hears of the end and whether the stream was whole;
    how far it got is `steps.sent`. With `on_leave`, a stream whose client went
    away (or whose connection a scripted fault dropped) calls it with the number
    of steps sent instead of `on_end`: the caller goes on making the turn.
    """

    def __init__(
        self,
        steps: Steps,
        clock: Clock,
        *,
        start: int = 0,
        fault: Fault | None = None,
        pings: int = 0,
        replay: bool = False,
        status: int = 200,
        headers: list[tuple[bytes, bytes]] | None = None,
        on_end: Callable[[bool], None] | None = None,
        on_leave: Callable[[int], None] | None = None,
    ) -> None:
        self.steps = steps
        self.clock = clock
        self.start = start
        self.fault = fault
        self.pings = pings
        self.replay = replay
        self.status = status
        self.headers = STREAM_HEADERS if headers is None else headers
        self.on_end = on_end
        self.on_leave = on_leave
        #: Whether a scripted failure (not a dropped connection) ended the stream.
        self.broken = False

    def _finish(self, completed: bool) -> None:
        if not completed and not self.broken and self.on_leave is not None:
            self.on_leave(self.steps.sent)
        elif self.on_end is not None:
            self.on_end(completed)

    async def _pause(self, seconds: float, left: asyncio.Future[None]) -> bool:
        """Wait on the clock; False when the client left meanwhile (the wait ends then)."""
        if seconds <= 0:
            return not left.done()
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        try:
            await asyncio.wait({sleeper, left}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
        return not left.done()

    async def _deliver(self, writer: Writer, index: int) -> bool:
        """Write what is held (the steps before `index`) and count it as sent; False
        when the client has left."""
        still_there = await writer.flush()
        self._mark(index)
        return still_there

    async def _write(self, writer: Writer) -> bool:
        steps, fault, left = self.steps, self.fault, writer.left
        framing = steps.framing
        encode = framing.encode
        await writer.start(self.status, self.headers)
        self._replay(writer)
        pings_left = self.pings
        strike_at = fault.after if fault is not None else -1
        events, delays = steps.events, steps.delays
        add = writer.add
        index = self.start
        # The hot loop of every stream. Each pause, fault and full buffer writes what is
        # held first, so every event leaves at its time and a fault strikes at its event.
        while index < len(events) or steps.more():
            delay = delays.get(index) if delays else None
            if delay is not None and not (
                await self._deliver(writer, index) and await self._pause(delay, left)
            ):
                return False
            if index == strike_at:
                assert fault is not None
                if not await self._deliver(writer, index):
                    return False
                if fault.kind != "stall":
                    return await self._strike(fault, writer, index)
                if not await self._pause(fault.seconds, left):
                    return False
            if pings_left and index > 0:
                add(framing.ping(self.clock.now()))
                pings_left -= 1
            add(encode(events[index]))
            index += 1
            if writer.full() and not await self._deliver(writer, index):
                return False
        if fault is not None and strike_at >= index:
            # Past the last event: the fault happens at the end, on every encoding.
            if not await self._deliver(writer, index):
                return False
            if fault.kind != "stall":
                return await self._strike(fault, writer, index)
            if not await self._pause(fault.seconds, left):
                return False
        closing = steps.encoding.closing(padded=framing.padding)
        await writer.close(b"".join(encode(event) for event in closing))
        self._mark(index)
        return True

    def _mark(self, index: int) -> None:
        """Count the steps before `index` as delivered, and wake the turn's followers."""
        steps = self.steps
        if index > steps.sent:
            steps.sent = index
            if steps.waiting is not None:
                steps.wake()

    async def _strike(self, fault: Fault, writer: Writer, index: int) -> bool:
        """Break the stream before event `index`; False, as a broken stream is never whole.

        What was held before it has been written already.
        """
        steps = self.steps
        encoding, framing = steps.encoding, steps.framing
        encoding.strike(index)
        kind = fault.kind
        if kind == "close_after":
            # Returning without finishing the body makes the server drop the connection.
            return False
        if kind == "no_done":
            await writer.close(b"")
            return False
        self.broken = True
        if kind == "malformed_frame":
            cut = f"data: {encoding.malformed}{framing.newline}{framing.newline}"
            writer.add(cut.encode())
        elif kind == "error_envelope":
            writer.add(framing.encode(encoding.error(fault.message)))
        elif kind == "moderation_block":
            writer.add(framing.encode(encoding.blocked()))
        closing = encoding.closing(padded=False)
        await writer.close(b"".join(framing.encode(event) for event in closing))
        return False


#: Scripted faults that end the turn itself, not only its connection.
BREAKING = frozenset({"error_envelope", "moderation_block", "malformed_frame"})


async def produce(steps: Steps, clock: Clock, start: int, fault: Fault | None = None) -> bool:
    """Make the rest of a turn at its pace with nobody reading it.

    The real service goes on generating when the client leaves; this walks the
    steps from `start` on the clock as a stream would, counting each one as
    sent and waking the readers that follow the turn. False when a scripted
    failure cuts the turn short (a dropped connection is no failure here).
    """
    events, delays = steps.events, steps.delays
    strike_at = -1
    if fault is not None and (fault.kind in BREAKING or fault.kind == "stall"):
        strike_at = fault.after
    index = start
    while index < len(events) or steps.more():
        delay = delays.get(index)
        if delay:
            await clock.sleep(delay)
        if index == strike_at:
            assert fault is not None
            if fault.kind != "stall":
                return False
            await clock.sleep(fault.seconds)
        index += 1
        if index > steps.sent:
            steps.sent = index
            steps.wake()
    return not (fault is not None and fault.kind in BREAKING and strike_at >= index)


class Follower(_Body):
    """The ASGI response that reads a turn still being made (a resume of a live turn).

    It sends what was made from `start`, then each step as `produce` or the
    first stream makes it, and closes with `ending()` once `live()` is false.
    It ends at once when its own client leaves; the turn goes on.
    """

    def __init__(
        self,
        steps: Steps,
        *,
        start: int,
        live: Callable[[], bool],
        ending: Callable[[], list[WireEvent]],
        replay: bool = False,
    ) -> None:
        self.steps = steps
        self.start = start
        self.live = live
        self.ending = ending
        self.replay = replay

    async def _write(self, writer: Writer) -> bool:
        steps, left = self.steps, writer.left
        encode = steps.framing.encode
        await writer.start(200, STREAM_HEADERS)
        self._replay(writer)
        index = self.start
        while True:
            live = self.live()
            while index < steps.sent:
                writer.add(encode(steps.events[index]))
                index += 1
                if writer.full() and not await writer.flush():
                    return False
            if not live:
                break
            if not self.live() or index < steps.sent:
                continue
            if not await writer.flush():
                return False
            changed = asyncio.ensure_future(steps.changed().wait())
            waits: set[asyncio.Future[Any]] = {changed, left}
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                changed.cancel()
            if left.done():
                return False
        await writer.close(b"".join(encode(event) for event in self.ending()))
        return True


__all__ = [
    "BREAKING",
    "COALESCE",
    "SINGLE_WRITES",
    "STREAM_HEADERS",
    "EventStream",
    "Follower",
    "Step",
    "Steps",
    "Writer",
    "framing_for",
    "produce",
]
