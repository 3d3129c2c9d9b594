"""Stream handoff: the POST ends with `stream_handoff`, the rest comes by WebSocket or resume."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import websockets
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect
from support import make_config
from test_conversation import AUTH, _read_events, turn_body
from websockets.exceptions import InvalidStatus

from mockgpt import LiveServer, MockGPT, create_app
from mockgpt.delta import decode_sse

ANSWER = " ".join(f"token{n}" for n in range(30)) + "."


def _joined(events: list[tuple[str | None, str]]) -> str:
    return "".join(
        (f"event: {name}\n" if name else "") + f"data: {data}\n\n" for name, data in events
    )


def _final_text(sse: str) -> str:
    """The answer's text as a v1 client decodes it from a whole stream."""
    message = decode_sse(sse).messages[-1]
    return "".join(part for part in message["content"]["parts"] if isinstance(part, str))


def _frames(events: list[tuple[str | None, str]]) -> list[dict[str, Any]]:
    return [json.loads(data) for name, data in events if name is None and data.startswith("{")]


def _socket_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _subscribe(topic: str, offset: str, ident: int = 1) -> str:
    return json.dumps(
        [{"id": ident, "command": {"type": "subscribe", "topic_id": topic, "offset": offset}}]
    )


def _items(messages: list[dict[str, Any]]) -> tuple[str, bool]:
    """The SSE text of stream items (deduplicated by id), and whether `done` came."""
    seen: set[str] = set()
    text, done = "", False
    for message in messages:
        payload = message["payload"]["payload"]
        if payload["type"] == "done":
            done = True
        elif payload["type"] == "stream-item" and payload["stream_item_id"] not in seen:
            seen.add(payload["stream_item_id"])
            text += payload["encoded_item"]
    return text, done


def _unbroken(prompt: str, model: str, script: dict[str, Any] | None = None) -> str:
    """The answer of the same turn streamed whole (no handoff), on a fresh app."""
    mock = MockGPT(make_config(0, sample_conversations=0))
    mock.reply(**{**(script or {}), "handoff": False})
    with TestClient(mock) as client:
        body = {**turn_body(prompt, v1=True), "model": model}
        return _final_text(client.post("/backend-api/conversation", json=body, headers=AUTH).text)


def _handed_off(client: TestClient, prompt: str, model: str) -> tuple[dict[str, Any], str]:
    body = {**turn_body(prompt, v1=True), "model": model}
    response = client.post("/backend-api/conversation", json=body, headers=AUTH)
    assert response.status_code == 200
    blocks = [block for block in response.text.split("\n\n") if block]
    assert blocks[-1] == "data: [DONE]"
    handoff = json.loads(blocks[-2].removeprefix("data: "))
    return handoff, response.headers["x-conduit-token"]


def test_a_pro_turn_hands_off_after_a_short_stub_with_both_options() -> None:
    mock = MockGPT(make_config(0, sample_conversations=0))
    with TestClient(mock) as client:
        body = {**turn_body("Plan a trip", v1=True), "model": "gpt-5-pro"}
        text = client.post("/backend-api/conversation", json=body, headers=AUTH).text
        blocks = [block for block in text.split("\n\n") if block]
        kinds = [json.loads(b[6:])["type"] for b in blocks if b.startswith("data: {")]
        handoff = json.loads(blocks[-2][6:])
        turns = {turn["conversation_id"]: turn for turn in mock.turns()}
    assert blocks[0] == 'event: delta_encoding\ndata: "v1"'
    assert kinds == ["resume_conversation_token", "input_message", "stream_handoff"]
    assert blocks[-1] == "data: [DONE]"
    exchange = handoff["turn_exchange_id"]
    topic = f"conversation-turn-{exchange}"
    assert handoff["options"] == [
        {"type": "resume_sse_endpoint", "topic_id": topic},
        {"type": "subscribe_ws_topic", "topic_id": topic},
    ]
    assert turns[handoff["conversation_id"]]["topic_id"] == topic
    assert turns[handoff["conversation_id"]]["handoff"] is True


