"""The `conversations` topic's `title-update`: sent when, and only when, a turn gave a title.

The stream, the stored conversation and the socket must tell the same story:
a title the stream sent is the stored title and the one `title-update`; a turn
that made no title (frame off, a later turn, a failure or stop before the
title, a rename that came first) leaves "New chat" and pushes nothing.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import websockets
from starlette.testclient import TestClient
from support import make_config
from test_conversation import AUTH, parse, turn_body

from mockgpt import LiveServer, MockGPT, create_app
from mockgpt.clock import VirtualClock

ANSWER = " ".join(f"word{n}" for n in range(12)) + "."
TITLE = "Twelve words"
UNTITLED = "New chat"
#: The stall (seconds) that `HeldClock` holds until the test releases it.
HOLD = 7.25


class HeldClock(VirtualClock):
    """Virtual time, except that a wait of `HOLD` seconds lasts until `release`.

    A `stall` fault of `HOLD` seconds then parks a turn exactly before one of its
    events, for as long as the test needs to act there.
    """

    def __init__(self) -> None:
        super().__init__(1_767_225_600.0)
        self.parked = threading.Event()
        self._gate: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

    async def sleep(self, seconds: float) -> None:
        if seconds == HOLD:
            gate = asyncio.Event()
            self._gate = (asyncio.get_running_loop(), gate)
            self.parked.set()
            await gate.wait()
        await super().sleep(seconds)

    def release(self) -> None:
        assert self._gate is not None
        loop, gate = self._gate
        loop.call_soon_threadsafe(gate.set)


def _script(**changes: Any) -> dict[str, Any]:
    return {"text": ANSWER, "title": TITLE, **changes}


def _socket_path(client: TestClient) -> str:
    url = client.get("/backend-api/celsius/ws/user", headers=AUTH).json()["websocket_url"]
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _subscribe_conversations() -> str:
    command = {"type": "subscribe", "topic_id": "conversations", "offset": "0"}
    return json.dumps([{"id": 1, "command": command}])


def _titles(frame: list[dict[str, Any]]) -> list[str]:
    """The titles a `conversations` frame announces (one frame per turn end)."""
    assert frame[0]["payload"]["type"] == "conversation-turn-complete", frame
    return [
        message["payload"]["payload"]["update_content"]["title"]
        for message in frame
        if message["payload"]["type"] == "conversation-update"
        and message["payload"]["payload"]["update_type"] == "title-update"
    ]


def _sse_titles(raw: bytes) -> list[str]:
    """The titles a web stream's `title_generation` frames carry."""
    frames = [json.loads(data) for name, data in parse(raw) if name is None and data[:1] == "{"]
    return [frame["title"] for frame in frames if frame.get("type") == "title_generation"]


def _cid(raw: bytes) -> str:
    for _, data in parse(raw):
        if '"conversation_id"' in data:
            return str(json.loads(data)["conversation_id"])
    raise AssertionError("no conversation id in the stream")


def _stored_title(client: TestClient, cid: str) -> str:
    return str(client.get(f"/backend-api/conversation/{cid}", headers=AUTH).json()["title"])


def _title_end(v1: bool) -> int:
    """How many events of the scripted first turn must be out for its title to be given:
    on `v1` up to its `title_generation` frame, on `legacy` up to the last snapshot."""
    mock = MockGPT(make_config(0, sample_conversations=0))
    mock.reply(**_script())
    with TestClient(mock) as client:
        raw = client.post("/backend-api/conversation", json=turn_body(v1=v1), headers=AUTH).content
    events = [data for _, data in parse(raw) if data != "[DONE]"]
    if v1:
        return 1 + next(n for n, data in enumerate(events) if '"title_generation"' in data)
    return 1 + max(n for n, data in enumerate(events) if data.startswith('{"message"'))


