"""The turn's lifecycle: a dropped client does not finish it, resume follows it live."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from support import make_config
from test_conversation import AUTH, _read_events, turn_body

from mockgpt import LiveServer, create_app
from mockgpt.delta import decode_sse
from mockgpt.scripts import Fault, Pacing, Script

ANSWER = " ".join(f"word{n}" for n in range(40)) + "."


def _joined(events: list[tuple[str | None, str]]) -> str:
    return "".join(
        (f"event: {name}\n" if name else "") + f"data: {data}\n\n" for name, data in events
    )


def _answer(events: list[tuple[str | None, str]], v1: bool) -> dict[str, Any]:
    """The answer as a client reads it: decoded deltas, or the last legacy snapshot."""
    if v1:
        return dict(decode_sse(_joined(events)).messages[-1])
    frames = [json.loads(d) for _, d in events if d.startswith('{"message"')]
    return dict(frames[-1]["message"])


def _poll(predicate: Any, seconds: float = 10.0) -> bool:
    """Wait until the server's state satisfies `predicate`, bounded by a deadline."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("v1", [False, True])
def test_a_dropped_client_does_not_finish_the_turn_and_a_resume_follows_it(v1: bool) -> None:
    app = create_app(make_config(0, sample_conversations=0, clock="system"))
    script = Script.from_dict({"text": ANSWER, "pacing": {"tokens_per_second": 15}})
    with LiveServer(app) as server:
        app.conversations.book.queue(script)
        token: list[str] = []
        head, _clean = _read_events(server.url, turn_body(v1=v1), limit=6, token=token)
        cid = json.loads(next(d for _, d in head if '"conversation_id"' in d))["conversation_id"]
        assert _poll(lambda: cid in app.conversations.producers)
        status = httpx.get(
            f"{server.url}/backend-api/conversation/{cid}/stream_status", headers=AUTH
        ).json()
        detail = httpx.get(f"{server.url}/backend-api/conversation/{cid}", headers=AUTH).json()
        tail, clean = _read_events(
            server.url,
            {"conversation_id": cid, "offset": len(head)},
            "/backend-api/f/conversation/resume",
            token=token,
        )
        after = httpx.get(
            f"{server.url}/backend-api/conversation/{cid}/stream_status", headers=AUTH
        ).json()
        unread = httpx.get(f"{server.url}/backend-api/conversation/{cid}", headers=AUTH).json()
    assert status["status"] == "IS_STREAMING"
    assert detail["async_status"] == 3
    # The turn was not finished when the client left: the store holds part of it.
    answer = detail["mapping"][detail["current_node"]]["message"]
    assert answer["status"] == "in_progress"
    assert clean
    assert tail[-1] == (None, "[DONE]")
    if v1:
        assert tail[0] == ("delta_encoding", '"v1"')
        tail = tail[1:]
    decoded = _answer(head + tail, v1)
    assert decoded["content"]["parts"][0] == ANSWER
    assert decoded["status"] == "finished_successfully"
    assert after["status"] == "COMPLETE"
    assert unread["async_status"] == 4
    assert unread["mapping"][unread["current_node"]]["message"] == decoded
    assert not app.conversations.producers


# -- on the virtual clock, straight through ASGI: tasks are counted ----------------------


async def _call(app: Any, method: str, path: str, body: Any = None, *, keep: int = -1) -> bytes:
    """One request through the app; with `keep`, the client leaves after that many body chunks."""
    payload = b"" if body is None else json.dumps(body).encode()
    left = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await left.wait()
        return {"type": "http.disconnect"}

    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if keep >= 0 and len(chunks) >= keep:
                left.set()
                await asyncio.sleep(0)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", b"Bearer test"),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    return b"".join(chunks)


async def _status(app: Any, cid: str) -> str:
    raw = await _call(app, "GET", f"/backend-api/conversation/{cid}/stream_status")
    return str(json.loads(raw)["status"])


