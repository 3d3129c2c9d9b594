"""Whole conversation turns: both encodings, the store, faults, resume."""

from __future__ import annotations

import itertools
import json
import socket
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse
from starlette.testclient import TestClient
from support import make_config

from mockgpt import LiveServer, MockGPT, create_app
from mockgpt.delta import decode_sse
from mockgpt.schemas import schema_errors
from mockgpt.scripts import Fault, HttpError, Script

AUTH = {"authorization": "Bearer test"}
USER_ID = "aaa2f2b1-5c6d-4e7f-8a9b-0c1d2e3f4a5b"
TEXT = "Voilà: naïve café, 你好, emoji 🚀 and a tab\tend."
EVENT_SCHEMA = "conversation/stream_event.json"


def turn_body(
    prompt: str = "Tell me something",
    *,
    v1: bool = False,
    conversation_id: str | None = None,
    parent: str = "client-created-root",
    message_id: str = USER_ID,
    action: str = "next",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": action,
        "messages": [
            {
                "id": message_id,
                "author": {"role": "user"},
                "content": {"content_type": "text", "parts": [prompt]},
                "metadata": {},
            }
        ],
        "conversation_id": conversation_id,
        "parent_message_id": parent,
        "model": "gpt-4o",
    }
    if action == "continue":
        body["messages"] = []
    if v1:
        body["supported_encodings"] = ["v1"]
    return body


