"""The stream engine's layers on their own: turn events, the encodings' tables, the stream."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockgpt.clock import SystemClock, VirtualClock
from mockgpt.delta import decode_sse
from mockgpt.framing import DONE, Event, Framing, WireEvent
from mockgpt.scripts import Fault, Pacing
from mockgpt.wire import ENCODINGS, Encoding, EventStream, Steps, encoding, framing_for, register
from mockgpt.wire.encodings.base import Rule
from mockgpt.wire.stream import COALESCE, SINGLE_WRITES, Follower
from mockgpt.wire.turn import (
    Arguments,
    Begin,
    Done,
    Limits,
    Marker,
    Meta,
    Pace,
    Text,
    Title,
    ToolCall,
    Usage,
)

CID = "6a1f0c8e-0000-4000-8000-000000000001"
MID = "6a1f0c8e-0000-4000-8000-000000000002"


def answer(text: str = "", status: str = "in_progress") -> dict[str, Any]:
    return {
        "id": MID,
        "author": {"role": "assistant"},
        "content": {"content_type": "text", "parts": [text]},
        "status": status,
        "end_turn": None if status == "in_progress" else True,
        "metadata": {},
    }


# -- the turn ---------------------------------------------------------------------------------


def test_an_unpaced_turn_never_waits() -> None:
    pace = Pace(None, random.Random(0))
    assert not pace.active
    assert [pace.next("word ") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert not Pace(Pacing(), random.Random(0)).active


def test_pacing_waits_for_the_first_token_then_by_the_rate() -> None:
    pace = Pace(Pacing(ttft_ms=500, tokens_per_second=10), random.Random(0))
    assert pace.next("12345678") == pytest.approx(0.5 + 0.2)
    assert pace.next("1234") == pytest.approx(0.1)
    assert pace.next("") == pytest.approx(0.1)  # every piece counts as one token at least


@given(seed=st.integers(), jitter=st.floats(0.0, 1.0))
def test_jittered_pacing_is_seeded_and_bounded(seed: int, jitter: float) -> None:
    pacing = Pacing(tokens_per_second=4, jitter=jitter)
    one, two = Pace(pacing, random.Random(seed)), Pace(pacing, random.Random(seed))
    first = [one.next("abcd") for _ in range(5)]
    assert first == [two.next("abcd") for _ in range(5)]
    assert all(0.25 * (1 - jitter) - 1e-9 <= d <= 0.25 * (1 + jitter) + 1e-9 for d in first)


# -- the encodings ----------------------------------------------------------------------------


def test_the_registry_names_every_encoding_and_refuses_unknown_ones() -> None:
    assert {"legacy", "v1", "chunks"} <= set(ENCODINGS)
    with pytest.raises(ValueError, match="unknown encoding 'smoke'"):
        encoding("smoke")
    with pytest.raises(ValueError, match="registered twice"):
        register(ENCODINGS["v1"])


def web_turn() -> list[Any]:
    return [
        Meta("resume_conversation_token", {"kind": "topic", "token": "t"}),
        Begin(answer()),
        "Hello",
        Marker("user_visible_token", "first", MID),
        " world",
        Done(answer("Hello world!", "finished_successfully")),
        Title("Greetings"),
        Limits(None, None),
        Meta("message_stream_complete", {}),
    ]


def wire(steps: Steps, index: int) -> bytes:
    """The bytes of step `index`, as the stream writes them."""
    return steps.framing.encode(steps[index].event)


def wire_of(name: str, turn: list[Any], framing: Framing | None = None, **context: Any) -> str:
    encoder = encoding(name, **context)
    steps = Steps(encoder, iter(turn), framing or Framing(pad_block=encoder.pad_block))
    body = b"".join(steps.framing.encode(step.event) for step in steps)
    return (body + b"".join(map(steps.framing.encode, encoder.closing(padded=False)))).decode()


def test_v1_sends_typed_frames_and_deltas_that_decode_to_the_final_message() -> None:
    raw = wire_of("v1", web_turn(), conversation_id=CID, message_id=MID)
    decoded = decode_sse(raw)
    assert decoded.messages[-1] == answer("Hello world!", "finished_successfully")
    kinds = [frame.get("type") for frame in decoded.frames if isinstance(frame, dict)]
    assert kinds == [
        "resume_conversation_token",
        "message_marker",
        "title_generation",
        "conversation_detail_metadata",
        "message_stream_complete",
    ]
    assert 'event: delta\ndata: {"v": " world"}\n\n' in raw  # carry-forward: a bare delta


def test_legacy_sends_snapshots_and_drops_what_it_has_no_frame_for() -> None:
    raw = wire_of("legacy", web_turn(), conversation_id=CID, message_id=MID)
    datas = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: {")]
    texts = [d["message"]["content"]["parts"][0] for d in datas]
    assert texts == ["Hello", "Hello world", "Hello world!"]
    for absent in ("title", "marker", "resume"):
        assert absent not in raw


def test_chunks_open_a_tool_call_with_the_role_and_stream_its_arguments() -> None:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk"}
    turn = [
        Begin({"role": "assistant", "content": None}),
        ToolCall("call_1", "lookup"),
        Arguments('{"q": '),
        Arguments('"x"}'),
        Done(None, "tool_calls"),
        Usage({"total_tokens": 3}),
    ]
    raw = wire_of("chunks", turn, base=base, include_usage=True)
    chunks = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: {")]
    deltas = [c["choices"][0]["delta"] if c["choices"] else None for c in chunks]
    assert deltas[0]["tool_calls"][0]["function"] == {"name": "lookup", "arguments": ""}
    assert deltas[0]["role"] == "assistant"
    assert "".join(d["tool_calls"][0]["function"]["arguments"] for d in deltas[1:3]) == '{"q": "x"}'
    assert chunks[3]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1] == {**base, "choices": [], "usage": {"total_tokens": 3}}
    assert all(c["usage"] is None for c in chunks[:-1])
    assert raw.endswith("data: [DONE]\n\n")


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_every_encoding_has_its_own_error_and_refusal_and_a_cut_frame(name: str) -> None:
    context: dict[str, Any] = {"conversation_id": CID, "message_id": MID}
    if name == "chunks":
        context = {"base": {"id": "x"}}
    elif name == "responses":
        context = {"response": {"id": "resp_x"}, "final": {"id": "resp_x"}}
    encoder = encoding(name, **context)
    for event in (encoder.error("Boom"), encoder.blocked()):
        assert isinstance(event, Event)
        assert json.loads(event.text())
    assert "Boom" in encoder.error("Boom").text()
    with pytest.raises(json.JSONDecodeError):
        json.loads(encoder.malformed)


# -- a new encoding: one class that registers itself with its table ---------------------------


class Plain(Encoding):
    """A toy format for the tests: one `token` event per piece of text."""

    name = "plain-test"
    malformed = '{"token": "'

    def _token(self, event: Text | str) -> list[WireEvent]:
        text = event if isinstance(event, str) else event.text
        return [Event("token", {"token": text})]

    def _done(self, event: Done) -> list[WireEvent]:
        return [Event("done", {"finish": event.finish})]

    frames: ClassVar[Mapping[type, Rule]] = {Text: _token, Done: _done}

    def error(self, message: str | None) -> Event:
        return Event("error", {"message": message or "failed"})

    def blocked(self) -> Event:
        return Event("error", {"message": "blocked"})


@pytest.fixture
def plain() -> Iterator[type[Plain]]:
    register(Plain)
    yield Plain
    del ENCODINGS[Plain.name]


def pieces(count: int, delay: float = 0.0) -> Iterator[Any]:
    yield Begin({"role": "assistant"})  # not in the table: not sent
    for number in range(count):
        yield Text(f"t{number} ", delay=delay) if delay else f"t{number} "
    yield Done(None, "stop")


class Recorder:
    """An ASGI client: the messages the stream sends, leaving once `leave_after` bodies came."""

    def __init__(self, leave_after: int | None = None) -> None:
        self.bodies: list[bytes] = []
        self.left = asyncio.Event()
        self.leave_after = leave_after

    async def receive(self) -> dict[str, Any]:
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and self.leave_after == 0:
            self.left.set()
        if message["type"] == "http.response.body":
            self.bodies.append(message["body"])
            if self.leave_after is not None and len(self.bodies) >= self.leave_after:
                self.left.set()


def run(stream: EventStream, client: Recorder) -> bytes:
    asyncio.run(stream({"type": "http"}, client.receive, client.send))
    return b"".join(client.bodies)


def test_a_new_encoding_streams_with_faults_realism_and_pacing(plain: type[Plain]) -> None:
    encoder = encoding("plain-test")
    clock = VirtualClock(0)
    steps = Steps(encoder, pieces(4, delay=0.5), Framing(crlf=True))
    stream = EventStream(steps, clock, fault=Fault("error_envelope", after=2), pings=1)
    raw = run(stream, Recorder())
    assert raw.startswith(b'event: token\r\ndata: {"token": "t0 "}\r\n\r\n: ping - ')
    assert raw.endswith(b'event: error\r\ndata: {"message": "failed"}\r\n\r\ndata: [DONE]\r\n\r\n')
    assert raw.count(b"event: token") == 2
    assert clock.now() == pytest.approx(1.5)  # two pieces sent, the third's pause taken


def test_steps_are_made_as_the_stream_reaches_them() -> None:
    encoder = encoding("v1", conversation_id=CID, message_id=MID)
    words = (f"w{n} " for n in range(2000))
    turn = itertools.chain([Begin(answer())], words, [Done(answer("x", "done"))])
    steps = Steps(encoder, turn, framing_for(encoder, None))
    assert len(steps.events) == 1  # delta_encoding, made up front
    assert wire(steps, 2) == (
        b'event: delta\ndata: {"p": "/message/content/parts/0", "o": "append", "v": "w0 "}\n\n'
    )
    assert wire(steps, 3) == b'event: delta\ndata: {"v": "w1 "}\n\n'
    assert len(steps.events) < 100  # a batch ahead of the stream, not the whole answer
    assert len(steps) == 1 + 1 + 2000 + 1
    assert steps[2].text_end == 3
    assert steps[2002].final


def test_the_pause_of_an_event_a_format_does_not_send_carries_to_the_next(
    plain: type[Plain],
) -> None:
    turn = iter([Begin({"role": "assistant"}, delay=2.0), Text("a", delay=1.0), Done(None)])
    steps = Steps(encoding("plain-test"), turn, Framing())
    assert [step.delay for step in steps] == [3.0, 0.0]


def test_a_client_leaving_ends_a_pause_at_once_and_leaves_no_task(plain: type[Plain]) -> None:
    steps = Steps(encoding("plain-test"), pieces(5, delay=3600.0), Framing())

    async def main() -> tuple[int, int]:
        before = len(asyncio.all_tasks())
        client = Recorder(leave_after=0)  # leaves once the headers came: the stream is waiting
        ended: list[bool] = []
        stream = EventStream(steps, SystemClock(), on_end=ended.append)
        await asyncio.wait_for(stream({"type": "http"}, client.receive, client.send), 5.0)
        await asyncio.sleep(0)
        assert ended == [False]
        return len(client.bodies), len(asyncio.all_tasks()) - before

    bodies, extra = asyncio.run(main())
    assert bodies == 0
    assert extra == 0


@pytest.mark.parametrize("kind", ["close_after", "no_done"])
def test_a_fault_past_the_last_event_strikes_at_the_end(plain: type[Plain], kind: str) -> None:
    steps = Steps(encoding("plain-test"), pieces(3), Framing())
    raw = run(EventStream(steps, VirtualClock(0), fault=Fault(kind, after=99)), Recorder())  # type: ignore[arg-type]
    assert raw.count(b"event: token") == 3
    assert b"event: done" in raw
    assert b"[DONE]" not in raw


def test_a_resume_repeats_the_opening_then_sends_the_rest() -> None:
    encoder = encoding("v1", conversation_id=CID, message_id=MID)
    turn = iter([Begin(answer()), "a", "b", Done(answer("abc", "done"))])
    steps = Steps(encoder, turn, framing_for(encoder, None))
    whole = run(EventStream(steps, VirtualClock(0)), Recorder())
    tail = run(EventStream(steps, VirtualClock(0), start=3, replay=True), Recorder())
    assert tail.startswith(b'event: delta_encoding\ndata: "v1"\n\n')
    assert whole.endswith(tail[len(b'event: delta_encoding\ndata: "v1"\n\n') :])


def test_the_engine_imports_nothing_from_the_http_app_or_control_layers() -> None:
    import ast
    from pathlib import Path

    import mockgpt.wire

    above = {"app", "handlers", "service", "platform", "conversation", "controller", "admin"}
    above |= {"cli", "pytest_plugin", "inspector", "har", "strategies", "server"}
    root = Path(mockgpt.wire.__file__).parent
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                assert not (parts[0] == "mockgpt" and len(parts) > 1 and parts[1] in above), (
                    f"{path.name} imports {name}"
                )


# -- writes -----------------------------------------------------------------------------------


def long_steps(words: int = 3000) -> Steps:
    encoder = encoding("v1", conversation_id=CID, message_id=MID)
    turn = itertools.chain([Begin(answer())], (f"w{n} " for n in range(words)), [Done(answer())])
    return Steps(encoder, turn, framing_for(encoder, None))


def wire_of_steps(steps: Steps, stop: int | None = None) -> bytes:
    return b"".join(wire(steps, index) for index in range(len(steps) if stop is None else stop))


class YieldingRecorder(Recorder):
    """A client whose transport lets the loop run at each write, as a socket's may."""

    async def send(self, message: dict[str, Any]) -> None:
        await super().send(message)
        await asyncio.sleep(0)