@pytest.mark.anyio
async def test_an_unread_turn_goes_on_on_the_app_clock_and_leaves_no_task() -> None:
    app = create_app(make_config(0, sample_conversations=0))
    service = app.conversations
    service.book.queue(Script.from_dict({"text": ANSWER, "pacing": {"tokens_per_second": 5}}))
    before = len(asyncio.all_tasks())
    await _call(app, "POST", "/backend-api/conversation", turn_body(), keep=4)
    (cid,) = service.producers
    assert await _status(app, cid) == "IS_STREAMING"
    assert len(asyncio.all_tasks()) == before + 1
    start = service.clock.now()
    await asyncio.gather(*service.producers.values())
    # 40 words at 5 tokens a second: the turn took its time on the clock, reading or not.
    assert service.clock.now() - start > 5
    assert len(asyncio.all_tasks()) == before
    assert not service.producers
    assert await _status(app, cid) == "COMPLETE"
    stored = service.store.get(cid)
    assert stored is not None
    assert stored.mapping[stored.current_node].message["content"]["parts"][0] == ANSWER


@pytest.mark.anyio
async def test_a_scripted_failure_while_nobody_reads_ends_the_turn_as_failure() -> None:
    app = create_app(make_config(0, sample_conversations=0))
    service = app.conversations
    # Paced, so the client leaves mid-stream: ready events would leave in one write.
    pacing = Pacing(tokens_per_second=50)
    script = Script(text=ANSWER, fault=Fault("error_envelope", after=12), pacing=pacing)
    service.book.queue(script)
    await _call(app, "POST", "/backend-api/conversation", turn_body(v1=True), keep=3)
    (cid,) = service.producers
    await asyncio.gather(*service.producers.values())
    assert await _status(app, cid) == "FAILURE"
    stored = service.store.get(cid)
    assert stored is not None
    assert stored.mapping[stored.current_node].message["content"]["parts"][0] != ANSWER


@pytest.mark.anyio
async def test_stopping_the_server_cancels_the_unread_turns() -> None:
    app = create_app(make_config(0, sample_conversations=0, clock="system"))
    service = app.conversations
    before = len(asyncio.all_tasks())
    for n in range(3):
        service.book.queue(Script.from_dict({"text": ANSWER, "pacing": {"tokens_per_second": 1}}))
        body = turn_body(message_id=f"{n:08d}-0000-4000-8000-000000000000")
        await _call(app, "POST", "/backend-api/conversation", body, keep=3)
    assert len(service.producers) == 3
    assert len(asyncio.all_tasks()) == before + 3
    await service.close()
    assert not service.producers
    assert len(asyncio.all_tasks()) == before
    assert not any(turn.live for turn in service.turns.values())


# -- stop_conversation, async_status, conversation/init --------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("v1", [False, True])
async def test_stop_conversation_ends_a_live_turn_and_stores_it_interrupted(v1: bool) -> None:
    app = create_app(make_config(0, sample_conversations=0, clock="system"))
    app.conversations.book.queue(
        Script.from_dict({"text": ANSWER, "pacing": {"tokens_per_second": 20}})
    )
    with LiveServer(app) as server:
        async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=20) as client:
            raw = b""
            stopped: dict[str, Any] = {}
            async with client.stream(
                "POST", "/backend-api/conversation", json=turn_body(v1=v1)
            ) as response:
                async for chunk in response.aiter_raw():
                    raw += chunk
                    if not stopped and raw.count(b"\n\n") >= 8:
                        cid = json.loads(
                            next(
                                line[6:]
                                for line in raw.decode().splitlines()
                                if line.startswith("data: {") and '"conversation_id"' in line
                            )
                        )["conversation_id"]
                        answer = await client.post(
                            "/backend-api/stop_conversation",
                            json={"conversation_id": cid, "exclude_async_types": []},
                        )
                        stopped = answer.json()
            again = await client.post(
                "/backend-api/stop_conversation", json={"conversation_id": cid}
            )
            detail = (await client.get(f"/backend-api/conversation/{cid}")).json()
            status = (await client.get(f"/backend-api/conversation/{cid}/stream_status")).json()
    events = parse_events(raw)
    assert events[-1] == (None, "[DONE]")
    answer_message = _answer(events, v1)
    assert stopped == {"status": "ok", "last_message_id": answer_message["id"]}
    assert again.json() == {"status": "ok", "last_message_id": None}
    assert answer_message["status"] == "finished_partial_completion"
    assert answer_message["metadata"]["finish_details"] == {"type": "interrupted"}
    text = answer_message["content"]["parts"][0]
    assert ANSWER.startswith(text)
    assert text != ANSWER
    assert not any('"last_token"' in data for _, data in events)
    if v1:
        assert json.loads(events[-2][1])["type"] == "message_stream_complete"
    assert detail["mapping"][detail["current_node"]]["message"] == answer_message
    assert detail["async_status"] is None
    assert status["status"] == "COMPLETE"