def parse(raw: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) pairs of an SSE body, parsed by hand."""
    events = []
    for block in raw.decode("utf-8").replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data and data != [""]:
            events.append((name, "\n".join(data)))
    return events


def snapshots(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(data) for _, data in parse(raw) if data != "[DONE]"]


def new_mock(**changes: Any) -> MockGPT:
    return MockGPT(make_config(0, sample_conversations=0, **changes))


def new_client(**changes: Any) -> TestClient:
    return TestClient(new_mock(**changes))


def converse(client: TestClient, body: dict[str, Any], path: str = "/backend-api/conversation"):
    response = client.post(path, json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    return response


# -- legacy snapshots ------------------------------------------------------------------


def test_legacy_turn_sends_growing_snapshots_then_done() -> None:
    mock = new_mock()
    with TestClient(mock) as client:
        mock.queue(Script(text=TEXT))
        raw = converse(client, turn_body()).content
    events = parse(raw)
    assert events[-1] == (None, "[DONE]")
    frames = [json.loads(data) for _, data in events[:-1]]
    for frame in frames:
        assert not schema_errors(EVENT_SCHEMA, frame)
        assert set(frame) == {"message", "conversation_id", "error"}
    roles = [frame["message"]["author"]["role"] for frame in frames]
    assert roles[:2] == ["system", "user"]
    assert frames[0]["message"]["metadata"]["is_visually_hidden_from_conversation"] is True
    assistant = [
        frame["message"] for frame in frames if frame["message"]["author"]["role"] == "assistant"
    ]
    assert len({message["id"] for message in assistant}) == 1
    texts = [message["content"]["parts"][0] for message in assistant]
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))
    assert texts[-1] == TEXT
    for message in assistant[:-1]:
        assert message["status"] == "in_progress"
        assert "finish_details" not in message["metadata"]
    final = assistant[-1]
    assert final["status"] == "finished_successfully"
    assert final["end_turn"] is True
    assert final["metadata"]["finish_details"] == {"type": "stop", "stop_tokens": [200002]}
    assert frames[-1]["message"] is final or frames[-1]["message"] == final
    assert len({frame["conversation_id"] for frame in frames}) == 1


def test_messages_in_the_older_role_form_are_taken() -> None:
    # Clients written in 2023 send {"role": "user"} instead of {"author": {"role": "user"}}.
    body = turn_body("An older client")
    sent = body["messages"][0]
    sent["role"] = sent.pop("author")["role"]
    mock = new_mock()
    with TestClient(mock) as client:
        mock.match(Script(text="Matched."), prompt="older client")
        raw = converse(client, body).content
        user = [f["message"] for f in snapshots(raw) if f["message"]["author"]["role"] == "user"]
        del sent["role"]
        refused = client.post("/backend-api/conversation", json=body, headers=AUTH)
    assert user[0]["author"] == {"role": "user", "name": None, "metadata": {}}
    assert user[0]["content"]["parts"] == ["An older client"]
    assert snapshots(raw)[-1]["message"]["content"]["parts"] == ["Matched."]
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "messages", 0, "author"]


def test_bytes_escape_non_ascii_like_the_real_server() -> None:
    mock = new_mock()
    with TestClient(mock) as client:
        mock.queue(Script(text=TEXT))
        raw = converse(client, turn_body()).content
    assert raw.isascii()
    assert b"\\u4f60\\u597d" in raw
    assert b"\\ud83d\\ude80" in raw


# -- v1 delta encoding ---------------------------------------------------------------------


def test_v1_turn_decodes_to_the_last_legacy_snapshot() -> None:
    streams = {}
    for v1 in (False, True):
        mock = new_mock()
        with TestClient(mock) as client:
            mock.queue(Script(text=TEXT, chunk_words=2))
            streams[v1] = converse(client, turn_body(v1=v1)).content
    legacy_final = snapshots(streams[False])[-1]
    decoded = decode_sse(streams[True].decode())
    assert decoded.encoding == "v1"
    # The 2026 v1 envelope adds `error_code` beside `error`; legacy keeps the 2024 one.
    assert decoded.latest == {**legacy_final, "error_code": None}
    assert decoded.messages[-1] == legacy_final["message"]


def test_v1_stream_shape_and_typed_frames() -> None:
    mock = new_mock()
    with TestClient(mock) as client:
        mock.queue(Script(text=TEXT, title="A fixed title"))
        raw = converse(client, turn_body(v1=True)).content
    events = parse(raw)
    assert events[0] == ("delta_encoding", '"v1"')
    assert events[-1] == (None, "[DONE]")
    for _name, data in events[:-1]:
        assert not schema_errors(EVENT_SCHEMA, json.loads(data)), data[:200]
    typed = [json.loads(data)["type"] for name, data in events[1:-1] if name is None]
    assert typed == [
        "resume_conversation_token",
        "input_message",
        "message_marker",
        "message_marker",
        "server_ste_metadata",
        "message_stream_complete",
        "title_generation",
        "conversation_detail_metadata",
    ]
    deltas = [json.loads(data) for name, data in events if name == "delta"]
    adds = [delta for delta in deltas if "c" in delta]
    assert [delta["c"] for delta in adds] == [0, 1, 2]
    assert adds[0]["p"] == ""
    assert adds[0]["o"] == "add"
    assert "p" not in adds[1]
    assert "o" not in adds[1]
    final = deltas[-1]
    assert final["o"] == "patch"
    assert [op["p"] for op in final["v"]] == [
        "/message/content/parts/0",
        "/message/status",
        "/message/end_turn",
        "/message/metadata",
    ]
    title = next(json.loads(d) for n, d in events if n is None and '"title_generation"' in d)
    assert title["title"] == "A fixed title"
    limits = next(json.loads(d) for n, d in events if '"conversation_detail_metadata"' in d)
    assert {item["feature"] for item in limits["limits_progress"]} == {"deep_research", "odyssey"}


def test_frames_can_be_switched_off_and_bytes_made_realistic() -> None:
    frames = {name: False for name in ("title_generation", "server_ste_metadata", "message_marker")}
    script = Script.from_dict(
        {
            "text": "short answer here",
            "frames": frames,
            "realism": {"padding": True, "pings": 2, "crlf": True},
        }
    )
    mock = new_mock()
    with TestClient(mock) as client:
        mock.queue(script)
        raw = converse(client, turn_body(v1=True)).content
    assert b"\r\n\r\n" in raw
    assert b"\n\n" not in raw.replace(b"\r\n\r\n", b"")
    assert raw.count(b": ping - ") == 2
    data_lines = [line for line in raw.split(b"\r\n") if line.startswith(b"data: {")]
    assert data_lines
    assert all((len(line) + 4) % 8 == 0 for line in data_lines)
    assert all(line.endswith(b" ") or (len(line) + 4) % 8 == 0 for line in data_lines)
    for forbidden in (b"title_generation", b"server_ste_metadata", b"message_marker"):
        assert forbidden not in raw
    assert decode_sse(raw.decode()).messages[-1]["content"]["parts"][0] == "short answer here"


def test_generated_answer_follows_the_prompt_language_and_seed() -> None:
    answers = []
    for seed in (0, 0, 1):
        with TestClient(create_app(make_config(seed, sample_conversations=0))) as client:
            raw = converse(client, turn_body("请用中文解释一下什么是递归")).content
            answers.append(snapshots(raw)[-1]["message"]["content"]["parts"][0])
    assert answers[0] == answers[1]
    assert answers[0] != answers[2]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in answers[0])


# -- one consistent world ------------------------------------------------------------------


@pytest.mark.parametrize("v1", [False, True])
def test_what_was_streamed_is_what_is_stored(v1: bool) -> None:
    mock = new_mock()
    with TestClient(mock) as client:
        mock.queue(Script(text=TEXT))
        raw = converse(client, turn_body(v1=v1)).content
        final = decode_sse(raw.decode()).latest if v1 else snapshots(raw)[-1]
        cid = final["conversation_id"]
        detail = client.get(f"/backend-api/conversation/{cid}", headers=AUTH).json()
        listing = client.get("/backend-api/conversations", headers=AUTH).json()
        status = client.get(f"/backend-api/conversation/{cid}/stream_status", headers=AUTH).json()
    assert not schema_errors("conversation/detail.json", detail)
    assert detail["current_node"] == final["message"]["id"]
    assert detail["mapping"][detail["current_node"]]["message"] == final["message"]
    user = detail["mapping"][USER_ID]
    assert user["children"] == [final["message"]["id"]]
    assert detail["mapping"][user["parent"]]["message"]["author"]["role"] == "system"
    assert [item["id"] for item in listing["items"]] == [cid]
    assert listing["items"][0]["title"] == detail["title"]
    assert status["status"] == "COMPLETE"


def finals(raw: bytes, v1: bool) -> list[dict[str, Any]]:
    """The envelopes a client ends up with: every snapshot, or every decoded v1 channel."""
    if v1:
        return list(decode_sse(raw.decode()).channels.values())
    return snapshots(raw)


@pytest.mark.parametrize("v1", [False, True])
def test_second_turn_variant_and_continue_build_the_tree(v1: bool) -> None:
    mock = new_mock()
    with TestClient(mock) as client:
        mock.queue(
            Script(text="First answer."), Script(text="Second answer, cut", finish="max_tokens")
        )
        first = finals(converse(client, turn_body(v1=v1)).content, v1)[-1]
        cid, first_id = first["conversation_id"], first["message"]["id"]
        second_user = "bbb2f2b1-5c6d-4e7f-8a9b-0c1d2e3f4a5b"
        second = finals(
            converse(
                client,
                turn_body(
                    "and more?", conversation_id=cid, parent=first_id, message_id=second_user, v1=v1
                ),
            ).content,
            v1,
        )[-1]
        assert second["message"]["end_turn"] is False
        assert second["message"]["metadata"]["finish_details"]["type"] == "max_tokens"
        mock.queue(Script(text=" and the rest."))
        more = finals(
            converse(
                client,
                turn_body(
                    "",
                    conversation_id=cid,
                    parent=second["message"]["id"],
                    action="continue",
                    v1=v1,
                ),
            ).content,
            v1,
        )
        mock.queue(Script(text="A regenerated answer."))
        variant = finals(
            converse(
                client,
                turn_body(
                    "and more?",
                    conversation_id=cid,
                    parent=first_id,
                    message_id=second_user,
                    action="variant",
                    v1=v1,
                ),
            ).content,
            v1,
        )[-1]
        detail = client.get(f"/backend-api/conversation/{cid}", headers=AUTH).json()
    mapping = detail["mapping"]
    assert mapping[second_user]["parent"] == first_id
    assert mapping[second_user]["children"] == [second["message"]["id"], variant["message"]["id"]]
    continued = more[-1]["message"]
    assert continued["metadata"]["message_type"] == "continue"
    assert mapping[continued["id"]]["parent"] == second["message"]["id"]
    assert detail["current_node"] == variant["message"]["id"]
    assert [m["author"]["role"] for m in (s["message"] for s in more)] == ["assistant"] * len(more)


def test_unknown_conversation_is_404_and_changes_nothing() -> None:
    with new_client() as client:
        response = client.post(
            "/backend-api/conversation",
            headers=AUTH,
            json=turn_body(conversation_id="0f0e0d0c-0b0a-4909-8807-060504030201"),
        )
        assert response.status_code == 404
        assert response.json()["detail"]["code"] == "conversation_not_found"
        assert client.get("/backend-api/conversations", headers=AUTH).json()["total"] == 0


def test_patch_rename_archive_delete_and_clear() -> None:
    with new_client() as client:
        ids = []
        for n in range(3):
            frames = snapshots(converse(client, turn_body(f"question {n}")).content)
            ids.append(frames[-1]["conversation_id"])
        patch = client.patch(
            f"/backend-api/conversation/{ids[0]}", json={"title": "Renamed"}, headers=AUTH
        )
        assert patch.json() == {"success": True}
        assert (
            client.get(f"/backend-api/conversation/{ids[0]}", headers=AUTH).json()["title"]
            == "Renamed"
        )
        client.patch(
            f"/backend-api/conversation/{ids[1]}", json={"is_archived": True}, headers=AUTH
        )
        client.patch(
            f"/backend-api/conversation/{ids[2]}", json={"is_visible": False}, headers=AUTH
        )
        listed = client.get("/backend-api/conversations", headers=AUTH).json()
        assert [item["id"] for item in listed["items"]] == [ids[0]]
        archived = client.get("/backend-api/conversations?is_archived=true", headers=AUTH).json()
        assert [item["id"] for item in archived["items"]] == [ids[1]]
        assert client.get(f"/backend-api/conversation/{ids[2]}", headers=AUTH).status_code == 404
        assert (
            client.patch(
                f"/backend-api/conversation/{ids[2]}", json={"title": "x"}, headers=AUTH
            ).status_code
            == 404
        )
        title = client.post(
            f"/backend-api/conversation/gen_title/{ids[0]}",
            headers=AUTH,
            json={"message_id": USER_ID},
        ).json()["title"]
        assert (
            client.get(f"/backend-api/conversation/{ids[0]}", headers=AUTH).json()["title"] == title
        )
        client.patch("/backend-api/conversations", json={"is_visible": False}, headers=AUTH)
        assert client.get("/backend-api/conversations", headers=AUTH).json()["total"] == 0


def test_autocompletions_honour_num_suggestions(client: TestClient) -> None:
    body = {"conversation_id": USER_ID, "message_id": USER_ID, "num_suggestions": 4}
    answer = client.post(
        "/backend-api/conversation/experimental/generate_autocompletions", json=body, headers=AUTH
    ).json()
    assert len(answer["completions"]) == 4
    assert len(set(answer["completions"])) == 4


def test_samples_fill_the_sidebar() -> None:
    with TestClient(create_app(make_config(2, sample_conversations=6))) as client:
        listing = client.get("/backend-api/conversations?limit=4", headers=AUTH).json()
        assert listing["total"] == 6
        assert len(listing["items"]) == 4
        for item in listing["items"]:
            detail = client.get(f"/backend-api/conversation/{item['id']}", headers=AUTH)
            assert detail.status_code == 200


def test_samples_made_at_first_look_keep_the_ids_they_would_have_had_at_start() -> None:
    """The sample history is made when first wanted; an id drawn before anything looked
    at the store (a turn's, a conduit token's) still comes after the samples' ids."""
    looked, drawn = (create_app(make_config(3, sample_conversations=4)) for _ in range(2))
    listed = [conversation.id for conversation in looked.conversations.store.visible()]
    following = looked.conversations.new_id()
    assert drawn.conversations.new_id() == following
    assert [conversation.id for conversation in drawn.conversations.store.visible()] == listed
    assert len(listed) == 4
    assert following not in listed


