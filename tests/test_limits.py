"""Bounded stores and bodies that used to give undocumented 500s.

Each test replays a way the mock once grew without bound or broke on a body,
and checks the documented answer: a bounded store, a 422 on the web backend,
a 400 on `/v1`, a journal that still serialises.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from support import BEARER, make_config, user_turn

from mockgpt import Config, LiveServer, MockApp, MockGPT, create_app, load_catalogue
from mockgpt.errors import ConfigError
from mockgpt.journal import Entry, Failures, Journal
from mockgpt.jsonparse import JsonLimits, parse_json
from mockgpt.scripts import Fault, Script

ADMIN = "/__mockgpt__"
AUTH = {"authorization": BEARER}
JSON_ROUTES = [route for route in load_catalogue() if route.request is not None]


def _client(**changes: Any) -> TestClient:
    return TestClient(MockGPT(make_config(**changes)))


def _rejected(route: Any) -> int:
    return 400 if route.platform else 422


def _post(client: TestClient, route: Any, body: bytes) -> httpx.Response:
    headers = {"content-type": "application/json", **AUTH}
    if route.auth == "device":
        headers["oai-device-id"] = "2b6c5f3e-2a51-4d8e-9d86-0c4f1e6b7a90"
    path = route.example_path()
    if route.auth == "account":
        headers["chatgpt-account-id"] = path.split("/")[3]
    return client.request(route.method, path, content=body, headers=headers)


# -- the parser ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": NaN}', "NaN is not valid JSON"),
        ("[-Infinity]", "-Infinity is not valid JSON"),
        ("[1e999]", "Number out of range"),
        ('"\\udfff"', "Lone surrogate in string"),
        ('{"\\ud800": 1}', "Lone surrogate in string"),
        ("[" * 100_000 + "]" * 100_000, "Nested deeper than 128 levels"),
        ("[" * 129 + "]" * 129, "Nested deeper than 128 levels"),
        ("9" * 4301, "Integer longer than 1000 digits"),
        ("-" + "9" * 1001, "Integer longer than 1000 digits"),
    ],
)
def test_parse_json_refuses_what_json_forbids_or_python_cannot_hold(
    text: str, message: str
) -> None:
    with pytest.raises(json.JSONDecodeError) as refused:
        parse_json(text)
    assert refused.value.msg == message


def test_parse_json_keeps_what_is_valid_up_to_the_limits() -> None:
    assert parse_json('"\\ud83d\\ude80"') == "\U0001f680"
    assert parse_json("[" * 128 + "]" * 128) is not None
    assert parse_json('"[[[[[["') == "[[[[[["
    assert parse_json("9" * 1000) == int("9" * 1000)
    assert parse_json(b'{"a": [1.5, "x"]}') == {"a": [1.5, "x"]}
    assert parse_json("[[[1]]]", JsonLimits(depth=3)) == [[[1]]]
    with pytest.raises(json.JSONDecodeError):
        parse_json("[[[[1]]]]", JsonLimits(depth=3))


# -- bodies that gave 500s ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": ' + b"1" * 5000 + b"}",
        b'{"a": NaN}',
        b'{"a": "\\udfff"}',
    ],
    ids=["deep", "huge-integer", "nan", "surrogate"],
)
def test_every_json_route_refuses_malformed_bodies_with_its_documented_status(
    body: bytes,
) -> None:
    assert len(JSON_ROUTES) >= 20
    with _client() as client:
        for route in JSON_ROUTES:
            answer = _post(client, route, body)
            assert answer.status_code == _rejected(route), route.key
            if route.platform:
                assert "could not parse the JSON body" in answer.json()["error"]["message"]
            else:
                assert answer.json()["detail"][0]["type"] == "value_error.jsondecode"
        assert client.get(f"{ADMIN}/failures").json() == {"failures": []}


def test_a_lone_surrogate_in_a_prompt_is_refused_not_a_500() -> None:
    with _client() as client:
        chat = client.post(
            "/v1/chat/completions",
            content=b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "\\udfff"}]}',
            headers={"content-type": "application/json", **AUTH},
        )
        assert chat.status_code == 400
        assert chat.json()["error"]["type"] == "invalid_request_error"
        body = json.dumps(user_turn("PROMPT")).replace("PROMPT", "\\udfff").encode()
        turn = client.post("/backend-api/conversation", content=body, headers=AUTH)
        assert turn.status_code == 422
        assert turn.json()["detail"][0]["loc"][0] == "body"


def test_a_deep_message_metadata_leaves_no_half_made_conversation() -> None:
    with _client() as client:
        before = client.get(f"{ADMIN}/conversations").json()
        turn = user_turn("deep")
        metadata: Any = {}
        for _ in range(600):
            metadata = {"x": metadata}
        turn["messages"][0]["metadata"] = metadata
        answer = client.post("/backend-api/conversation", json=turn, headers=AUTH)
        assert answer.status_code == 422
        assert client.get(f"{ADMIN}/conversations").json() == before


def test_the_admin_api_refuses_malformed_bodies_with_422() -> None:
    with _client() as client:
        for body in (b'{"settings": {"seed": NaN}}', b"[" * 50_000, b'{"a": ' + b"7" * 5000 + b"}"):
            answer = client.post(
                f"{ADMIN}/reset", content=body, headers={"content-type": "application/json"}
            )
            assert answer.status_code == 422
            assert answer.json()["detail"][0]["type"] == "value_error.jsondecode"


@pytest.mark.parametrize("body", [b"\x0c", b"\x0b", b"\x1c", b" \x0c "])
def test_a_body_of_other_than_json_whitespace_is_not_empty(body: bytes) -> None:
    with _client() as client:
        answer = client.post(
            f"{ADMIN}/reset", content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 422
        blank = client.post(
            f"{ADMIN}/reset", content=b" \r\n\t", headers={"content-type": "application/json"}
        )
        assert blank.status_code == 200


def test_the_journal_and_the_inspector_serialise_whatever_was_sent() -> None:
    with _client() as client:
        client.post("/nowhere", content=b'{"a": NaN}')
        client.post("/backend-api/conversation", content=b'{"a": NaN}', headers=AUTH)
        client.post("/nowhere", content=b"[" * 100_000 + b"]" * 100_000)
        client.post("/nowhere", content=b"\xff\xfe binary")
        journal = client.get(f"{ADMIN}/journal")
        assert journal.status_code == 200
        entries = journal.json()["entries"]
        assert [entry["json"] for entry in entries] == [None, None, None, None]
        assert entries[0]["body"] == '{"a": NaN}'
        assert entries[3]["body_base64"] is not None
        assert client.get(f"{ADMIN}/").status_code == 200


# -- bounded stores ----------------------------------------------------------------------------


def test_big_bodies_are_journalled_cut_with_their_length_and_hash() -> None:
    big = b'{"prompt": "' + b"x" * (8 * 1024 * 1024 - 20) + b'"}'
    mock = MockGPT(make_config())
    with TestClient(mock) as client:
        for _ in range(20):
            assert client.post("/nowhere", content=big).status_code == 404
        assert mock.usage().journal_bytes < 20 * 70 * 1024
        entry = client.get(f"{ADMIN}/journal").json()["entries"][-1]
    assert entry["body_size"] == len(big)
    assert entry["body_sha256"] == hashlib.sha256(big).hexdigest()
    assert entry["body_truncated"] is True
    assert entry["body"] == big[: 64 * 1024].decode()
    assert entry["json"] is None


def test_the_journal_keeps_the_newest_entries_within_count_and_bytes() -> None:
    journal = Journal(5, max_bytes=10_000, body_bytes=1000)

    def entry(size: int) -> Entry:
        return Entry("POST", "/x", "", {}, b"a" * size, 0.0, None)

    for _ in range(8):
        journal.record(entry(10))
    assert [e.index for e in journal] == [3, 4, 5, 6, 7]
    for _ in range(20):
        journal.record(entry(5000))  # cut to 1000 bytes each
    assert journal.bytes <= 10_000
    assert all(e.size == 5000 and len(e.body) == 1000 and e.truncated for e in journal)
    assert journal.next_index == 28
    small = entry(3)
    journal.record(small)
    assert not small.truncated
    assert small.sha256 == hashlib.sha256(b"aaa").hexdigest()


def test_session_fetches_keep_a_bounded_number_of_tokens_and_a_small_state() -> None:
    with _client(auth="strict", kept_tokens=50) as client:
        first = client.get("/api/auth/session").json()["accessToken"]
        for _ in range(500):
            client.get("/api/auth/session")
        assert len(client.get(f"{ADMIN}/tokens").json()["access_tokens"]) == 50
        state = client.get(f"{ADMIN}/state")
        assert state.json()["tokens"]["access_tokens"] == 50
        assert len(state.content) < 4096
        # A token the mock no longer lists still carries its signature: strict auth takes it.
        me = client.get("/backend-api/me", headers={"authorization": f"Bearer {first}"})
        assert me.status_code == 200


def test_expired_sentinel_tokens_are_purged_and_live_ones_are_capped() -> None:
    mock = MockGPT(make_config(kept_tokens=10, sentinel="token"))
    with TestClient(mock) as client:
        for _ in range(5):
            client.post("/backend-api/sentinel/chat-requirements", json={}, headers=AUTH)
        assert len(mock.tokens()["sentinel_tokens"]) == 5
        mock.advance(600)
        live = client.post("/backend-api/sentinel/chat-requirements", json={}, headers=AUTH)
        assert mock.tokens()["sentinel_tokens"] == [live.json()["token"]]
        for _ in range(30):
            client.post("/backend-api/sentinel/chat-requirements", json={}, headers=AUTH)
        assert len(mock.tokens()["sentinel_tokens"]) == 10


def test_logged_out_turn_counts_are_kept_for_a_bounded_number_of_devices() -> None:
    authority = create_app(Config(kept_tokens=20)).authority
    for number in range(500):
        assert authority.anonymous_turn(f"device-{number}") == (None, False)
    assert len(authority.anon_turns) == 20
    assert "device-499" in authority.anon_turns


def test_failures_keep_the_newest_tracebacks_each_cut() -> None:
    failures = Failures(limit=3, text_chars=100)
    for number in range(10):
        failures.append(f"failure {number}\n" + "frame\n" * 100)
    kept = list(failures)
    assert len(kept) == 3
    assert failures.total == 10
    assert kept[0].startswith("failure 7")
    assert all(len(text) < 200 for text in kept)
    assert "characters cut" in kept[0]


def test_a_failing_handler_keeps_a_bounded_failures_list(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: Any) -> Any:
        raise RuntimeError("boom")

    mock = MockGPT(make_config(kept_failures=5))
    with TestClient(mock) as client:
        monkeypatch.setattr(MockApp, "_answer", broken)
        for _ in range(40):
            assert client.get("/backend-api/me", headers=AUTH).status_code == 500
        assert len(mock.failures()) == 5
        assert client.get(f"{ADMIN}/state").json()["failures"] == 5


def test_conversations_are_bounded_by_count_least_recently_updated_first() -> None:
    mock = MockGPT(make_config(max_conversations=10, sample_conversations=0))
    with TestClient(mock) as client:
        ids: list[str] = []
        for number in range(25):
            before = {c["id"] for c in mock.conversations()}
            body = user_turn(f"turn {number}", message_id=f"aaa5e6f7-0a1b-4c2d-8e3f-{number:012d}")
            answer = client.post("/backend-api/conversation", json=body, headers=AUTH)
            assert answer.status_code == 200
            ids += [c["id"] for c in mock.conversations() if c["id"] not in before]
        assert len(ids) == 25
        listing = client.get("/backend-api/conversations", headers=AUTH).json()
        assert listing["total"] == 10
        assert {item["id"] for item in listing["items"]} == set(ids[-10:])


def test_conversations_are_bounded_by_the_bytes_clients_sent() -> None:
    mock = MockGPT(make_config(conversation_bytes=300_000, sample_conversations=0))
    with TestClient(mock) as client:
        for number in range(12):
            body = user_turn("y" * 100_000, message_id=f"bbb5e6f7-0a1b-4c2d-8e3f-{number:012d}")
            assert client.post("/backend-api/conversation", json=body, headers=AUTH).is_success
        assert mock.usage().conversation_bytes <= 300_000
        assert 1 <= len(mock.conversations()) <= 3


def test_named_snapshots_are_capped() -> None:
    with _client(max_snapshots=2) as client:
        for name in ("a", "b"):
            assert client.post(f"{ADMIN}/snapshots", json={"name": name}).status_code == 201
        refused = client.post(f"{ADMIN}/snapshots", json={"name": "c"})
        assert refused.status_code == 422
        assert "max_snapshots" in refused.json()["detail"][0]["msg"]
        # Taking one again under a kept name replaces it.
        assert client.post(f"{ADMIN}/snapshots", json={"name": "a"}).status_code == 201


def test_the_turn_limit_holds_while_the_oldest_turn_is_still_streaming() -> None:
    async def scenario() -> None:
        mock = MockGPT(Config(seed=0))
        mock.queue(Script(text="stalled answer", fault=Fault("stall", after=2, seconds=600.0)))

        def live() -> list[str]:
            return [turn["conversation_id"] for turn in mock.turns() if turn["live"]]

        async with mock.async_client(in_process=True, base_url="http://mock") as client:
            stalled = asyncio.create_task(
                client.post("/backend-api/conversation", json=user_turn("stall"), headers=AUTH)
            )
            for _ in range(1000):
                if live():
                    break
                await asyncio.sleep(0)
            [oldest] = live()
            for number in range(200):
                turn = user_turn(
                    f"more {number}", message_id=f"ccc5e6f7-0a1b-4c2d-8e3f-{number:012d}"
                )
                answer = await client.post("/backend-api/conversation", json=turn, headers=AUTH)
                assert answer.status_code == 200
            kept = [turn["conversation_id"] for turn in mock.turns()]
            assert len(kept) <= 64
            assert oldest in kept
            stalled.cancel()
            await asyncio.gather(stalled, return_exceptions=True)

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("json_max_depth", 0),
        ("json_max_int_digits", 5000),
        ("journal_entries", 0),
        ("journal_bytes", 10),
        ("kept_tokens", -1),
        ("kept_failures", 1.5),
        ("max_conversations", True),
        ("conversation_bytes", 0),
        ("max_snapshots", 10_001),
    ],
)
def test_limits_out_of_range_are_config_errors(name: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=name):
        Config(**{name: value})
    with pytest.raises(ConfigError, match="journal_body_bytes"):
        Config(journal_bytes=2048, journal_body_bytes=4096)


# -- waits end when the client leaves ---------------------------------------------------------


@pytest.mark.parametrize("wait", ["latency", "override-delay"])
def test_a_pending_wait_ends_when_the_client_hangs_up(wait: str) -> None:
    mock = MockGPT(Config(seed=0))
    if wait == "latency":
        mock.on("GET /backend-api/me").latency(600)
    else:
        mock.on("GET /backend-api/me").respond(json={"id": "x"}, delay=600)
    handlers: list[asyncio.Task[Any]] = []

    async def recorded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            task = asyncio.current_task()
            assert task is not None
            handlers.append(task)
        await mock(scope, receive, send)

    with LiveServer(recorded) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(
                b"GET /backend-api/me HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Authorization: Bearer x\r\n\r\n"
            )
            deadline = time.monotonic() + 5
            while not (handlers and mock.calls()):
                assert time.monotonic() < deadline, "the request never reached the mock"
                time.sleep(0.01)
            assert not handlers[0].done()
        hung_up = time.monotonic()
        while not handlers[0].done():
            assert time.monotonic() - hung_up < 2, "the handler still waits for a gone client"
            time.sleep(0.01)
    assert mock.calls()[0].status == 0  # nothing was sent to nobody


def test_the_config_page_names_every_config_field() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "config.md").read_text()
    missing = [field.name for field in dataclasses.fields(Config) if f"`{field.name}`" not in page]
    assert missing == []
