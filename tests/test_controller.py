"""The Python control surface: scripts, overrides, faults, the journal, state."""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest
from support import user_turn

from mockgpt import Config, MockGPT
from mockgpt.controller import MockFailure, Usage

AUTH = {"authorization": "Bearer t"}
TURN = user_turn()


def last_text(body: str) -> str:
    frames = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
    text: str = frames[-1]["message"]["content"]["parts"][0]
    return text


def test_reply_answers_the_next_turn_over_a_live_server() -> None:
    with MockGPT() as mock, mock.client(headers=AUTH) as client:
        mock.reply("Scripted hello!")
        first = client.post("/backend-api/conversation", json=TURN)
        second = client.post("/backend-api/conversation", json=TURN)
        assert mock.url.startswith("http://127.0.0.1:")
        assert mock.openai_url == mock.url + "/v1"
        assert mock.backend_url == mock.url + "/backend-api/"
    assert last_text(first.text) == "Scripted hello!"
    assert last_text(second.text) != "Scripted hello!"


def test_overrides_sequences_and_faults_are_scoped_by_times() -> None:
    mock = MockGPT()
    with mock.test_client() as client:
        mock.on("GET /backend-api/me").sequence(
            {"status": 500, "json": {"detail": "boom"}},
            {"status": 503, "text": "try later", "headers": {"retry-after": "2"}},
        )
        first = client.get("/backend-api/me", headers=AUTH)
        second = client.get("/backend-api/me", headers=AUTH)
        third = client.get("/backend-api/me", headers=AUTH)
        mock.on("GET /backend-api/models").fail("malformed")
        broken = client.get("/backend-api/models", headers=AUTH)
        mock.on("*").respond(418, json={"detail": "teapot"}, times=None)
        everywhere = [
            client.get(path, headers=AUTH).status_code
            for path in ("/backend-api/me", "/backend-api/models")
        ]
    assert (first.status_code, first.json()) == (500, {"detail": "boom"})
    assert (second.status_code, second.text, second.headers["retry-after"]) == (
        503,
        "try later",
        "2",
    )
    assert third.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        broken.json()
    assert everywhere == [418, 418]


def test_unknown_route_names_the_nearest() -> None:
    with pytest.raises(KeyError, match="GET /backend-api/me"):
        MockGPT().on("GET /backend-api/mee")


def test_delay_waits_on_the_virtual_clock() -> None:
    mock = MockGPT()
    before = mock.now()
    with mock.test_client() as client:
        mock.on("GET /backend-api/me").respond(json={"ok": True}, delay=30)
        assert client.get("/backend-api/me", headers=AUTH).json() == {"ok": True}
    assert mock.now() - before == pytest.approx(30)


def test_connection_reset_fault() -> None:
    with MockGPT() as mock, mock.client(headers=AUTH) as client:
        mock.on("GET /backend-api/me").fail("reset")
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/backend-api/me")
        assert client.get("/backend-api/me").status_code == 200


def test_journal_records_and_asserts_with_a_useful_message() -> None:
    mock = MockGPT()
    with mock.test_client() as client:
        client.post("/backend-api/conversation", json=TURN, headers=AUTH)
        client.get("/backend-api/nothing-here")
    [call] = mock.assert_called("POST /backend-api/conversation", times=1)
    assert call.json()["messages"][0]["content"]["parts"] == ["hi there"]
    assert call.headers["authorization"] == "Bearer t"
    assert call.status == 200
    assert mock.last().route is None
    assert mock.unmatched()[0].path == "/backend-api/nothing-here"
    with pytest.raises(AssertionError) as failure:
        mock.assert_called("GET /backend-api/me")
    message = str(failure.value)
    assert "POST /backend-api/conversation -> 200" in message
    assert "nearest documented routes: GET /backend-api/me" in message