def test_ready_events_leave_together_and_the_first_alone() -> None:
    steps = long_steps()
    client = Recorder()
    raw = run(EventStream(steps, VirtualClock(0)), client)
    assert raw == wire_of_steps(steps) + b"data: [DONE]\n\n"
    # The first writes carry one event each (the time to the first byte is one event's).
    assert client.bodies[:SINGLE_WRITES] == [wire(steps, n) for n in range(SINGLE_WRITES)]
    assert len(client.bodies) < SINGLE_WRITES + len(steps) // 100
    assert all(body.endswith(b"\n\n") for body in client.bodies)
    biggest = max(len(wire(steps, index)) for index in range(len(steps)))
    assert all(len(body) < COALESCE + biggest for body in client.bodies[:-1])
    assert steps.sent == len(steps)


def test_paced_events_leave_one_write_each_at_their_time(plain: type[Plain]) -> None:
    clock = VirtualClock(0)
    steps = Steps(encoding("plain-test"), pieces(4, delay=0.5), Framing())
    client = Recorder()
    times: list[float] = []
    recorded = client.send

    async def send(message: dict[str, Any]) -> None:
        times.append(clock.now())
        await recorded(message)

    asyncio.run(EventStream(steps, clock)({"type": "http"}, client.receive, send))
    # Each piece leaves in a write of its own, after its pause.
    written = list(zip(times[1:], client.bodies, strict=True))  # after the head
    assert [body.count(b"event: token") for _, body in written if b"token" in body] == [1] * 4
    assert [at for at, body in written if b"token" in body] == pytest.approx([0.5, 1.0, 1.5, 2.0])


