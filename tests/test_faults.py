"""Every fault and every byte quirk on every encoding, checked on the raw bytes.

Each registered encoding is reached through the route a real client uses:
`legacy` and `v1` through the web conversation route, `chunks` through
`/v1/chat/completions`, `responses` through `/v1/responses`. A new encoding
must be added to `ROUTES` (a test says so), and then gets every check below.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from support import make_config

from mockgpt import MockGPT, create_app
from mockgpt.scripts import FAULT_KINDS, Fault, Script
from mockgpt.wire import ENCODINGS

TEXT = "One two three four five six seven eight nine ten eleven twelve."
WEB_AUTH = {"authorization": "Bearer test"}
V1_AUTH = {"Authorization": "Bearer sk-test"}


def web_body(v1: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": "next",
        "messages": [
            {
                "id": "aaa2f2b1-5c6d-4e7f-8a9b-0c1d2e3f4a5b",
                "author": {"role": "user"},
                "content": {"content_type": "text", "parts": ["Count for me"]},
                "metadata": {},
            }
        ],
        "parent_message_id": "client-created-root",
        "model": "gpt-4o",
    }
    if v1:
        body["supported_encodings"] = ["v1"]
    return body


#: How a client asks for each encoding: the path, the body and the headers.
ROUTES: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "legacy": ("/backend-api/conversation", web_body(False), WEB_AUTH),
    "v1": ("/backend-api/conversation", web_body(True), WEB_AUTH),
    "chunks": (
        "/v1/chat/completions",
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "Count"}], "stream": True},
        V1_AUTH,
    ),
    "responses": (
        "/v1/responses",
        {"model": "gpt-4o", "input": "Count", "stream": True},
        V1_AUTH,
    ),
}
#: The encodings whose streams end with `[DONE]`; the others' bodies just end.
WITH_DONE = {"legacy", "v1", "chunks"}


def test_every_encoding_has_a_route() -> None:
    assert set(ROUTES) == set(ENCODINGS)


def stream(encoding: str, script: Script) -> tuple[bytes, float]:
    """The raw body of one stream of `encoding` answering `script`, and the clock time it took."""
    mock = MockGPT(make_config(0, sample_conversations=0))
    path, body, headers = ROUTES[encoding]
    with TestClient(mock) as client:
        mock.queue(script)
        before = mock.now()
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        return response.content, mock.now() - before


def blocks(raw: bytes) -> list[bytes]:
    """The SSE blocks of a body, LF or CRLF, without their terminators."""
    parts = raw.replace(b"\r\n", b"\n").split(b"\n\n")
    assert parts[-1] == b"", "the body ends with a blank line"
    return parts[:-1]


def events(raw: bytes) -> list[bytes]:
    """The counted events: blocks with data, other than pings, empty data and `[DONE]`."""
    found = []
    for block in blocks(raw):
        data = [line[5:].strip() for line in block.split(b"\n") if line.startswith(b"data:")]
        if data and data != [b""] and data != [b"[DONE]"]:
            found.append(block)
    return found


def data_of(block: bytes) -> Any:
    line = next(line for line in block.split(b"\n") if line.startswith(b"data:"))
    return json.loads(line[5:])


def done(encoding: str, raw: bytes) -> bool:
    """Whether the body ends as a finished stream of `encoding` ends: `[DONE]`, or a
    clean end of the body (with a closing blank line) and no `[DONE]` anywhere."""
    if encoding in WITH_DONE:
        return blocks(raw)[-1].rstrip() == b"data: [DONE]"
    return bool(blocks(raw)) and b"[DONE]" not in raw


def is_error(encoding: str, value: Any) -> bool:
    if encoding == "responses":
        return bool(value["type"] == "error" and value["error"]["code"] == "server_error")
    if encoding == "chunks":
        return bool(value["error"]["message"]) and value["error"]["type"] == "server_error"
    return value["message"] is None and bool(value["error"])


def is_blocked(encoding: str, value: Any) -> bool:
    if encoding == "responses":
        return is_error(encoding, value) and "usage policies" in value["error"]["message"]
    if encoding == "chunks":
        return bool(value["error"]["code"] == "content_policy_violation")
    return value["moderation_response"]["blocked"] is True


def tail_size(encoding: str, kind: str) -> int:
    """How many events a fault that writes something adds: Responses ends a failed
    stream with `response.failed` after its `error` event."""
    return 2 if encoding == "responses" and kind != "malformed_frame" else 1


@pytest.fixture(scope="module")
def whole() -> dict[str, list[bytes]]:
    """The events of an unbroken stream of each encoding."""
    return {name: events(stream(name, Script(text=TEXT))[0]) for name in ROUTES}


def test_a_whole_responses_stream_ends_with_its_terminal_event_and_no_done(
    whole: dict[str, list[bytes]],
) -> None:
    got = whole["responses"]
    assert data_of(got[-1])["type"] == "response.completed"
    assert [data_of(event)["sequence_number"] for event in got] == list(range(len(got)))
    assert all(b"[DONE]" not in event for event in got)


def fault(kind: str, after: int) -> Fault:
    return Fault(kind, after=after, seconds=30.0) if kind == "stall" else Fault(kind, after=after)  # type: ignore[arg-type]


@pytest.mark.parametrize("after", [2, 10_000], ids=["mid-stream", "past-the-end"])
@pytest.mark.parametrize("kind", FAULT_KINDS)
@pytest.mark.parametrize("encoding", sorted(ROUTES))
def test_every_fault_on_every_encoding(
    encoding: str, kind: str, after: int, whole: dict[str, list[bytes]]
) -> None:
    raw, took = stream(encoding, Script(text=TEXT, fault=fault(kind, after)))
    expected = whole[encoding]
    sent = min(after, len(expected))  # past the last event, the fault strikes at the end
    got = events(raw)
    if kind == "stall":
        assert got == expected
        assert done(encoding, raw)
        assert took >= 30.0
        return
    assert took < 30.0
    if kind in ("close_after", "no_done"):
        assert got == expected[:sent]
        assert b"[DONE]" not in raw
        return
    assert got[:sent] == expected[:sent]
    assert len(got) == sent + tail_size(encoding, kind)
    assert done(encoding, raw)
    last = got[sent]
    if encoding == "responses" and kind != "malformed_frame":
        numbers = [data_of(event)["sequence_number"] for event in got]
        assert numbers == list(range(len(got)))  # the fault's events carry on the numbering
    if kind == "malformed_frame":
        with pytest.raises(json.JSONDecodeError):
            data_of(last)
    elif kind == "error_envelope":
        assert is_error(encoding, data_of(last))
    else:
        assert kind == "moderation_block"
        assert is_blocked(encoding, data_of(last))


@pytest.mark.parametrize("encoding", sorted(ROUTES))
def test_an_error_envelope_carries_the_scripted_message(encoding: str) -> None:
    raw, _ = stream(encoding, Script(text=TEXT, fault=Fault("error_envelope", message="Boom")))
    got = events(raw)
    assert len(got) == tail_size(encoding, "error_envelope")
    value = data_of(got[0])
    message = value["error"] if encoding in ("legacy", "v1") else value["error"]["message"]
    assert message == "Boom"


@pytest.mark.parametrize("encoding", sorted(ROUTES))
def test_crlf_padding_and_pings_on_every_encoding(
    encoding: str, whole: dict[str, list[bytes]]
) -> None:
    realism = {"crlf": True, "padding": True, "pings": 3}
    raw, _ = stream(encoding, Script.from_dict({"text": TEXT, "realism": realism}))
    assert b"\n" not in raw.replace(b"\r\n", b""), "every line ends with CRLF"
    assert raw.count(b"\r\n: ping - ") + raw.startswith(b": ping - ") == 3
    block = ENCODINGS[encoding].pad_block
    padded = 0
    for event in events(raw):
        name = event.split(b"\n")[0] if event.startswith(b"event:") else None
        line = event.split(b"\n")[-1]
        assert line.startswith(b"data: ")
        if name != b"event: delta_encoding":
            assert (len(line) + 4) % block == 0, line
            padded += line != line.rstrip()
    assert padded > 0
    # Under the quirks, the same events: strip them and the bytes are those of a plain stream.
    plain = [b"\n".join(line.rstrip() for line in event.split(b"\n")) for event in events(raw)]
    assert plain == whole[encoding]
    assert done(encoding, raw)


# -- disconnects -----------------------------------------------------------------------------


async def _abandon(encoding: str) -> tuple[int, int, int]:
    """Start a slow stream in-process and leave once it has begun.

    Returns the writes, the tasks left over, and those left once the server stops.
    """
    app = create_app(make_config(0, sample_conversations=0, clock="system"))
    # Ten seconds a word: the stream would run for minutes if its waits outlived the client.
    app.conversations.book.queue(
        Script.from_dict({"text": TEXT, "pacing": {"tokens_per_second": 0.1}})
    )
    path, body, headers = ROUTES[encoding]
    payload = json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            *((key.lower().encode(), value.encode()) for key, value in headers.items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    left = asyncio.Event()
    requested = False
    writes = 0

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal writes
        if message["type"] == "http.response.start":
            left.set()
        elif message.get("body"):
            writes += 1

    before = len(asyncio.all_tasks())
    await asyncio.wait_for(app(scope, receive, send), timeout=5.0)
    await asyncio.sleep(0)  # let cancelled helpers finish unwinding
    left_over = len(asyncio.all_tasks()) - before
    await app.conversations.close()  # what the server's shutdown does
    return writes, left_over, len(asyncio.all_tasks()) - before


@pytest.mark.parametrize("encoding", sorted(ROUTES))
def test_a_client_leaving_ends_the_stream_and_frees_its_tasks(encoding: str) -> None:
    writes, extra_tasks, after_stop = asyncio.run(_abandon(encoding))
    assert writes < 10  # the unpaced opening frames at most: the paced text never came
    # A web turn goes on being made with nobody reading (one task, until the server
    # stops); /v1 chat and Responses streams end with their writer.
    assert extra_tasks == (1 if encoding in ("legacy", "v1") else 0)
    assert after_stop == 0


def test_the_docs_table_names_every_fault_and_every_encoding() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "scripts.md").read_text()
    section = page.split("## Faults and realism on every encoding", 1)[1]
    table = section[section.index("\n|") + 1 :].split("\n\n", 1)[0]
    rows = table.splitlines()
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert {name.split(" ")[0].strip("`") for name in header[1:]} == set(ENCODINGS)
    faults = [row.strip("|").split("|")[0].strip(" `") for row in rows[2:]]
    assert faults == [*FAULT_KINDS, "HTTP refusal"]
