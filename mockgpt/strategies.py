"""Hypothesis strategies for testing ChatGPT clients against adversarial but valid data.

* `response_body(key)`: any JSON body the route's schema allows (built with
  hypothesis-jsonschema from the same schemas the mock validates with);
  `response_routes()` lists the routes that have one.
* `scripts()`: scripts for the mock (text with any unicode, chunking, frames on
  or off, pings, padding, CRLF), to queue on a running mock; `turn_scripts()`
  adds 2026 turns: reasoning (thoughts and recap, on `analysis` or no channel)
  and tool steps (`bio`, `web.run`, `python`, canvas).
* `streams()`: whole conversation streams, `v1` delta or legacy snapshots, as
  the network delivers them: the mock writes each stream for a drawn script, and
  the strategy then moves the title frame to the places the real service puts it,
  adds empty deltas, sends patch lists bare (`{"v": [...]}`, `p` and `o`
  carried), may send non-ASCII as raw UTF-8 instead of `\\uXXXX`, and
  (for reasoning and tool turns) channel-only deltas `{"c": N}` before a message
  and the combined marker `user_visible_token|final_channel_token` (or no
  `final_channel_token`), the answer's markers and patches without its `add`,
  a resume token of any `kind` or none (see `mockgpt.turn_variants`), and
  splits the bytes into reads at awkward places (inside a frame, between `\\r`
  and `\\n`, inside a multi-byte character).
* `handoffs()`: a turn handed off to the WebSocket: the POST's stub (ending
  `stream_handoff`, `[DONE]`) and the socket's frames after a subscribe, with
  catch-ups that repeat live items, heartbeats between them, and batched or
  bare-object frames.
* `serve_stream(stream)`: serves one drawn stream over HTTP, one write per read,
  so a client's own parser can be tested end to end.

Everything is drawn by Hypothesis, so failures shrink and replay from its seed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import re
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

try:
    from hypothesis import strategies as st
    from hypothesis_jsonschema import from_schema
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "mockgpt.strategies needs hypothesis and hypothesis-jsonschema: "
        "pip install 'mockgpt[strategies]'"
    ) from error

from mockgpt.app import MockApp, create_app
from mockgpt.catalogue import load_catalogue
from mockgpt.config import Config
from mockgpt.framing import Framing
from mockgpt.schemas import resolved_schema
from mockgpt.scripts import FRAME_NAMES, Realism, Script, ToolMessage
from mockgpt.server import LiveServer
from mockgpt.store import first_turn
from mockgpt.turn_topic import TurnItems
from mockgpt.turn_variants import bare_patches, turn_variants

__all__ = [
    "CUSTOM_FORMATS",
    "DrawnHandoff",
    "DrawnStream",
    "StreamReplay",
    "handoffs",
    "response_body",
    "response_routes",
    "scripts",
    "serve_stream",
    "streams",
    "turn_scripts",
]

Encoding = Literal["v1", "legacy"]
ENCODINGS: tuple[Encoding, ...] = ("v1", "legacy")

#: Formats the schemas use that hypothesis-jsonschema does not know by itself.
CUSTOM_FORMATS: dict[str, st.SearchStrategy[str]] = {"uuid": st.uuids().map(str)}

_PATH = "/backend-api/conversation"
_AUTH = b"Bearer mockgpt-strategies"
_TITLE = re.compile(rb'"type": "title_generation"')
_BARE_DELTA = re.compile(rb'^event: delta\r?\ndata: \{"v": "')
_TOOLS = ("bio", "web.run", "python", "canmore.create_textdoc")


# -- response bodies -----------------------------------------------------------------------


def response_routes() -> list[str]:
    """The keys ("METHOD /path") of every route with a JSON response schema."""
    return [
        route.key
        for route in load_catalogue()
        if any(spec.is_json and spec.schema for spec in route.responses)
    ]


def response_body(key: str, status: int | None = None) -> st.SearchStrategy[Any]:
    """Any body the route `key` may answer with `status` (default: its documented one)."""
    route = next((route for route in load_catalogue() if route.key == key), None)
    if route is None:
        raise KeyError(f"no catalogue route {key!r}")
    wanted = route.status if status is None else status
    for spec in route.responses:
        if spec.status == wanted and spec.is_json and spec.schema:
            return _schema_strategy(spec.schema)
    raise KeyError(f"{key} has no JSON body for status {wanted}")


@cache
def _schema_strategy(relative: str) -> st.SearchStrategy[Any]:
    return from_schema(resolved_schema(relative), custom_formats=CUSTOM_FORMATS)


# -- scripts -------------------------------------------------------------------------------

#: Text that breaks naive parsers: quotes, backslashes, control characters, combining
#: marks, CJK, right-to-left, astral emoji (two UTF-16 units), the line separators
#: JavaScript treats as newlines, and a stray "data:" or "[DONE]" inside the text.
_TRICKY = st.sampled_from(
    [
        '"',
        "\\",
        "\n",
        "\r\n",
        "\t",
        "\u0000",
        "e\u0301",
        "\u4f60\u597d",
        "\u05e9\u05dc\u05d5\u05dd",
        "\U0001f680",
        "\U0001f469\u200d\U0001f4bb",
        "\u2028",
        "\ufeff",
        "data: [DONE]\n\n",
        " ",
    ]
)
_TEXT = st.lists(
    st.one_of(_TRICKY, st.text(st.characters(codec="utf-8"), min_size=1, max_size=8)),
    min_size=1,
    max_size=12,
).map("".join)

#: A title must have something besides whitespace (`Script` refuses a blank one), so
#: whitespace-only draws get a visible character; tricky characters stay around it.
_TITLE_TEXT = _TEXT.map(lambda text: text if text.strip() else text + "T")


@st.composite
def _chunked(draw: st.DrawFn, text: str) -> tuple[str, ...] | None:
    """None (the mock chunks by words) or explicit chunks that join to `text`."""
    if not draw(st.booleans()):
        return None
    cuts = draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=min(8, len(text))))
    bounds = [0, *sorted(cut for cut in cuts if 0 < cut < len(text)), len(text)]
    return tuple(text[a:b] for a, b in itertools.pairwise(bounds))


@st.composite
def scripts(draw: st.DrawFn) -> Script:
    """A script for one turn: unicode text, chunking, frames and byte realism."""
    text = draw(_TEXT)
    frames = {name: draw(st.booleans()) for name in FRAME_NAMES}
    realism = Realism(
        padding=draw(st.booleans()), pings=draw(st.integers(0, 3)), crlf=draw(st.booleans())
    )
    title = draw(st.one_of(st.none(), _TITLE_TEXT))
    return Script(
        text=text, chunks=draw(_chunked(text)), frames=frames, title=title, realism=realism
    )


@st.composite
def turn_scripts(draw: st.DrawFn) -> Script:
    """A `scripts()` script made a 2026 turn: reasoning, tool steps, or both."""
    base = draw(scripts())
    tool = st.sampled_from(_TOOLS).flatmap(
        lambda name: st.builds(ToolMessage, st.just(name), st.just(name), _TEXT, _TEXT)
    )
    tools = draw(st.lists(tool, max_size=2))
    reasoning = draw(st.booleans()) if tools else True
    return dataclasses.replace(
        base,
        reasoning=reasoning,
        reasoning_channel=draw(st.sampled_from(["analysis", None])),
        tool_messages=tuple(tools),
    )


# -- streams -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrawnStream:
    """One conversation stream as a client receives it.

    `writes` are the network reads in order; `text` is the answer the stream
    must decode to, `title` the conversation title it carries (None when its
    frame is off or the stream is legacy), `script` what the mock was given.
    """

    encoding: Encoding
    writes: tuple[bytes, ...]
    text: str
    title: str | None
    conversation_id: str
    script: Script
    raw_utf8: bool

    @property
    def body(self) -> bytes:
        return b"".join(self.writes)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # Hypothesis's printer
        printer.text(
            f"DrawnStream(encoding={self.encoding!r}, text={self.text!r}, "
            f"raw_utf8={self.raw_utf8!r}, writes={list(self.writes)!r})"
        )


@cache
def _base_app(seed: int) -> MockApp:
    return create_app(Config(seed=seed, clock="virtual"))


def _render(seed: int, script: Script, encoding: Encoding) -> tuple[list[bytes], str]:
    """The mock's own writes for one turn answered by `script`, and the conversation id."""
    app = _base_app(seed).copy()  # the same state every time: draws replay exactly
    app.conversations.book.queue(script)
    body = first_turn(
        "Tell me something",
        message_id="aaa1f2e3-0b1c-4d2e-8f3a-4b5c6d7e8f90",
        v1=encoding == "v1",
    )
    writes = asyncio.run(_post(app, json.dumps(body).encode()))
    stored = list(app.conversations.store.visible())
    return writes, stored[0].id