@pytest.mark.parametrize(
    ("model", "script", "hands_off"),
    [
        ("gpt-5-pro", None, True),
        ("gpt-5-thinking", None, False),
        ("gpt-4o", None, False),
        ("gpt-4o", {"handoff": True}, True),
        ("gpt-5-pro", {"handoff": False}, False),
    ],
)
def test_which_turns_hand_off(model: str, script: dict[str, Any] | None, hands_off: bool) -> None:
    mock = MockGPT(make_config(0, sample_conversations=0))
    if script is not None:
        mock.reply(**script)
    with TestClient(mock) as client:
        body = {**turn_body("Hello", v1=True), "model": model}
        text = client.post("/backend-api/conversation", json=body, headers=AUTH).text
    assert ('"type": "stream_handoff"' in text) is hands_off
    assert ('"resume_with_websockets": true' in text) is False  # the stub has no metadata frame
    if not hands_off:
        assert '"resume_with_websockets": false' in text


def test_a_legacy_client_of_a_pro_model_gets_the_whole_stream() -> None:
    app = create_app(make_config(0, sample_conversations=0))
    with TestClient(app) as client:
        body = {**turn_body("Hello"), "model": "gpt-5-pro"}
        text = client.post("/backend-api/conversation", json=body, headers=AUTH).text
    assert "stream_handoff" not in text
    assert text.endswith("data: [DONE]\n\n")
    assert '"end_turn": true' in text


def test_a_resume_after_a_handoff_streams_the_turn_from_its_start() -> None:
    prompt, model = "Explain tides", "gpt-5-pro"
    app = create_app(make_config(0, sample_conversations=0))
    with TestClient(app) as client:
        handoff, token = _handed_off(client, prompt, model)
        cid = handoff["conversation_id"]
        resumed = client.post(
            "/backend-api/f/conversation/resume",
            json={"conversation_id": cid, "offset": 0},
            headers={
                **AUTH,
                "x-conduit-token": token,
                "x-oai-stream-handoff-attempt-id": "c0ffee00-0000-4000-8000-000000000001",
            },
        )
        stored = client.get(f"/backend-api/conversation/{cid}", headers=AUTH).json()
    assert resumed.status_code == 200
    assert resumed.text.startswith('event: delta_encoding\ndata: "v1"\n\n')
    assert resumed.text.endswith("data: [DONE]\n\n")
    assert '"resume_with_websockets": true' in resumed.text
    text = _final_text(resumed.text)
    assert text == _unbroken(prompt, model)
    answer = stored["mapping"][stored["current_node"]]["message"]
    assert answer["content"]["parts"] == [text]