def test_reset_gives_the_state_of_a_fresh_app() -> None:
    mock = MockGPT(Config(clock="virtual", seed=3))
    with mock.test_client() as client:
        fresh = client.get("/backend-api/conversations", headers=AUTH).json()
        client.post("/backend-api/conversation", json=TURN, headers=AUTH)
        mock.on("GET /backend-api/me").respond(500, times=None)
        mock.advance(3600)
    mock.reset()
    assert mock.calls() == []
    with mock.test_client() as client:
        assert client.get("/backend-api/conversations", headers=AUTH).json() == fresh
        assert client.get("/backend-api/me", headers=AUTH).status_code == 200
    mock.reset(mock.with_settings(auth="strict"))
    assert mock.config.auth == "strict"
    with mock.test_client() as client:
        assert (
            client.get("/backend-api/me", headers={"authorization": "Bearer made-up"}).status_code
            == 401
        )


def test_usage_counts_what_the_bounded_stores_hold() -> None:
    mock = MockGPT(Config(clock="virtual", sample_conversations=0))
    assert mock.usage() == Usage(0, 0, 0, 0, 0, 0)
    prompt = "z" * 10_000
    with mock.test_client(headers=AUTH) as client:
        client.post("/backend-api/conversation", json=user_turn(prompt))
        [conversation] = mock.conversations()
        held = mock.usage()
        assert (held.journal_entries, held.conversations, held.files) == (1, 1, 0)
        assert held.journal_bytes >= len(json.dumps(user_turn(prompt)))
        assert len(prompt) < held.conversation_bytes < 2 * len(prompt)
        # A deleted conversation still counts against the limit until the store forgets it.
        path = f"/backend-api/conversation/{conversation['id']}"
        assert client.patch(path, json={"is_visible": False}).status_code == 200
        assert mock.conversations() == []
        assert mock.usage().conversations == 1
        state = client.get("/__mockgpt__/state").json()
    assert state["usage"] == json.loads(json.dumps(dataclasses.asdict(mock.usage())))
    assert state["usage"]["journal_entries"] == state["journal"] == 2
    mock.clear_journal()
    assert (mock.usage().journal_entries, mock.usage().journal_bytes) == (0, 0)


def _broken(*args: object, **kwargs: object) -> None:
    """A bug planted in the turn planner."""
    raise RuntimeError("planted")


def test_failures_inside_the_mock_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    mock = MockGPT()
    with mock.test_client() as client:
        monkeypatch.setattr("mockgpt.conversation.TurnPlanner.plan", _broken)
        response = client.post("/backend-api/conversation", json=TURN, headers=AUTH)
    assert response.status_code == 500
    with pytest.raises(MockFailure, match="POST /backend-api/conversation"):
        mock.raise_failures()


def test_advance_needs_the_virtual_clock() -> None:
    with pytest.raises(Exception, match="virtual"):
        MockGPT(Config(clock="system")).advance(1)


def test_in_process_clients_sync_and_async() -> None:
    import anyio

    mock = MockGPT()
    mock.reply("In-process hello!")
    with mock.client(in_process=True, headers=AUTH) as client:
        answer = client.post("/backend-api/conversation", json=TURN)
    assert last_text(answer.text) == "In-process hello!"

    async def go() -> str:
        mock.reply("Async hello!")
        async with mock.async_client(in_process=True, headers=AUTH) as client:
            return (await client.post("/backend-api/conversation", json=TURN)).text

    assert last_text(anyio.run(go)) == "Async hello!"
    assert len(mock.calls("POST /backend-api/conversation")) == 2


def test_async_client_on_the_live_server() -> None:
    import anyio

    async def go(mock: MockGPT) -> int:
        async with mock.async_client(headers=AUTH) as client:
            return (await client.get("/backend-api/me")).status_code

    with MockGPT() as mock:
        assert anyio.run(go, mock) == 200
        assert mock.last().key == "GET /backend-api/me"


def test_assert_called_shows_a_diff_of_the_last_body() -> None:
    mock = MockGPT()
    with mock.test_client() as client:
        client.post("/backend-api/conversation", json=TURN, headers=AUTH)
    mock.assert_called("POST /backend-api/conversation", json={"model": "auto"})
    with pytest.raises(AssertionError) as failure:
        mock.assert_called("POST /backend-api/conversation", json={"model": "gpt-5"})
    assert '-  "model": "gpt-5"' in str(failure.value)
    assert '+  "model": "auto"' in str(failure.value)
    mock.assert_not_called("GET /backend-api/me")
    with pytest.raises(AssertionError, match="no call whose body"):
        mock.assert_called("GET /backend-api/me", times=0, json={})