@pytest.mark.parametrize("v1", [False, True])
def test_a_first_turn_pushes_the_title_it_streamed_and_a_second_turn_none(v1: bool) -> None:
    mock = MockGPT(make_config(0, sample_conversations=0))
    with TestClient(mock) as client, client.websocket_connect(_socket_path(client)) as socket:
        socket.send_text(_subscribe_conversations())
        socket.receive_text()
        mock.reply(**_script())
        first = client.post("/backend-api/conversation", json=turn_body(v1=v1), headers=AUTH)
        heard_first = _titles(json.loads(socket.receive_text()))
        cid = _cid(first.content)
        detail = client.get(f"/backend-api/conversation/{cid}", headers=AUTH).json()
        body = turn_body(
            "And then?",
            v1=v1,
            conversation_id=cid,
            parent=detail["current_node"],
            message_id="bbb1f2e3-0b1c-4d2e-8f3a-4b5c6d7e8f91",
        )
        mock.reply(**_script(title="Another title"))
        second = client.post("/backend-api/conversation", json=body, headers=AUTH)
        heard_second = _titles(json.loads(socket.receive_text()))
        stored_after = _stored_title(client, cid)
    assert heard_first == [TITLE]
    assert detail["title"] == TITLE
    # v1 carries the title in the stream; legacy has no frame for it (the store has it).
    assert _sse_titles(first.content) == ([TITLE] if v1 else [])
    assert heard_second == []
    assert _sse_titles(second.content) == []
    assert stored_after == TITLE


@pytest.mark.parametrize("v1", [False, True])
def test_a_turn_with_its_title_frame_off_gives_no_title_and_pushes_none(v1: bool) -> None:
    mock = MockGPT(make_config(0, sample_conversations=0))
    with TestClient(mock) as client, client.websocket_connect(_socket_path(client)) as socket:
        socket.send_text(_subscribe_conversations())
        socket.receive_text()
        mock.reply(**_script(frames={"title_generation": False}))
        raw = client.post("/backend-api/conversation", json=turn_body(v1=v1), headers=AUTH).content
        heard = _titles(json.loads(socket.receive_text()))
        stored = _stored_title(client, _cid(raw))
    assert _sse_titles(raw) == []
    assert heard == []
    assert stored == UNTITLED


@pytest.mark.parametrize("v1", [False, True])
@pytest.mark.parametrize("past_the_title", [False, True])
def test_a_failure_before_the_title_gives_none_and_one_after_it_gives_it(
    v1: bool, past_the_title: bool
) -> None:
    after = _title_end(v1) - (0 if past_the_title else 1)
    mock = MockGPT(make_config(0, sample_conversations=0))
    with TestClient(mock) as client, client.websocket_connect(_socket_path(client)) as socket:
        socket.send_text(_subscribe_conversations())
        socket.receive_text()
        mock.reply(**_script(fault={"kind": "error_envelope", "after": after}))
        raw = client.post("/backend-api/conversation", json=turn_body(v1=v1), headers=AUTH).content
        heard = _titles(json.loads(socket.receive_text()))
        cid = _cid(raw)
        status = client.get(f"/backend-api/conversation/{cid}/stream_status", headers=AUTH)
        stored = _stored_title(client, cid)
    assert status.json()["status"] == "FAILURE"
    if v1:
        assert _sse_titles(raw) == ([TITLE] if past_the_title else [])
    assert heard == ([TITLE] if past_the_title else [])
    assert stored == (TITLE if past_the_title else UNTITLED)


def _parked_turn(client: TestClient, mock: MockGPT, clock: HeldClock, v1: bool, after: int) -> str:
    """Start a handed-off first turn that parks before event `after`; its conversation id."""
    mock.reply(**_script(handoff=True, fault={"kind": "stall", "after": after, "seconds": HOLD}))
    raw = client.post("/backend-api/conversation", json=turn_body(v1=v1), headers=AUTH).content
    assert b'"stream_handoff"' in raw
    assert clock.parked.wait(20), "the turn never reached its stall"
    cid = _cid(raw)
    [turn] = [turn for turn in mock.turns() if turn["conversation_id"] == cid]
    assert turn["live"]
    assert turn["sent"] == after
    return cid


@pytest.mark.parametrize("v1", [False, True])
def test_a_turn_stopped_before_its_title_gives_none_and_pushes_none(v1: bool) -> None:
    clock = HeldClock()
    mock = MockGPT(app=create_app(make_config(0, sample_conversations=0), clock=clock))
    with TestClient(mock) as client, client.websocket_connect(_socket_path(client)) as socket:
        socket.send_text(_subscribe_conversations())
        socket.receive_text()
        cid = _parked_turn(client, mock, clock, v1, _title_end(v1) - 1)
        stop = {"conversation_id": cid, "exclude_async_types": []}
        assert client.post("/backend-api/stop_conversation", json=stop, headers=AUTH).is_success
        heard = _titles(json.loads(socket.receive_text()))
        stored = _stored_title(client, cid)
    assert heard == []
    assert stored == UNTITLED