def parse_events(raw: bytes) -> list[tuple[str | None, str]]:
    from test_conversation import parse

    return parse(raw)


@pytest.mark.anyio
async def test_stopping_an_unread_turn_ends_its_task_and_its_resume() -> None:
    app = create_app(make_config(0, sample_conversations=0))
    service = app.conversations
    service.book.queue(Script.from_dict({"text": ANSWER, "pacing": {"tokens_per_second": 5}}))
    before = len(asyncio.all_tasks())
    await _call(app, "POST", "/backend-api/conversation", turn_body(v1=True), keep=6)
    (cid,) = service.producers
    raw = await _call(app, "POST", "/backend-api/stop_conversation", {"conversation_id": cid})
    assert json.loads(raw)["last_message_id"] == service.turns[cid].assistant_id
    await asyncio.sleep(0)
    assert not service.producers
    assert len(asyncio.all_tasks()) == before
    assert await _status(app, cid) == "COMPLETE"
    stored = service.store.get(cid)
    assert stored is not None
    assert stored.async_status is None
    assert stored.mapping[stored.current_node].message["status"] == "finished_partial_completion"


def test_async_status_is_reset_by_the_client_and_conversation_init_answers_post() -> None:
    from starlette.testclient import TestClient

    app = create_app(make_config(0))
    with TestClient(app) as client:
        cid = client.get("/backend-api/conversations", headers=AUTH).json()["items"][0]["id"]
        # An unread background result, which no script or setting leaves behind.
        app.conversations.store.get(cid).async_status = 4  # type: ignore[union-attr]
        reset = client.post(
            f"/backend-api/conversation/{cid}/async-status", json={"status": None}, headers=AUTH
        )
        detail = client.get(f"/backend-api/conversation/{cid}", headers=AUTH).json()
        unknown = client.post(
            "/backend-api/conversation/00000000-0000-4000-8000-000000000000/async-status",
            json={"status": None},
            headers=AUTH,
        )
        posted = client.post(
            "/backend-api/conversation/init",
            json={"gizmo_id": None, "conversation_id": None, "timezone_offset_min": 300},
            headers=AUTH,
        )
        got = client.get("/backend-api/conversation/init", headers=AUTH)
    assert reset.json() == {"success": True}
    assert detail["async_status"] is None
    assert unknown.status_code == 404
    assert posted.status_code == 200
    assert posted.json() == got.json()
    assert "limits_progress" in posted.json()


@pytest.mark.anyio
async def test_the_admin_api_shows_an_unread_live_turn() -> None:
    from mockgpt import MockGPT

    mock = MockGPT(make_config(0, sample_conversations=0))
    mock.queue(Script.from_dict({"text": ANSWER, "pacing": {"tokens_per_second": 5}}))
    await _call(mock, "POST", "/backend-api/conversation", turn_body(), keep=4)
    shown = json.loads(await _call(mock, "GET", "/__mockgpt__/turns"))
    (running,) = shown
    for _ in range(100_000):  # the turn goes on without its reader, on the virtual clock
        if mock.turns()[0]["status"] == "COMPLETE":
            break
        await asyncio.sleep(0)
    done = mock.turns()
    assert running["conversation_id"] == done[0]["conversation_id"]
    assert running["live"] is True
    assert running["unread"] is True
    assert running["status"] == "IS_STREAMING"
    assert running["sent"] < done[0]["sent"]
    assert done[0]["status"] == "COMPLETE"
    assert done[0]["unread"] is False


def test_a_stream_outlives_the_request_body_timeout() -> None:
    """The body timeout bounds the wait for the request's body, not the answer's length."""
    app = create_app(make_config(0, sample_conversations=0, clock="system"))
    app.conversations.book.queue(
        Script.from_dict({"text": ANSWER, "pacing": {"tokens_per_second": 40}})
    )
    with LiveServer(app, body_timeout=0.3) as server:
        started = time.monotonic()
        with httpx.stream(
            "POST",
            server.url + "/backend-api/conversation",
            json=turn_body(v1=True),
            headers=AUTH,
            timeout=20,
        ) as response:
            raw = b"".join(response.iter_raw())
        took = time.monotonic() - started
    assert took > 0.6  # 40 words at 40 a second: well past the body timeout
    assert raw.endswith(b"data: [DONE]\n\n")
    assert decode_sse(raw.decode()).messages[-1]["content"]["parts"][0] == ANSWER