def test_snapshot_and_restore_bring_back_every_part_of_the_state() -> None:
    mock = MockGPT()
    with mock.test_client() as client:
        client.get("/api/auth/session")
        mock.reply("kept")
        mock.on("GET /backend-api/me").respond(500, times=None)
        taken = mock.snapshot()
        client.post("/backend-api/conversation", json=TURN, headers=AUTH)
        mock.advance(600)
        mock.clear_overrides()
        assert mock.pending_scripts() == 0
        mock.restore(taken)
        assert mock.pending_scripts() == 1
        assert mock.conversations() == []
        assert len(mock.tokens()["access_tokens"]) == 1
        assert [entry.key for entry in mock.calls()] == ["GET /api/auth/session"]
        assert client.get("/backend-api/me", headers=AUTH).status_code == 500
        assert mock.now() == taken.time
        mock.restore(taken)  # a second time: the snapshot itself was not changed
        assert mock.pending_scripts() == 1
    with pytest.raises(KeyError, match="no snapshot named 'nope'"):
        mock.restore("nope")


def test_a_restored_conversation_is_as_it_was_and_the_snapshot_outlives_later_changes() -> None:
    mock = MockGPT()
    with mock.test_client(headers=AUTH) as client:
        client.post("/backend-api/conversation", json=TURN)
        [before] = mock.conversations()
        taken = mock.snapshot()
        path = f"/backend-api/conversation/{before['id']}"
        assert client.patch(path, json={"title": "after"}).status_code == 200
        client.post("/backend-api/conversation", json=user_turn("another"))
        assert len(mock.conversations()) == 2
        mock.restore(taken)
        assert mock.conversations() == [before]
        assert mock.conversation(before["id"])["title"] == before["title"]
        assert client.patch(path, json={"is_visible": False}).status_code == 200
        assert client.get(path).status_code == 404
        mock.restore(taken)
        assert client.get(path).json()["title"] == before["title"]


def test_overrides_refuse_what_http_cannot_send() -> None:
    mock = MockGPT()
    route = mock.on("GET /backend-api/me")
    for bad, message in (
        ({"status": 101}, "final HTTP status"),
        ({"status": 600}, "final HTTP status"),
        ({"headers": {"bad name": "x"}}, "not a valid header name"),
        ({"headers": {"x-fine": "line\nbreak"}}, "printable latin-1"),
        ({"json": {}, "text": "both"}, "json or text"),
        ({"delay": -1}, "delay must be"),
        ({"text": "x", "headers": {"Content-Length": "9"}}, "set from the body"),
    ):
        with pytest.raises(ValueError, match=message):
            route.respond(**bad)
    assert mock.overrides() == []
    route.respond(204, headers={"x-kind": "empty"})
    with mock.test_client() as client:
        answer = client.get("/backend-api/me", headers=AUTH)
    assert answer.status_code == 204
    assert answer.content == b""
    assert answer.headers["x-kind"] == "empty"


def test_an_override_content_type_replaces_the_implied_one() -> None:
    mock = MockGPT()
    stream = 'data: {"v": "hi"}\n\ndata: [DONE]\n\n'
    mock.on("GET /backend-api/me").respond(
        text=stream, headers={"Content-Type": "text/event-stream; charset=utf-8"}
    )
    mock.on("GET /backend-api/me").respond(
        json=[1], headers={"content-type": "application/x-ndjson"}
    )
    with mock.test_client() as client:
        first = client.get("/backend-api/me", headers=AUTH)
        second = client.get("/backend-api/me", headers=AUTH)
    assert first.headers.get_list("content-type") == ["text/event-stream; charset=utf-8"]
    assert first.text == stream
    assert second.headers.get_list("content-type") == ["application/x-ndjson"]
    assert second.content == b"[1]"


def test_an_unclosed_in_process_client_does_not_block_exit() -> None:
    import subprocess
    import sys

    code = (
        "from mockgpt import MockGPT\n"
        "client = MockGPT().client(in_process=True)\n"
        "print(client.get('/backend-api/edge').status_code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "204"