# A legacy turn's title counts as given with its last snapshot, so only `v1` has a
# moment between the title and the turn's end.
@pytest.mark.parametrize(
    ("v1", "renamed_after_the_title"), [(False, False), (True, False), (True, True)]
)
def test_a_rename_during_the_first_turn_stays_and_no_title_is_pushed(
    v1: bool, renamed_after_the_title: bool
) -> None:
    clock = HeldClock()
    mock = MockGPT(app=create_app(make_config(0, sample_conversations=0), clock=clock))
    after = _title_end(v1) - (0 if renamed_after_the_title else 1)
    with TestClient(mock) as client, client.websocket_connect(_socket_path(client)) as socket:
        socket.send_text(_subscribe_conversations())
        socket.receive_text()
        cid = _parked_turn(client, mock, clock, v1, after)
        before = _stored_title(client, cid)
        renamed = client.patch(
            f"/backend-api/conversation/{cid}", json={"title": "Mine"}, headers=AUTH
        )
        assert renamed.json() == {"success": True}
        clock.release()
        heard = _titles(json.loads(socket.receive_text()))
        stored = _stored_title(client, cid)
    assert before == (TITLE if renamed_after_the_title else UNTITLED)
    assert heard == []
    assert stored == "Mine"


async def _hand_off_and_listen(
    base: str, url: str
) -> tuple[dict[str, Any], list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """Listen on `conversations`, start a handed-off first turn, read its topic to the
    end: the `stream_handoff` frame, the topic's items, and each `conversations` frame
    heard until the turn's end was announced there."""
    items: list[dict[str, Any]] = []
    ends: list[list[dict[str, Any]]] = []
    async with websockets.connect(url) as socket, asyncio.timeout(20):
        await socket.send(_subscribe_conversations())
        await socket.recv()
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=20) as http:
            stub = await http.post("/backend-api/conversation", json=turn_body(v1=True))
        handoff = json.loads(parse(stub.content)[-2][1])
        topic = handoff["options"][1]["topic_id"]
        command = {"type": "subscribe", "topic_id": topic, "offset": "0"}
        await socket.send(json.dumps([{"id": 2, "command": command}]))
        done = False
        while not (done and ends):
            frame = json.loads(await socket.recv())
            if all(item.get("topic_id") == "conversations" for item in frame):
                ends.append(frame)
                continue
            for item in frame:
                if item.get("type") == "reply":
                    items += item["reply"].get("catchups", [])
                elif item.get("topic_id") == topic:
                    items.append(item)
            done = any(i["payload"]["payload"]["type"] == "done" for i in items)
    return handoff, items, ends


@pytest.mark.parametrize("title_frame", [True, False])
def test_a_handed_off_first_turn_pushes_the_title_its_topic_carried(title_frame: bool) -> None:
    mock = MockGPT(make_config(0, sample_conversations=0, clock="system"))
    mock.reply(
        **_script(
            handoff=True,
            pacing={"tokens_per_second": 40},
            frames={"title_generation": title_frame},
        )
    )
    with LiveServer(mock) as server:
        url = httpx.get(f"{server.url}/backend-api/celsius/ws/user", headers=AUTH).json()[
            "websocket_url"
        ]
        handoff, items, ends = asyncio.run(_hand_off_and_listen(server.url, url))
        cid = handoff["conversation_id"]
        stored = httpx.get(f"{server.url}/backend-api/conversation/{cid}", headers=AUTH).json()
    assert handoff["type"] == "stream_handoff"
    sse = "".join(
        item["payload"]["payload"]["encoded_item"]
        for item in items
        if item["payload"]["payload"]["type"] == "stream-item"
    )
    assert sse.endswith("data: [DONE]\n\n")
    streamed = _sse_titles(sse.encode())
    # Each turn end is one frame on `conversations`; this turn's is the only one.
    assert len(ends) == 1
    assert ends[0][0]["payload"]["payload"] == {"conversation_id": cid}
    assert streamed == ([TITLE] if title_frame else [])
    assert _titles(ends[0]) == streamed
    assert stored["title"] == (TITLE if title_frame else UNTITLED)