# -- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("refusal", "status"),
    [
        (HttpError.model_cap(60), 429),
        (HttpError.unusual_activity(), 403),
        (HttpError.token_expired(), 401),
        (HttpError.bad_payload(), 422),
    ],
)
def test_http_error_instead_of_a_stream(refusal: HttpError, status: int) -> None:
    mock = new_mock()
    with TestClient(mock) as client:
        mock.queue(Script(http_error=refusal))
        response = client.post("/backend-api/conversation", json=turn_body(), headers=AUTH)
        assert response.status_code == status
        assert response.json() == refusal.document
        assert client.get("/backend-api/conversations", headers=AUTH).json()["total"] == 0


@pytest.mark.parametrize("v1", [False, True])
def test_error_envelope_mid_stream(v1: bool) -> None:
    script = Script(text=TEXT, fault=Fault("error_envelope", after=5, message="Boom happened"))
    mock = new_mock()
    with TestClient(mock) as client:
        mock.queue(script)
        events = parse(converse(client, turn_body(v1=v1)).content)
    assert len(events) == 7
    error = json.loads(events[5][1])
    assert error["message"] is None
    assert error["error"] == "Boom happened"
    assert events[-1] == (None, "[DONE]")


@pytest.mark.parametrize("v1", [False, True])
def test_moderation_block(v1: bool) -> None:
    mock = new_mock()
    with TestClient(mock) as client:
        mock.queue(Script(text=TEXT, fault=Fault("moderation_block", after=4)))
        events = parse(converse(client, turn_body(v1=v1)).content)
    block = json.loads(events[-2][1])
    assert block["moderation_response"]["blocked"] is True