@pytest.mark.parametrize("after", [1, 2, 1500, 3002])
def test_a_fault_strikes_at_its_event_in_a_stream_written_in_batches(after: int) -> None:
    steps = long_steps()
    raw = run(
        EventStream(steps, VirtualClock(0), fault=Fault("close_after", after=after)), Recorder()
    )
    assert raw == wire_of_steps(steps, after)
    steps = long_steps()
    raw = run(
        EventStream(steps, VirtualClock(0), fault=Fault("malformed_frame", after=after)), Recorder()
    )
    cut = b'data: {"message": {"id": "\n\ndata: [DONE]\n\n'
    assert raw == wire_of_steps(steps, after) + cut


def test_a_client_leaving_stops_a_batched_writer_at_its_next_write() -> None:
    steps = long_steps()
    left: list[int] = []
    client = YieldingRecorder(leave_after=SINGLE_WRITES + 1)  # leaves after a batch
    stream = EventStream(steps, VirtualClock(0), on_leave=left.append)
    raw = run(stream, client)
    assert len(client.bodies) == SINGLE_WRITES + 1
    assert left == [steps.sent]  # what went out counts as sent, nothing more
    assert raw == wire_of_steps(steps, steps.sent)
    assert SINGLE_WRITES + 1 < steps.sent < len(steps)


def test_a_follower_writes_what_was_made_in_batches() -> None:
    steps = long_steps()
    whole = run(EventStream(steps, VirtualClock(0)), Recorder())
    client = Recorder()
    follower = Follower(steps, start=3, live=lambda: False, ending=lambda: [DONE], replay=True)
    raw = run(follower, client)  # type: ignore[arg-type]
    opening = wire(steps, 0)
    assert raw == opening + whole[len(wire_of_steps(steps, 3)) :]
    assert len(client.bodies) < SINGLE_WRITES + len(steps) // 100