def test_a_socket_subscribe_in_process_catches_up_and_reconnects_from_an_offset() -> None:
    prompt, model = "Explain tides", "gpt-5-pro"
    app = create_app(make_config(0, sample_conversations=0))
    with TestClient(app) as client:
        handoff, _ = _handed_off(client, prompt, model)
        topic = handoff["options"][1]["topic_id"]
        url = client.get("/backend-api/celsius/ws/user", headers=AUTH).json()["websocket_url"]
        assert url.startswith("ws://testserver/ws/user/")
        with client.websocket_connect(_socket_path(url)) as socket:
            socket.send_text(_subscribe(topic, "0", 5))
            reply = json.loads(socket.receive_text())[0]
        catchups = reply["reply"]["catchups"]
        middle = catchups[len(catchups) // 2]["offset"]
        with client.websocket_connect(_socket_path(url)) as socket:
            socket.send_text(_subscribe(topic, middle, 7))
            again = json.loads(socket.receive_text())[0]
    assert reply["id"] == 5
    assert reply["type"] == "reply"
    assert reply["reply"]["recovered"] is True
    assert reply["reply"]["last_offset"] == catchups[-2]["offset"]
    whole, done = _items(catchups)
    assert done
    assert whole.startswith('event: delta_encoding\ndata: "v1"\n\n')
    assert whole.endswith("data: [DONE]\n\n")
    assert _final_text(whole) == _unbroken(prompt, model)
    rest = again["reply"]["catchups"]
    assert rest == catchups[len(catchups) // 2 + 1 :]
    items = [m["payload"]["payload"] for m in catchups[:-1]]
    assert items[0]["parent_stream_item_id"] is None
    for before, after in itertools.pairwise(items):
        assert after["parent_stream_item_id"] == before["stream_item_id"]
        assert after["server_timestamp_ms"] >= before["server_timestamp_ms"]


@pytest.mark.parametrize(
    "path",
    [
        "/ws/user/{user}?verify=1-00",
        "/ws/user/{user}",
        "/ws/user/someone-else?verify={verify}",
        "/p3/ws/user/{user}?verify={stale}",
        "/backend-api/celsius/ws/user/socket",
        "/ws/user/{user}?verify=1-%C3%A9",
        "/ws/user/{user}?verify=99999999999999999999-00",
    ],
)
def test_a_bad_or_expired_verify_is_refused_with_401_before_the_upgrade(path: str) -> None:
    app = create_app(make_config(0, sample_conversations=0))
    with TestClient(app) as client:
        url = client.get("/backend-api/celsius/ws/user", headers=AUTH).json()["websocket_url"]
        user = urlsplit(url).path.rsplit("/", 1)[1]
        verify = urlsplit(url).query.removeprefix("verify=")
        stale = app.celsius.verify_token(app.clock.now() - 7200)
        target = path.format(user=user, verify=verify, stale=stale)
        with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect(target):
            pass
    assert refused.value.status_code == 401
    assert refused.value.json() == {"detail": "Invalid or expired verify token"}


def test_the_socket_accepts_its_other_paths_and_refuses_foreign_origins() -> None:
    app = create_app(make_config(0, sample_conversations=0))
    with TestClient(app) as client:
        url = client.get("/backend-api/celsius/ws/user", headers=AUTH).json()["websocket_url"]
        query = urlsplit(url).query
        user = urlsplit(url).path.rsplit("/", 1)[1]
        for path in (
            f"/p24/ws/user/{user}?{query}",
            f"/backend-api/celsius/ws/user/socket?{query}",
        ):
            with client.websocket_connect(path) as socket:
                socket.send_text(json.dumps([{"id": 1, "command": {"type": "connect"}}]))
                assert json.loads(socket.receive_text()) == [
                    {"id": 1, "type": "reply", "reply": {"type": "connect", "subscriptions": {}}}
                ]
        with client.websocket_connect("/backend-api/celsius/ws/user/socket", headers=AUTH):
            pass  # the socket path also takes the bearer token
        with (
            pytest.raises(WebSocketDenialResponse) as foreign,
            client.websocket_connect(_socket_path(url), headers={"origin": "https://evil.example"}),
        ):
            pass
    assert foreign.value.status_code == 403


def test_the_socket_speaks_the_rest_of_the_protocol() -> None:
    mock = MockGPT(make_config(0, sample_conversations=0))
    with TestClient(mock) as client:
        me = client.get("/backend-api/me", headers=AUTH).json()["id"]
        url = client.get("/backend-api/celsius/ws/user", headers=AUTH).json()["websocket_url"]
        with client.websocket_connect(_socket_path(url)) as socket:
            socket.send_text("[]")  # a keep-alive: no answer
            socket.send_text(
                json.dumps({"id": 2, "command": {"type": "subscribe", "topic_id": "conversations"}})
            )
            subscribed = json.loads(socket.receive_text())
            socket.send_text(
                json.dumps(
                    [
                        {
                            "id": 3,
                            "command": {"type": "presence", "presence": {"state": "foreground"}},
                        },
                        {
                            "id": 4,
                            "command": {"type": "subscribe", "topic_id": "conversation-turn-x"},
                        },
                        {"id": 5, "command": {"type": "unsubscribe", "topic_id": "conversations"}},
                        {"id": 6, "command": {"type": "subscribe", "topic_id": 7}},
                        {"id": 7, "command": {"type": "teleport"}},
                    ]
                )
            )
            replies = json.loads(socket.receive_text())
            sockets = mock.sockets()
            socket.send_text("not json")
            with pytest.raises(WebSocketDisconnect) as closed:
                socket.receive_text()
    assert subscribed == [
        {
            "id": 2,
            "type": "reply",
            "reply": {
                "type": "subscribe",
                "topic_id": "conversations",
                "last_offset": "0",
                "recovered": False,
                "catchups": [],
            },
        }
    ]
    assert [reply["reply"] for reply in replies] == [
        {"type": "presence"},
        {
            "type": "subscribe",
            "topic_id": "conversation-turn-x",
            "last_offset": "0",
            "recovered": False,
            "catchups": [],
        },
        {"type": "unsubscribe", "topic_id": "conversations"},
        {"type": "subscribe", "topic_id": 7, "error": "invalid_topic"},
        {"type": "teleport", "error": "unknown_command"},
    ]
    assert sockets == [
        {
            "user": me,
            "topics": ["conversation-turn-x"],
            "presence": "foreground",
            "queued": 0,
        }
    ]
    assert closed.value.code == 1007


def test_subscriptions_are_bounded() -> None:
    app = create_app(make_config(0, sample_conversations=0))
    with TestClient(app) as client:
        url = client.get("/backend-api/celsius/ws/user", headers=AUTH).json()["websocket_url"]
        with client.websocket_connect(_socket_path(url)) as socket:
            commands = [
                {"id": n, "command": {"type": "subscribe", "topic_id": f"topic-{n}"}}
                for n in range(40)
            ]
            socket.send_text(json.dumps(commands))
            replies = json.loads(socket.receive_text())
    errors = [reply for reply in replies if "error" in reply["reply"]]
    assert len(replies) == 40
    assert len(errors) == 40 - 32
    assert errors[0]["reply"]["error"] == "too_many_subscriptions"


# -- on a live server, with a real WebSocket client ---------------------------------


async def _read_until_done(socket: Any, topic: str, offset: str) -> list[dict[str, Any]]:
    """Subscribe and gather the topic's messages (catch-ups, then live) until `done`."""
    await socket.send(_subscribe(topic, offset))
    messages: list[dict[str, Any]] = []
    async with asyncio.timeout(20):
        while True:
            for item in json.loads(await socket.recv()):
                if item.get("type") == "reply":
                    messages += item["reply"]["catchups"]
                elif item.get("topic_id") == topic:
                    messages.append(item)
            if messages and messages[-1]["payload"]["payload"]["type"] == "done":
                return messages


def test_a_live_socket_gets_the_rest_of_a_handed_off_turn_and_catches_up_after_a_reconnect() -> (
    None
):
    prompt, model = "Say the tokens", "gpt-4o"
    script = {"text": ANSWER, "pacing": {"tokens_per_second": 40}, "handoff": True}
    mock = MockGPT(make_config(0, sample_conversations=0, clock="system"))
    mock.reply(**script)
    with LiveServer(mock) as server:
        body = {**turn_body(prompt, v1=True), "model": model}
        stub, clean = _read_events(server.url, body)
        handoff = _frames(stub)[-1]
        topic = handoff["options"][1]["topic_id"]
        url = httpx.get(f"{server.url}/backend-api/celsius/ws/user", headers=AUTH).json()[
            "websocket_url"
        ]

        async def follow() -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
            async with websockets.connect(url) as socket:
                await socket.send(json.dumps([{"id": 9, "command": {"type": "connect"}}]))
                assert json.loads(await socket.recv())[0]["reply"]["type"] == "connect"
                live = await _read_until_done(socket, topic, "0")
            # A new socket, resubscribing from an offset in the middle: the rest only.
            middle = live[len(live) // 2]["offset"]
            async with websockets.connect(url) as socket:
                rest = await _read_until_done(socket, topic, middle)
            return live, rest, True

        [streaming] = [
            t["live"] for t in mock.turns() if t["conversation_id"] == handoff["conversation_id"]
        ]
        live, rest, _ = asyncio.run(follow())
    assert clean
    assert streaming  # the turn was still being made when the stub ended
    assert handoff["type"] == "stream_handoff"
    whole, done = _items(live)
    assert done
    assert _final_text(whole) == _unbroken(prompt, model, script) == ANSWER
    kinds = {m["payload"]["payload"]["type"] for m in live}
    assert kinds <= {"stream-item", "heartbeat", "done"}
    items = [m for m in live if m["payload"]["payload"]["type"] == "stream-item"]
    after = [m for m in rest if m["payload"]["payload"]["type"] == "stream-item"]
    assert after == items[items.index(live[len(live) // 2]) + 1 :]


def _forged_socket_url(server: LiveServer) -> str:
    """The socket URL the server hands out, with its verify signature replaced by zeros."""
    url = httpx.get(f"{server.url}/backend-api/celsius/ws/user", headers=AUTH).json()
    return str(url["websocket_url"]).rsplit("-", 1)[0] + "-" + "0" * 64


def test_a_bad_verify_is_refused_with_401_on_a_live_server() -> None:
    app = create_app(make_config(0, sample_conversations=0, clock="system"))
    with LiveServer(app) as server:
        forged = _forged_socket_url(server)

        async def connect() -> int:
            try:
                async with websockets.connect(forged):
                    return 101
            except InvalidStatus as refused:
                return refused.response.status_code

        status = asyncio.run(connect())
    assert status == 401


def test_the_conversations_topic_hears_a_turn_end() -> None:
    app = create_app(make_config(0, sample_conversations=0))
    with TestClient(app) as client:
        url = client.get("/backend-api/celsius/ws/user", headers=AUTH).json()["websocket_url"]
        with client.websocket_connect(_socket_path(url)) as socket:
            socket.send_text(_subscribe("conversations", "0"))
            socket.receive_text()
            handoff, _ = _handed_off(client, "Hello", "gpt-5-pro")
            heard = json.loads(socket.receive_text())
    cid = handoff["conversation_id"]
    assert heard[0]["payload"] == {
        "type": "conversation-turn-complete",
        "payload": {"conversation_id": cid},
    }
    assert heard[1]["payload"]["type"] == "conversation-update"
    assert heard[1]["payload"]["payload"] == {
        "conversation_id": cid,
        "update_type": "set-conversation-async-status",
        "update_content": {"conversation_async_status": 4},
    }


def test_a_first_turn_announces_its_title_on_the_conversations_topic() -> None:
    app = create_app(make_config(0, sample_conversations=0))
    with TestClient(app) as client:
        url = client.get("/backend-api/celsius/ws/user", headers=AUTH).json()["websocket_url"]
        with client.websocket_connect(_socket_path(url)) as socket:
            socket.send_text(_subscribe("conversations", "0"))
            socket.receive_text()
            first = client.post(
                "/backend-api/conversation", json=turn_body("Hi", v1=True), headers=AUTH
            )
            cid = _cid(first.text)
            heard = json.loads(socket.receive_text())
            stored = client.get(f"/backend-api/conversation/{cid}", headers=AUTH).json()
            body = turn_body(
                "And then?",
                v1=True,
                conversation_id=cid,
                parent=stored["current_node"],
                message_id="bbb1f2e3-0b1c-4d2e-8f3a-4b5c6d7e8f91",
            )
            assert (
                client.post("/backend-api/conversation", json=body, headers=AUTH).status_code == 200
            )
            later = json.loads(socket.receive_text())
    updates = [
        m["payload"]["payload"] for m in heard if m["payload"]["type"] == "conversation-update"
    ]
    assert {
        "conversation_id": cid,
        "update_type": "title-update",
        "update_content": {"title": stored["title"]},
    } in updates
    assert stored["title"]
    assert later[0]["payload"]["type"] == "conversation-turn-complete"
    assert all(m["payload"]["payload"].get("update_type") != "title-update" for m in later)


def _cid(sse: str) -> str:
    return str(decode_sse(sse).channels[0]["conversation_id"])


def test_the_admin_api_lists_open_sockets() -> None:
    mock = MockGPT(make_config(0, sample_conversations=0))
    with TestClient(mock) as client:
        url = client.get("/backend-api/celsius/ws/user", headers=AUTH).json()["websocket_url"]
        before = client.get("/__mockgpt__/sockets").json()
        with client.websocket_connect(_socket_path(url)) as socket:
            socket.send_text(_subscribe("conversations", "0"))
            socket.receive_text()
            during = client.get("/__mockgpt__/sockets").json()
    assert before == []
    user = urlsplit(url).path.rsplit("/", 1)[1]  # the one the socket's URL names
    assert during == [
        {"user": user, "topics": ["conversations"], "presence": "background", "queued": 0}
    ]


def test_the_models_list_decides_which_models_think_and_which_are_pro() -> None:
    from mockgpt.replies import is_pro_model, is_reasoning_model

    app = create_app(make_config(0, sample_conversations=0))
    with TestClient(app) as client:
        listed = client.get("/backend-api/models", headers=AUTH).json()["models"]
        kinds = {model["slug"]: model["reasoning_type"] for model in listed}
        body = {**turn_body("Hello", v1=True), "model": "gpt-5-t-mini"}
        text = client.post("/backend-api/conversation", json=body, headers=AUTH).text
    for slug, kind in kinds.items():
        assert is_reasoning_model(slug) is (kind in ("reasoning", "pro"))
        assert is_pro_model(slug) is (kind == "pro")
    # `t-mini` names no thinking in its slug: the list alone marks it as reasoning.
    assert kinds["gpt-5-t-mini"] == "reasoning"
    assert '"content_type": "thoughts"' in text
    assert is_reasoning_model("o4-unlisted") is True
    assert is_pro_model("gpt-9-pro") is True
    assert is_pro_model("gpt-9-prompt") is False


def test_a_stopped_handed_off_turn_ends_on_the_socket_as_its_stream_would() -> None:
    script = {"text": ANSWER, "pacing": {"tokens_per_second": 8}, "handoff": True}
    mock = MockGPT(make_config(0, sample_conversations=0, clock="system"))
    mock.reply(**script)
    with TestClient(mock) as client:
        handoff, _ = _handed_off(client, "Count", "gpt-4o")
        topic = handoff["options"][1]["topic_id"]
        url = client.get("/backend-api/celsius/ws/user", headers=AUTH).json()["websocket_url"]
        with client.websocket_connect(_socket_path(url)) as socket:
            socket.send_text(_subscribe(topic, "0"))
            messages = json.loads(socket.receive_text())[0]["reply"]["catchups"]
            stop = {"conversation_id": handoff["conversation_id"], "exclude_async_types": []}
            stopped = client.post("/backend-api/stop_conversation", json=stop, headers=AUTH)
            while messages[-1:] == [] or messages[-1]["payload"]["payload"]["type"] != "done":
                value = json.loads(socket.receive_text())
                messages += value if isinstance(value, list) else [value]
    assert stopped.json()["status"] == "ok"
    sse, done = _items(messages)
    assert done
    assert sse.endswith("data: [DONE]\n\n")
    answer = decode_sse(sse).messages[-1]
    assert answer["status"] == "finished_partial_completion"
    assert answer["metadata"]["finish_details"] == {"type": "interrupted"}
    assert ANSWER.startswith("".join(answer["content"]["parts"]))


def test_a_refused_socket_leaves_no_error_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    # A 401 before the upgrade is the answer, not a failure: uvicorn logged
    # "ASGI callable returned without completing handshake." at ERROR for each one.
    caplog.set_level(logging.INFO)
    app = create_app(make_config(0, sample_conversations=0, clock="system"))
    with LiveServer(app) as server:
        forged = _forged_socket_url(server)

        async def refused() -> int:
            with pytest.raises(InvalidStatus) as refusal:
                async with websockets.connect(forged):
                    pass
            return refusal.value.response.status_code

        assert asyncio.run(refused()) == 401
        assert httpx.get(f"{server.url}/api/auth/session").status_code == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