@pytest.mark.parametrize("v1", [False, True])
def test_malformed_frame_and_missing_done(v1: bool) -> None:
    mock = new_mock()
    with TestClient(mock) as client:
        mock.queue(
            Script(text=TEXT, fault=Fault("malformed_frame", after=3)),
            Script(text=TEXT, fault=Fault("no_done", after=4)),
        )
        broken = converse(client, turn_body(v1=v1)).content
        cut = converse(client, turn_body(v1=v1)).content
    datas = [data for _, data in parse(broken)]
    with pytest.raises(json.JSONDecodeError):
        json.loads(datas[3])
    assert len(parse(cut)) == 4
    assert b"[DONE]" not in cut


@pytest.mark.parametrize("v1", [False, True])
def test_stall_waits_on_the_clock_without_sleeping_then_carries_on(v1: bool) -> None:
    mock = new_mock()
    with TestClient(mock) as client:
        mock.queue(Script(text=TEXT))
        whole = converse(client, turn_body(v1=v1)).content
        before = mock.now()
        mock.queue(Script(text=TEXT, fault=Fault("stall", after=3, seconds=90.0)))
        raw = converse(client, turn_body(v1=v1)).content
        assert mock.now() - before == pytest.approx(90.0)  # the stall, and no pacing
    assert len(parse(raw)) == len(parse(whole))
    assert parse(raw)[-1] == (None, "[DONE]")