async def _post(app: MockApp, body: bytes) -> list[bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": _PATH,
        "raw_path": _PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", _AUTH),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    sent = False
    writes: list[bytes] = []
    status = 0

    async def receive() -> MutableMapping[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # the client stays until the answer ends
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message.get("body"):
            writes.append(message["body"])

    await app(scope, receive, send)
    if status != 200:
        raise AssertionError(f"the mock answered {status}: {b''.join(writes)[:300]!r}")
    return writes


def _events(writes: list[bytes]) -> list[bytes]:
    """The writes cut into whole events (the mock writes some events together)."""
    body = b"".join(writes)
    parts = re.split(rb"(?<=\n\n)|(?<=\r\n\r\n)", body)
    return [part for part in parts if part]


def _raw_utf8(event: bytes) -> bytes:
    """The event with its JSON data re-encoded as raw UTF-8 (padding kept)."""
    newline = b"\r\n" if event.endswith(b"\r\n\r\n") else b"\n"
    lines = event.split(newline)
    for index, line in enumerate(lines):
        if not line.startswith(b"data: {"):
            continue
        text = line[6:].decode("ascii")
        stripped = text.rstrip(" ")
        value = json.loads(stripped)
        padding = " " * (len(text) - len(stripped))
        lines[index] = b"data: " + (json.dumps(value, ensure_ascii=False) + padding).encode()
    return newline.join(lines)


def _empty_delta(event: bytes) -> bytes:
    newline = "\r\n" if event.endswith(b"\r\n\r\n") else "\n"
    return f'event: delta{newline}data: {{"v": ""}}{newline}{newline}'.encode()


@st.composite
def _rearranged(
    draw: st.DrawFn, events: list[bytes], encoding: Encoding, framing: Framing, turn: bool = False
) -> list[bytes]:
    """Move the title frame, send patches bare and add empty deltas, as the real service may."""
    if encoding != "v1":
        return events
    if turn:
        events = draw(turn_variants(events))
    events = draw(bare_patches(events, framing))
    titles = [i for i, event in enumerate(events) if _TITLE.search(event)]
    if titles:
        title = events.pop(titles[0])
        # After the assistant's first delta, anywhere before [DONE]: in the middle of
        # the deltas, or before or after message_stream_complete.
        first = next((i for i, e in enumerate(events) if _BARE_DELTA.match(e)), len(events) - 1)
        events.insert(draw(st.integers(min(first, len(events) - 1), len(events) - 1)), title)
    with_empties: list[bytes] = []
    for event in events:
        with_empties.append(event)
        if _BARE_DELTA.match(event) and draw(st.integers(0, 4)) == 0:
            with_empties.append(
                _empty_delta(event)
            )  # an append of "": a no-op the client must take
    return with_empties


@st.composite
def _split(draw: st.DrawFn, body: bytes) -> tuple[bytes, ...]:
    """The body as network reads, cut at drawn places, awkward ones favoured."""
    awkward = [
        i
        for i in range(1, len(body))
        if 0x80 <= body[i] <= 0xBF  # inside a multi-byte character
        or body[i - 1 : i + 1] in (b"\r\n", b"\n\n")
        or body[i - 1 : i] == b":"
    ]
    anywhere = st.integers(1, max(1, len(body) - 1))
    place = st.one_of(st.sampled_from(awkward), anywhere) if awkward else anywhere
    cuts = sorted(set(draw(st.lists(place, max_size=24))))
    bounds = [0, *(cut for cut in cuts if 0 < cut < len(body)), len(body)]
    return tuple(body[a:b] for a, b in itertools.pairwise(bounds))


@st.composite
def streams(
    draw: st.DrawFn,
    encoding: Encoding | None = None,
    *,
    script: st.SearchStrategy[Script] | None = None,
    seed: int = 0,
) -> DrawnStream:
    """A whole conversation stream, `v1` or legacy (drawn unless given), as network reads."""
    chosen: Encoding = encoding if encoding is not None else draw(st.sampled_from(ENCODINGS))
    drawn = draw(script if script is not None else scripts())
    writes, conversation_id = _render(seed, drawn, chosen)
    turn = drawn.reasoning is not None or bool(drawn.tool_messages)
    framing = Framing(crlf=drawn.realism.crlf, padding=drawn.realism.padding)
    events = draw(_rearranged(_events(writes), chosen, framing, turn))
    raw = draw(st.booleans())
    if raw:
        events = [_raw_utf8(event) for event in events]
    title = next(
        (json.loads(e.split(b"data: ", 1)[1])["title"] for e in events if _TITLE.search(e)),
        None,
    )
    assert drawn.text is not None
    return DrawnStream(
        encoding=chosen,
        writes=draw(_split(b"".join(events))),
        text=drawn.text,
        title=title,
        conversation_id=conversation_id,
        script=drawn,
        raw_utf8=raw,
    )


# -- handed-off turns ----------------------------------------------------------------------


@dataclass(frozen=True)
class DrawnHandoff:
    """A handed-off turn as a client receives it: the POST's short stream, then the
    WebSocket's text frames after it subscribed to `topic_id` with offset `"0"`.

    `stub` are the network reads of the SSE stub (ending `stream_handoff`,
    `[DONE]`); `frames` the socket's text frames in order: the subscribe reply
    (`catchups`), then the live messages, where items the catch-up held may come
    again (dedupe by `stream_item_id`), heartbeats come between them, and a frame
    is an array of several messages or one bare object. The items, decoded in
    order, give `text`; `done` comes last.
    """

    stub: tuple[bytes, ...]
    frames: tuple[str, ...]
    topic_id: str
    text: str
    conversation_id: str
    script: Script


def _render_handoff(seed: int, script: Script) -> tuple[list[bytes], list[dict[str, Any]]]:
    """The stub the mock writes for a handed-off turn, and all of the topic's messages."""
    app = _base_app(seed).copy()
    app.conversations.book.queue(script)
    body = first_turn(
        "Tell me something", message_id="aaa1f2e3-0b1c-4d2e-8f3a-4b5c6d7e8f90", v1=True
    )

    async def run() -> tuple[list[bytes], list[dict[str, Any]]]:
        writes = await _post(app, json.dumps(body).encode())
        service = app.conversations
        for task in list(service.producers.values()):
            await task  # the rest of the turn, made on the virtual clock
        turn = next(iter(service.turns.values()))
        items = TurnItems(turn, lambda: service._ending(turn))
        count = items.available()
        return writes, [*(items.message(i) for i in range(count)), items.done(count)]

    return asyncio.run(run())


@st.composite
def handoffs(
    draw: st.DrawFn, *, script: st.SearchStrategy[Script] | None = None, seed: int = 0
) -> DrawnHandoff:
    """A `v1` turn handed off to the WebSocket, with the socket's adversarial delivery."""
    drawn = dataclasses.replace(draw(script if script is not None else scripts()), handoff=True)
    writes, messages = _render_handoff(seed, drawn)
    topic = messages[0]["topic_id"]
    conversation_id = messages[0]["payload"]["payload"]["conversation_id"]
    caught = draw(st.integers(0, len(messages)))
    reply = {
        "id": 1,
        "type": "reply",
        "reply": {
            "type": "subscribe",
            "topic_id": topic,
            "last_offset": messages[max(caught - 1, 0)]["offset"],
            "recovered": True,
            "catchups": messages[:caught],
        },
    }
    frames = [json.dumps([reply])]
    live = (
        messages[draw(st.integers(max(0, caught - 3), caught)) :] if caught < len(messages) else []
    )
    pending: list[dict[str, Any]] = []
    for message in live:
        if message["payload"]["payload"]["type"] != "done" and draw(st.integers(0, 5)) == 0:
            beat = {**message, "payload": {**message["payload"], "payload": _heartbeat(message)}}
            pending.append(beat)
        pending.append(message)
        if draw(st.booleans()):
            frames.append(json.dumps(pending[0] if len(pending) == 1 else pending))
            pending = []
    if pending:
        frames.append(json.dumps(pending))
    assert drawn.text is not None
    return DrawnHandoff(
        stub=draw(_split(b"".join(writes))),
        frames=tuple(frames),
        topic_id=topic,
        text=drawn.text,
        conversation_id=conversation_id,
        script=drawn,
    )


def _heartbeat(message: dict[str, Any]) -> dict[str, Any]:
    item = message["payload"]["payload"]
    return {
        "type": "heartbeat",
        "turn_id": item["turn_id"],
        "conversation_id": item["conversation_id"],
        "server_timestamp_ms": item["server_timestamp_ms"],
    }


# -- replay --------------------------------------------------------------------------------


def _writes_of(stream: DrawnStream | Sequence[bytes]) -> tuple[bytes, ...]:
    return stream.writes if isinstance(stream, DrawnStream) else tuple(stream)


class StreamReplay:
    """A loopback server that answers every request with the stream last given to `play`.

    Start it once (a `with` block, or a module-scoped fixture) and play one drawn
    stream per example: each write goes out as its own body message, so the client
    reads the stream in the pieces the strategy cut it into, as far as TCP allows.
    """

    _HEADERS: tuple[tuple[bytes, bytes], ...] = (
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-cache"),
    )

    def __init__(self) -> None:
        self._writes: tuple[bytes, ...] = ()
        self._server = LiveServer(self)
        self.url = ""

    def play(self, stream: DrawnStream | Sequence[bytes]) -> str:
        """Serve `stream` from now on; returns the server's base URL."""
        self._writes = _writes_of(stream)
        return self.url

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()  # startup
            await send({"type": "lifespan.startup.complete"})
            await receive()  # shutdown
            await send({"type": "lifespan.shutdown.complete"})
            return
        writes = self._writes
        await send({"type": "http.response.start", "status": 200, "headers": self._HEADERS})
        for write in writes:
            await send({"type": "http.response.body", "body": write, "more_body": True})
            await asyncio.sleep(0)  # let each write leave on its own
        await send({"type": "http.response.body", "body": b""})

    def __enter__(self) -> StreamReplay:
        self._server.start()
        self.url = self._server.url
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


@contextmanager
def serve_stream(stream: DrawnStream | Sequence[bytes]) -> Iterator[str]:
    """Serve one stream on a free loopback port for a `with` block; yields the base URL.

    Any method and path gets the stream. For many examples, start one
    `StreamReplay` and `play` each stream on it instead: starting a server per
    example is slow.
    """
    with StreamReplay() as replay:
        yield replay.play(stream)