def test_pacing_runs_on_the_virtual_clock() -> None:
    script = Script.from_dict(
        {
            "text": "one two three four five six seven eight",
            "pacing": {"ttft_ms": 1500, "tokens_per_second": 10},
        }
    )
    mock = new_mock()
    with TestClient(mock) as client:
        before = mock.now()
        mock.queue(script)
        converse(client, turn_body())
        elapsed = mock.now() - before
    assert elapsed == pytest.approx(1.5 + 8 / 10)  # the first token's wait, then 8 words at 10/s


# -- over a socket: drops, resume, disconnects, concurrency ----------------------------------


def _read_events(
    url: str,
    body: dict[str, Any],
    path: str = "/backend-api/conversation",
    limit: int | None = None,
    token: list[str] | None = None,
) -> tuple[list[tuple[str | None, str]], bool]:
    """Events as a raw-socket client sees them, and whether the stream ended cleanly.

    `token` sends its first item as the resume token, or, when empty, receives
    the stream's `X-Conduit-Token` into it.
    """
    events: list[tuple[str | None, str]] = []
    clean = True
    headers = dict(AUTH)
    if token:
        headers["x-conduit-token"] = token[0]
    try:
        with httpx.stream("POST", url + path, json=body, headers=headers, timeout=10) as response:
            if token is not None and not token:
                token.append(response.headers.get("x-conduit-token", ""))
            buffer = b""
            for chunk in response.iter_raw():
                buffer += chunk
                *blocks, buffer = buffer.split(b"\n\n")
                for block in blocks:
                    events += parse(block + b"\n\n")
                if limit is not None and len(events) >= limit:
                    return events[:limit], False
    except httpx.RemoteProtocolError:
        clean = False
    return events, clean


@pytest.mark.parametrize("v1", [False, True])
def test_resume_after_a_dropped_stream_equals_an_unbroken_one(v1: bool) -> None:
    with new_mock() as mock:
        mock.queue(Script(text=TEXT))
        whole, clean = _read_events(mock.url, turn_body(v1=v1))
        assert clean
    with new_mock() as mock:
        mock.queue(Script(text=TEXT, fault=Fault("close_after", after=6)))
        token: list[str] = []
        head, clean = _read_events(mock.url, turn_body(v1=v1), token=token)
        assert not clean
        assert len(head) == 6
        assert token[0]
        cid = json.loads(next(d for _, d in head if '"conversation_id"' in d))["conversation_id"]
        tail, clean = _read_events(
            mock.url,
            {"conversation_id": cid, "offset": len(head)},
            "/backend-api/f/conversation/resume",
            token=token,
        )
        assert clean
    if v1:
        assert tail[0] == ("delta_encoding", '"v1"')
        tail = tail[1:]
    assert head + tail == whole


def test_an_sse_library_parses_the_stream() -> None:
    with new_mock() as mock:
        mock.queue(Script(text=TEXT))
        with (
            httpx.Client(base_url=mock.url) as client,
            connect_sse(
                client, "POST", "/backend-api/conversation", json=turn_body(v1=True), headers=AUTH
            ) as source,
        ):
            events = [(event.event, event.data) for event in source.iter_sse()]
    assert events[0] == ("delta_encoding", '"v1"')
    assert events[-1] == ("message", "[DONE]")
    text = "\n\n".join(
        (f"event: {name}\n" if name != "message" else "") + f"data: {data}" for name, data in events
    )
    assert decode_sse(text + "\n\n").messages[-1]["content"]["parts"][0] == TEXT


@pytest.mark.anyio
async def test_hundreds_of_concurrent_streams_and_disconnects() -> None:
    import asyncio

    mock = MockGPT(make_config(0, sample_conversations=0))
    with LiveServer(mock) as server:
        limits = httpx.Limits(max_connections=300)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as client:

            async def one(n: int) -> int:
                body = turn_body(
                    f"question {n}",
                    v1=n % 2 == 0,
                    message_id=f"{n:08d}-0000-4000-8000-000000000000",
                )
                async with client.stream(
                    "POST", "/backend-api/conversation", json=body, headers=AUTH
                ) as response:
                    seen = 0
                    async for chunk in response.aiter_raw():
                        seen += chunk.count(b"\n\n")
                        if n % 5 == 0 and seen >= 3:
                            return -1
                    return seen

            results = await asyncio.gather(*(one(n) for n in range(200)))
    assert all(result != 0 for result in results)
    assert sum(1 for result in results if result == -1) == 40
    assert len(mock.conversations()) == 200
    assert not any(turn["live"] for turn in mock.turns())


def test_resume_of_a_conversation_streamed_before_replays_its_answer() -> None:
    token = {**AUTH, "x-conduit-token": "a-token"}
    with TestClient(create_app(make_config(5))) as client:
        cid = client.get("/backend-api/conversations", headers=AUTH).json()["items"][0]["id"]
        detail = client.get(f"/backend-api/conversation/{cid}", headers=AUTH).json()
        response = client.post(
            "/backend-api/f/conversation/resume",
            headers=token,
            json={"conversation_id": cid, "offset": 0},
        )
        tokenless = client.post(
            "/backend-api/f/conversation/resume",
            headers={**AUTH, "x-conduit-token": "no-token"},
            json={"conversation_id": cid, "offset": 0},
        )
        missing = client.post(
            "/backend-api/f/conversation/resume",
            headers=token,
            json={"conversation_id": USER_ID, "offset": 0},
        )
        status = client.get(f"/backend-api/conversation/{cid}/stream_status", headers=AUTH)
    assert response.status_code == 200
    decoded = decode_sse(response.text)
    assert decoded.messages[-1] == detail["mapping"][detail["current_node"]]["message"]
    assert tokenless.status_code == 404
    assert tokenless.json()["detail"]["code"] == "tokenless_resume_unavailable"
    assert missing.status_code == 404
    assert missing.json()["detail"]["code"] == "conversation_not_found"
    assert status.json()["status"] == "COMPLETE"


def _dechunk(payload: bytes) -> bytes:
    body = b""
    while payload:
        size_line, _, rest = payload.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        body += rest[:size]
        payload = rest[size + 2 :]
    return body


def test_a_raw_socket_client_reads_and_decodes_the_stream() -> None:
    mock = new_mock()
    body = json.dumps(turn_body(v1=True)).encode()
    request = (
        b"POST /backend-api/conversation HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer raw\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with LiveServer(mock) as server:
        mock.queue(Script(text=TEXT))
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(request)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
    head, _, payload = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding: chunked" in head.lower()
    stream = _dechunk(payload)
    assert stream.endswith(b"data: [DONE]\n\n")
    assert decode_sse(stream.decode()).messages[-1]["content"]["parts"][0] == TEXT


def test_prepare_issues_a_short_lived_signed_conduit_token(
    client: TestClient, client_mock: MockGPT
) -> None:
    import base64

    answer = client.post(
        "/backend-api/f/conversation/prepare",
        headers=AUTH,
        json={"action": "next", "model": "auto"},
    ).json()
    assert answer["status"] == "ok"
    _head, payload, signature = answer["conduit_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["exp"] - claims["iat"] == 60
    assert claims["iat"] == int(client_mock.now())
    assert signature


def test_async_status_frame_when_asked() -> None:
    script = Script.from_dict(
        {"text": "Research done.", "frames": {"conversation_async_status": True}}
    )
    mock = new_mock()
    with TestClient(mock) as client:
        mock.queue(script)
        events = parse(converse(client, turn_body(v1=True)).content)
    frame = next(json.loads(d) for _, d in events if '"conversation_async_status"' in d)
    assert not schema_errors(EVENT_SCHEMA, frame)
    assert frame["message_id"] == decode_sse_events(events).messages[-1]["id"]


def decode_sse_events(events: list[tuple[str | None, str]]) -> Any:
    text = "".join((f"event: {n}\n" if n else "") + f"data: {d}\n\n" for n, d in events)
    return decode_sse(text)


def test_old_turns_are_forgotten_and_their_resume_answers_410() -> None:
    from mockgpt.service import MAX_TURNS

    mock = new_mock()

    with TestClient(mock) as client:
        ids = []
        for n in range(MAX_TURNS + 6):
            frames = snapshots(converse(client, turn_body(f"question {n}")).content)
            ids.append(frames[-1]["conversation_id"])
        assert len(mock.turns()) == MAX_TURNS
        # A dropped turn is freed after the new turn's stream, not before its first byte:
        # an internal invariant of the turn service (no public call shows freed memory).
        assert not mock.app.conversations.released
        stored = client.get(f"/backend-api/conversation/{ids[0]}", headers=AUTH).json()
        resumed = client.post(
            "/backend-api/f/conversation/resume",
            headers={**AUTH, "x-conduit-token": "a-token"},
            json={"conversation_id": ids[0], "offset": 0},
        )
        status = client.get(f"/backend-api/conversation/{ids[0]}/stream_status", headers=AUTH)
    assert status.status_code == 404
    # The events are gone; the client reads the stored answer instead.
    assert resumed.status_code == 410
    assert resumed.json() == {
        "detail": {
            "message": "The stream has ended; the answer is stored.",
            "code": "persisted_final_available",
        }
    }
    assert stored["mapping"][stored["current_node"]]["message"]["content"]["parts"][0]


@pytest.mark.parametrize("v1", [False, True])
def test_a_broken_stream_leaves_the_streamed_part_of_the_answer_stored(v1: bool) -> None:
    mock = new_mock()
    with TestClient(mock) as client:
        mock.queue(Script(text=TEXT, fault=Fault("error_envelope", after=7)))
        raw = converse(client, turn_body(v1=v1)).content
        if v1:
            decoded = decode_sse(raw.decode())
            streamed = decoded.messages[-1]
            cid = decoded.latest["conversation_id"]
        else:
            streamed = snapshots(raw)[-2]["message"]
            cid = snapshots(raw)[0]["conversation_id"]
        detail = client.get(f"/backend-api/conversation/{cid}", headers=AUTH).json()
    stored = detail["mapping"][detail["current_node"]]["message"]
    assert streamed["author"]["role"] == "assistant"
    assert stored["content"]["parts"][0] == streamed["content"]["parts"][0]
    assert 0 < len(stored["content"]["parts"][0]) < len(TEXT)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/backend-api/conversation/{id}/async-status", {"status": 4}),
        ("GET", "/backend-api/conversation/{id}/stream_status", None),
        ("GET", "/backend-api/conversation/{id}/textdocs", None),
        (
            "POST",
            "/backend-api/conversation/gen_title/{id}",
            {"message_id": "1b2c3d4e-0a1b-4c2d-8e3f-405162738495"},
        ),
        ("GET", "/backend-api/conversation/{id}/attachment/file-abc/download", None),
    ],
)
def test_a_route_about_an_unknown_conversation_is_a_404_and_no_failure(
    method: str, path: str, body: dict[str, Any] | None
) -> None:
    mock = MockGPT()
    with mock.test_client(headers=AUTH) as client:
        target = path.replace("{id}", "0f0e0d0c-0b0a-4909-8807-060504030201")
        response = client.request(method, target, json=body)
    assert response.status_code == 404
    assert response.json()["detail"]["code"] == "conversation_not_found"
    assert mock.failures() == []


def test_the_stream_and_its_header_carry_one_resume_token(client: TestClient) -> None:
    response = converse(client, turn_body("the token", v1=True))
    frames = [json.loads(data) for _, data in parse(response.content) if data.startswith("{")]
    (sent,) = [f for f in frames if f.get("type") == "resume_conversation_token"]
    assert sent["token"] == response.headers["x-conduit-token"]
