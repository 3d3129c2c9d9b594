"""`mockgpt har check` and `mockgpt har import`, on captures built from the mock's own answers.

Every capture here is made by asking an in-process mock and writing what it
answered as HAR entries; drifted captures change those answers on purpose.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import documented_request, make_config, user_turn, varier_for

from mockgpt import Config, MockGPT, create_app, load_catalogue, tokens
from mockgpt.cli import main
from mockgpt.delta import decode_sse
from mockgpt.har import (
    Drift,
    Exchange,
    HarError,
    Report,
    Sanitiser,
    check_exchanges,
    check_har,
    import_har,
    parse_sse,
    read_har,
    script_from_stream,
)
from mockgpt.scripts import load_script

AUTH = {"authorization": "Bearer mockgpt-test-token"}
CONVERSATION = "POST /backend-api/f/conversation"

# --------------------------------------------------------------------------- building captures


def entry_of(response: httpx.Response) -> dict[str, Any]:
    """One HAR entry for an answer of the in-process mock, as a browser would save it."""
    request = response.request
    media = response.headers.get("content-type", "")
    content: dict[str, Any] = {"size": len(response.content), "mimeType": media}
    if media.startswith(("application/json", "text/", "application/javascript")):
        content["text"] = response.text
    else:
        content["text"] = base64.b64encode(response.content).decode()
        content["encoding"] = "base64"
    har_request: dict[str, Any] = {
        "method": request.method,
        "url": str(request.url),
        "httpVersion": "HTTP/1.1",
        "headers": [{"name": k, "value": v} for k, v in request.headers.items()],
        "queryString": [{"name": k, "value": v} for k, v in request.url.params.multi_items()],
        "cookies": [],
    }
    if request.content:
        har_request["postData"] = {
            "mimeType": request.headers.get("content-type", "application/json"),
            "text": request.content.decode(),
        }
    return {
        "startedDateTime": "2025-11-15T12:00:00.000Z",
        "time": 12.5,
        "request": har_request,
        "response": {
            "status": response.status_code,
            "statusText": response.reason_phrase,
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": k, "value": v} for k, v in response.headers.items()],
            "cookies": [],
            "content": content,
        },
        "timings": {"send": 0.1, "wait": 8.0, "receive": 4.4},
    }


def write_har(folder: Path, entries: list[dict[str, Any]], name: str = "capture.har") -> Path:
    path = folder / name
    document = {"log": {"version": "1.2", "creator": {"name": "tests"}, "entries": entries}}
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def v1_turn(prompt: str = "hi there") -> dict[str, Any]:
    return {**user_turn(prompt), "supported_encodings": ["v1"]}


COMPLETION = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "hello"}],
    "stream": True,
    "stream_options": {"include_usage": True},
}


def own_capture() -> list[dict[str, Any]]:
    """Every route's documented answer, a v1 turn, a legacy turn and a `/v1` stream."""
    mock = MockGPT(make_config())
    entries = []
    with mock.test_client() as client:
        for route in load_catalogue():
            request = documented_request(route, varier_for(mock.config))
            entries.append(entry_of(request.send(client)))
        mock.reply("The first answer, streamed in delta v1.", title="First turn")
        entries.append(
            entry_of(client.post("/backend-api/f/conversation", json=v1_turn(), headers=AUTH))
        )
        mock.reply("A legacy answer, in full snapshots.", frames={"moderation": True})
        entries.append(
            entry_of(client.post("/backend-api/conversation", json=user_turn(), headers=AUTH))
        )
        entries.append(entry_of(client.post("/v1/chat/completions", json=COMPLETION, headers=AUTH)))
    return entries


@pytest.fixture(scope="module")
def _captured() -> list[dict[str, Any]]:
    return own_capture()


@pytest.fixture
def captured(_captured: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A fresh copy of the module's capture, free to change."""
    return copy.deepcopy(_captured)


def find(
    entries: list[dict[str, Any]], method: str, path: str, *, starts: str = ""
) -> dict[str, Any]:
    """The first entry of a method and path (without query) whose body starts with `starts`."""
    for entry in entries:
        request = entry["request"]
        text = entry["response"]["content"].get("text", "")
        same = request["method"] == method and httpx.URL(request["url"]).path == path
        if same and text.startswith(starts):
            return entry
    raise AssertionError(f"no {method} {path} in the capture")


def body_of(entry: dict[str, Any]) -> Any:
    return json.loads(entry["response"]["content"]["text"])


def set_body(entry: dict[str, Any], document: Any) -> None:
    entry["response"]["content"]["text"] = json.dumps(document)


def report_for(tmp_path: Path, entries: list[dict[str, Any]]) -> Report:
    return check_har(write_har(tmp_path, entries))


def findings(report: Report, key: str) -> set[Drift]:
    return set(report.routes[key].findings)


# --------------------------------------------------------------------------- check: no drift


def test_the_mocks_own_answers_show_no_drift(
    tmp_path: Path, captured: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_har(tmp_path, captured)
    report = check_har(path)
    assert report.entries == len(captured)
    assert not report.unknown
    assert {key for key, route in report.routes.items() if route.drifted} == set()
    # every route of the catalogue was matched and checked
    assert set(report.routes) == {route.key for route in load_catalogue()}
    assert main(["har", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("no drift")
    assert f"{CONVERSATION}: 2 entries (200 x2), no drift" in out


def test_base64_bodies_and_missing_texts_are_read(
    tmp_path: Path, captured: list[dict[str, Any]]
) -> None:
    me = find(captured, "GET", "/backend-api/me")
    content = me["response"]["content"]
    content["text"] = base64.b64encode(content["text"].encode()).decode()
    content["encoding"] = "base64"
    stream, _ = _stream_entry(captured)
    stream["response"]["content"]["text"] = base64.b64encode(
        stream["response"]["content"]["text"].encode()
    ).decode()
    stream["response"]["content"]["encoding"] = "base64"
    del find(captured, "GET", "/backend-api/models")["response"]["content"]["text"]
    report = report_for(tmp_path, captured)
    assert not report.drifted
    assert any(
        "no response text" in note for note in report.routes["GET /backend-api/models"].notes
    )
    # the decoded bodies were really checked: a drift inside the base64 text is found
    document = json.loads(base64.b64decode(content["text"]))
    document["created"] = "yesterday"
    content["text"] = base64.b64encode(json.dumps(document).encode()).decode()
    report = report_for(tmp_path, captured)
    assert Drift("type", "response 200", "$.created", "expected integer, got string") in findings(
        report, "GET /backend-api/me"
    )


# --------------------------------------------------------------------------- check: drift


def test_a_removed_field_is_reported_missing(
    tmp_path: Path, captured: list[dict[str, Any]]
) -> None:
    me = find(captured, "GET", "/backend-api/me")
    document = body_of(me)
    del document["email"]
    set_body(me, document)
    report = report_for(tmp_path, captured)
    assert findings(report, "GET /backend-api/me") == {
        Drift("missing", "response 200", "$.email", "required field absent")
    }
    assert list(report.routes["GET /backend-api/me"].findings.values()) == [1]
    others = [key for key, route in report.routes.items() if route.drifted]
    assert others == ["GET /backend-api/me"]


def test_new_fields_are_reported_even_where_the_schema_allows_them(
    tmp_path: Path, captured: list[dict[str, Any]]
) -> None:
    listing = find(captured, "GET", "/backend-api/conversations")
    document = body_of(listing)
    document["items"][0]["folder_color"] = "teal"
    document["cursor"] = None
    set_body(listing, document)
    report = report_for(tmp_path, captured)
    assert findings(report, "GET /backend-api/conversations") == {
        Drift("new", "response 200", "$.items[*].folder_color", "undeclared field (string)"),
        Drift("new", "response 200", "$.cursor", "undeclared field (null)"),
    }


def test_a_changed_type_is_reported_with_both_types(
    tmp_path: Path, captured: list[dict[str, Any]]
) -> None:
    listing = find(captured, "GET", "/backend-api/conversations")
    document = body_of(listing)
    document["total"] = str(document["total"])
    document["items"][0]["is_archived"] = "no"
    set_body(listing, document)
    report = report_for(tmp_path, captured)
    assert findings(report, "GET /backend-api/conversations") == {
        Drift("type", "response 200", "$.total", "expected integer, got string"),
        Drift("type", "response 200", "$.items[*].is_archived", "expected boolean, got string"),
    }


def test_request_bodies_are_checked_too(tmp_path: Path, captured: list[dict[str, Any]]) -> None:
    turn, _ = _stream_entry(captured)
    body = json.loads(turn["request"]["postData"]["text"])
    body["model"] = 5
    body["composer_layout"] = {"is_dark_mode": True}
    turn["request"]["postData"]["text"] = json.dumps(body)
    report = report_for(tmp_path, captured)
    assert findings(report, CONVERSATION) == {
        Drift("type", "request", "$.model", "expected string, got integer"),
        Drift("new", "request", "$.composer_layout", "undeclared field (object)"),
    }


def test_unknown_routes_statuses_and_media_types(
    tmp_path: Path, captured: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    beacon = copy.deepcopy(find(captured, "GET", "/backend-api/me"))
    beacon["request"]["url"] = "https://chatgpt.com/backend-api/beacons/home?x=1"
    gizmo = copy.deepcopy(beacon)
    gizmo["request"]["url"] = "https://chatgpt.com/backend-api/gizmos/g-p-6734aaaaaa11/project"
    gizmo_again = copy.deepcopy(gizmo)
    gizmo_again["request"]["url"] = "https://chatgpt.com/backend-api/gizmos/g-p-99999bbbb22/project"
    teapot = copy.deepcopy(find(captured, "GET", "/backend-api/me"))
    teapot["response"]["status"] = 418
    html = copy.deepcopy(find(captured, "GET", "/backend-api/me"))
    html["response"]["content"] = {"mimeType": "text/html", "text": "<html>Just a moment...</html>"}
    captured += [beacon, gizmo, gizmo_again, teapot, html]
    path = write_har(tmp_path, captured)
    report = check_har(path)
    assert report.unknown == {
        "GET /backend-api/beacons/home": 1,
        "GET /backend-api/gizmos/{id}/project": 2,
    }
    assert findings(report, "GET /backend-api/me") == {
        Drift("status", "response 418", "$", "not documented (200)"),
        Drift("media", "response 200", "$", "text/html, documented as application/json"),
    }
    assert report.routes["GET /backend-api/me"].statuses == {200: 2, 418: 1}
    assert main(["har", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "unknown routes (no catalogue match):\n  GET /backend-api/beacons/home: 1 entry" in out
    assert "GET /backend-api/me: 3 entries (200 x2, 418), 2 findings" in out
    assert "undocumented status  response 418  $  not documented (200)  [1/3 entries]" in out
    routes = len(load_catalogue())
    assert out.rstrip().endswith(f"drift: 1 of {routes} routes drifted, 2 unknown routes")


def _stream_entry(captured: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """The v1 stream of the capture and its text."""
    entry = find(captured, "POST", "/backend-api/f/conversation", starts="event: delta_encoding")
    return entry, entry["response"]["content"]["text"]


def _conversation_id(text: str) -> str:
    found = re.search(r'"conversation_id": "([0-9a-f-]{36})"', text)
    assert found is not None
    return found.group(1)


def test_new_sse_frame_types_and_event_names(
    tmp_path: Path, captured: list[dict[str, Any]]
) -> None:
    entry, text = _stream_entry(captured)
    cid = _conversation_id(text)
    extra = (
        f'data: {{"type": "stream_handoff_v2", "conversation_id": "{cid}"}}\n\n'
        'event: delta_v2\ndata: {"v": "x"}\n\n'
    )
    entry["response"]["content"]["text"] = text.replace("data: [DONE]", extra + "data: [DONE]")
    report = report_for(tmp_path, captured)
    assert findings(report, CONVERSATION) == {
        Drift(
            "new-frame-type",
            "response 200, frame stream_handoff_v2",
            "$.type",
            "type 'stream_handoff_v2'",
        ),
        Drift("new-event", "response 200", "$", "event: delta_v2"),
    }


def test_drift_inside_a_typed_frame_and_a_decoded_message(
    tmp_path: Path, captured: list[dict[str, Any]]
) -> None:
    entry, text = _stream_entry(captured)
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if '"type": "message_marker"' in line and '"event": "first"' in line:
            frame = json.loads(line.removeprefix("data: "))
            del frame["marker"]
            frame["marker_v2"] = 1
            lines[index] = "data: " + json.dumps(frame)
    patched = "\n".join(lines).replace(
        '"is_complete": true}', '"is_complete": true, "message_kind": "answer"}', 1
    )
    patched = patched.replace(
        '"o": "replace", "v": "finished_successfully"', '"o": "replace", "v": 7'
    )
    entry["response"]["content"]["text"] = patched
    found = findings(report_for(tmp_path, captured), CONVERSATION)
    frame = "response 200, frame message_marker"
    assert Drift("missing", frame, "$.marker", "required field absent") in found
    assert Drift("new", frame, "$.marker_v2", "undeclared field (integer)") in found
    decoded = "response 200, decoded channel"
    assert Drift("type", decoded, "$.message.status", "expected string, got integer") in found
    assert (
        Drift("new", decoded, "$.message.metadata.message_kind", "undeclared field (string)")
        in found
    )


def test_a_v1_stream_that_does_not_decode(tmp_path: Path, captured: list[dict[str, Any]]) -> None:
    entry, text = _stream_entry(captured)
    broken = 'event: delta\ndata: {"p": "/message/nowhere/0", "o": "append", "v": "x", "c": 2}\n\n'
    entry["response"]["content"]["text"] = text.replace("data: [DONE]", broken + "data: [DONE]")
    drifts = findings(report_for(tmp_path, captured), CONVERSATION)
    assert [d.kind for d in drifts] == ["decode"]
    assert "no key 'nowhere'" in next(iter(drifts)).detail


def test_a_v1_chunk_stream_is_checked_against_the_chunk_schema(
    tmp_path: Path, captured: list[dict[str, Any]]
) -> None:
    entry = find(captured, "POST", "/v1/chat/completions", starts="data: ")
    text = entry["response"]["content"]["text"]
    first = text.split("\n\n")[0]
    chunk = json.loads(first.removeprefix("data: "))
    del chunk["model"]
    chunk["wire_flags"] = "abc"
    entry["response"]["content"]["text"] = text.replace(first, "data: " + json.dumps(chunk), 1)
    assert findings(report_for(tmp_path, captured), "POST /v1/chat/completions") == {
        Drift("missing", "response 200, data", "$.model", "required field absent"),
        Drift("new", "response 200, data", "$.wire_flags", "undeclared field (string)"),
    }


def test_json_report(
    tmp_path: Path, captured: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    me = find(captured, "GET", "/backend-api/me")
    document = body_of(me)
    document["created"] = 1.5
    set_body(me, document)
    assert main(["har", "check", "--json", str(write_har(tmp_path, captured))]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["drifted"] is True
    [route] = [r for r in report["routes"] if r["findings"]]
    assert route["route"] == "GET /backend-api/me"
    assert route["statuses"] == {"200": 1}
    assert route["findings"] == [
        {
            "kind": "type",
            "where": "response 200",
            "path": "$.created",
            "detail": "expected integer, got number",
            "entries": 1,
        }
    ]
    assert report["unknown_routes"] == []


# --------------------------------------------------------------------------- check: bad files


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        (b"", "invalid JSON"),
        (b"GET / HTTP/1.1\r\n", "invalid JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b'{"log": {"version": "1.2"}}', "no log.entries"),
        (b'{"entries": []}', "no log.entries"),
        (b'[{"log": {"entries": []}}]', "no log.entries"),
        (b'{"log": {"entries": {"0": {}}}}', "no log.entries"),
        (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
    ],
)
def test_an_unreadable_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    path = tmp_path / "capture.har"
    if content is not None:
        path.write_bytes(content)
    for command in (["check"], ["check", "--json"], ["import", "--out", str(tmp_path / "out")]):
        assert main(["har", command[0], str(path), *command[1:]]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err.count("\n") == 1
        assert err.startswith("mockgpt: ")
        assert message in err
        assert "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_folder_is_not_a_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["har", "check", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"mockgpt: cannot read {tmp_path}")


def test_broken_entries_are_skipped_and_named(
    tmp_path: Path, captured: list[dict[str, Any]]
) -> None:
    me = find(captured, "GET", "/backend-api/me")
    bad_base64 = copy.deepcopy(me)
    bad_base64["response"]["content"] = {
        "mimeType": "application/json",
        "text": "@@@",
        "encoding": "base64",
    }
    entries: list[Any] = [
        me,
        "not an entry",
        {"request": {}},
        {"request": {"method": "GET"}, "response": {}},
        bad_base64,
    ]
    report = report_for(tmp_path, entries)
    assert report.entries == 5
    assert [note.split(":")[0] for note in report.skipped] == [
        "entry 2 skipped",
        "entry 3 skipped",
        "entry 4 skipped",
        "entry 5 skipped",
    ]
    assert "base64" in report.skipped[-1]
    assert not report.drifted


def test_read_har_and_parse_sse_by_hand(tmp_path: Path) -> None:
    with pytest.raises(HarError, match="cannot read"):
        read_har(tmp_path / "missing.har")
    assert read_har(write_har(tmp_path, [])) == ([], [])
    body = parse_sse(': ping\r\n\r\nevent: delta\r\ndata: {"v": "a"}   \r\n\r\ndata: [DONE]')
    assert [(e.name, e.data.strip()) for e in body.events] == [
        ("delta", '{"v": "a"}'),
        (None, "[DONE]"),
    ]
    assert (body.comments, body.crlf, body.padded) == (1, True, True)


# --------------------------------------------------------------------------- scripts from streams


def _stream(mock: MockGPT, path: str, body: dict[str, Any]) -> str:
    with mock.test_client(headers=AUTH) as client:
        answer = client.post(path, json=body)
    assert answer.status_code == 200
    return answer.text


def _appended(text: str) -> list[str]:
    """The text pieces a v1 stream appends to the answer, one per event."""
    pieces = []
    for event in parse_sse(text).events:
        if event.name == "delta":
            data = json.loads(event.data)
            if isinstance(data.get("v"), str) and data.get("o", "append") == "append":
                pieces.append(data["v"])
    return pieces


def test_a_v1_stream_becomes_a_script_that_replays_it() -> None:
    mock = MockGPT(Config(clock="virtual"))
    mock.reply(
        "Tide tables, then the lighthouse: two stops.",
        chunks=["Tide ", "tables, then ", "the lighthouse", ": two stops."],
        title="Coast walk",
        model_slug="gpt-4o",
        realism={"padding": True, "crlf": True},
    )
    original = _stream(mock, "/backend-api/f/conversation", v1_turn())
    script = script_from_stream(original, wait_ms=300, receive_ms=1000)
    assert script is not None
    assert script["text"] == "Tide tables, then the lighthouse: two stops."
    assert script["chunks"] == ["Tide ", "tables, then ", "the lighthouse", ": two stops."]
    assert script["title"] == "Coast walk"
    assert script["model_slug"] == "gpt-4o"
    assert script["realism"] == {"crlf": True, "padding": True}
    # 1 + 3 + 3 + 3 tokens (a quarter of each chunk's length, at least one) in one second
    assert script["pacing"] == {"ttft_ms": 300, "tokens_per_second": 10.0}
    assert "fault" not in script
    # served again, the script gives the same text in the same pieces
    replay = MockGPT(Config(clock="virtual"))
    replay.load(script)
    again = _stream(replay, "/backend-api/f/conversation", v1_turn())
    assert decode_sse(again).messages[-1]["content"]["parts"] == [script["text"]]
    # (the last piece rides in the closing patch, as the real server sends it)
    assert _appended(again) == script["chunks"][:-1]
    assert "\r\n" in again


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"kind": "no_done", "after": 10_000}, {"kind": "no_done"}),
        (
            {"kind": "error_envelope", "after": 6, "message": "Something broke."},
            {"kind": "error_envelope", "message": "Something broke."},
        ),
        ({"kind": "moderation_block", "after": 6}, {"kind": "moderation_block"}),
    ],
)
def test_a_streams_fault_is_kept(fault: dict[str, Any], expected: dict[str, Any]) -> None:
    mock = MockGPT(Config(clock="virtual"))
    mock.reply("One two three four five six seven eight.", fault=fault)
    script = script_from_stream(_stream(mock, "/backend-api/f/conversation", v1_turn()))
    assert script is not None
    assert {k: v for k, v in script["fault"].items() if k != "after"} == expected


def test_legacy_and_openai_streams_become_scripts() -> None:
    mock = MockGPT(Config(clock="virtual"))
    mock.reply("Snapshots all the way down.", chunks=["Snapshots ", "all the way ", "down."])
    legacy = script_from_stream(_stream(mock, "/backend-api/conversation", user_turn()))
    assert legacy is not None
    assert legacy["text"] == "Snapshots all the way down."
    assert legacy["chunks"] == ["Snapshots ", "all the way ", "down."]
    mock.reply("Chunks for the SDK.", chunks=["Chunks ", "for the ", "SDK."], finish="max_tokens")
    openai = script_from_stream(_stream(mock, "/v1/chat/completions", COMPLETION), openai=True)
    assert openai == {
        "text": "Chunks for the SDK.",
        "chunks": ["Chunks ", "for the ", "SDK."],
        "finish": "max_tokens",
    }


# --------------------------------------------------------------------------- import


REAL = {
    "name": "Ada Lovelace",
    "email": "ada.lovelace@analytical-engine.test",
    "user_id": "user-AdaLovelaceRealUser0123",
    "account_id": "8f2b1c3d-4e5f-4a6b-9c7d-0e1f2a3b4c5d",
    "device_id": "1c7e2f9a-3b4d-4e6f-8a9b-0c1d2e3f4a5b",
    "phone": "+447700900123",
    "ipv4": "81.2.69.160",
    "ipv6": "2a00:1450:4001:81b::200e",
    "cookie": "9f8e7d6c5b4a39281706f5e4d3c2b1a0ZZ",
    "cf_cookie": "Qm9hcmRfY2xvdWRmbGFyZV9jb29raWU.x1",
    "avatar": "5d41402abc4b2a76b9719d911017c592",
}
WORDS = ("Ada", "Lovelace")


def _real_token() -> str:
    claims = tokens.access_token_claims(
        user_id=REAL["user_id"],
        email=REAL["email"],
        account_id=REAL["account_id"],
        issued_at=1763200000,
        expires_at=1764064000,
        session_id="authsess_Ada0123456789",
    )
    claims["https://api.openai.com/profile"]["name"] = REAL["name"]
    return tokens.encode_jwt(claims, b"a real server's key")


def secret_capture() -> tuple[list[dict[str, Any]], str]:
    """A capture of the mock whose identity has been swapped for a 'real' person's."""
    mock = MockGPT(make_config(seed=5))
    varier = varier_for(mock.config)
    ident = varier.identity
    swaps = {
        varier.person.name: REAL["name"],
        varier.person.email: REAL["email"],
        varier.person.phone_number: REAL["phone"],
        varier.text(ident["user_id"]): REAL["user_id"],
        varier.text(ident["account_id"]): REAL["account_id"],
    }
    token = _real_token()
    prompt = f"My address is {REAL['email']}, my phone {REAL['phone']}"
    text = (
        f"Hello Ada Lovelace! I will write to {REAL['email']} and LOVELACE will hear from "
        f"{REAL['ipv4']} or {REAL['ipv6']}; account {REAL['account_id']}."
    )
    split = text.index("lovelace@")
    chunks = [text[:split], text[split : split + 12], text[split + 12 :]]
    mock.reply(text, chunks=chunks, title="Notes for Ada")
    headers = {
        "authorization": f"Bearer {token}",
        "cookie": f"__Secure-next-auth.session-token={REAL['cookie']}; __cf_bm={REAL['cf_cookie']}",
        "chatgpt-account-id": REAL["account_id"],
        "oai-device-id": REAL["device_id"],
        "x-forwarded-for": REAL["ipv4"],
    }
    entries = []
    with mock.test_client() as client:
        for path in (
            "/api/auth/session",
            "/backend-api/me",
            "/backend-api/accounts/check/v4-2023-04-27",
        ):
            entries.append(entry_of(client.get(path, headers=headers)))
        entries.append(
            entry_of(
                client.post("/backend-api/f/conversation", json=v1_turn(prompt), headers=headers)
            )
        )
        entries.append(entry_of(client.get("/backend-api/beacons/home", headers=headers)))
    for entry in entries:
        content = entry["response"]["content"]
        for old, new in swaps.items():
            content["text"] = content["text"].replace(old, new)
        entry["serverIPAddress"] = REAL["ipv4"]
        entry["response"]["headers"].append(
            {
                "name": "set-cookie",
                "value": f"__Secure-next-auth.session-token={REAL['cookie']}; Path=/",
            }
        )
        entry["request"]["cookies"] = [{"name": "__cf_bm", "value": REAL["cf_cookie"]}]
    session = entries[0]["response"]["content"]
    document = json.loads(session["text"])
    document["accessToken"] = token
    document["user"]["picture"] = document["user"]["image"] = (
        f"https://s.gravatar.com/avatar/{REAL['avatar']}?s=480&r=pg"
    )
    session["text"] = json.dumps(document)
    me = entries[1]["response"]["content"]
    document = json.loads(me["text"])
    document.update(
        {"last_ip": REAL["ipv4"], "last_ipv6": REAL["ipv6"], "note": f"cookie was {REAL['cookie']}"}
    )
    me["text"] = json.dumps(document)
    return entries, token


def _files(folder: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield path, path.read_text(encoding="utf-8")


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _leaks(text: str, secrets: list[str]) -> list[str]:
    found = [secret for secret in secrets if secret in text or secret.lower() in text.lower()]
    found += [word for word in WORDS if re.search(rf"(?<![A-Za-z]){word}(?![A-Za-z])", text, re.I)]
    return found


@pytest.fixture(scope="module")
def planted() -> tuple[list[dict[str, Any]], str]:
    return secret_capture()


def test_import_leaves_no_secret_anywhere(
    tmp_path: Path, planted: tuple[list[dict[str, Any]], str], capsys: pytest.CaptureFixture[str]
) -> None:
    entries, token = planted
    capture = write_har(tmp_path, entries)
    out = tmp_path / "fixtures"
    assert main(["har", "import", str(capture), "--out", str(out), "--seed", "11"]) == 0
    printed = capsys.readouterr().out
    written = sorted(p.relative_to(out).as_posix() for p, _ in _files(out))
    assert written == [
        "accounts/check_v4.json",
        "auth/session.json",
        "me/me.json",
        "scripts/turn-001.json",
        "scripts/turns.json",
    ]
    for name in written:
        assert f"  {name}  <- " in printed
    assert "GET /backend-api/beacons/home: 1" in printed
    secrets = [value for key, value in REAL.items() if key != "name"] + [REAL["name"], token]
    secrets += token.split(".")[1:]  # the claims and the signature on their own
    secrets += [json.dumps(value)[1:-1] for value in secrets]
    for path, text in _files(out):
        assert _leaks(text, secrets) == [], path
        for found in re.findall(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]*", text):
            assert _leaks(json.dumps(_claims(found)), secrets) == [], path
    assert _leaks(printed, secrets) == []


def test_import_replaces_consistently_and_reproducibly(
    tmp_path: Path, planted: tuple[list[dict[str, Any]], str]
) -> None:
    entries, _ = planted
    capture = write_har(tmp_path, entries)
    first = import_har(capture, tmp_path / "a", seed=11)
    assert first.unknown == {"GET /backend-api/beacons/home": 1}
    me = json.loads((tmp_path / "a/me/me.json").read_text())
    session = json.loads((tmp_path / "a/auth/session.json").read_text())
    accounts = (tmp_path / "a/accounts/check_v4.json").read_text()
    [script] = load_script(tmp_path / "a/scripts/turns.json")
    # one fake per real value, wherever it appeared
    assert me["email"] == session["user"]["email"] != REAL["email"]
    assert re.fullmatch(r"[a-z.0-9]+@example\.(com|org|net)", me["email"])
    assert me["name"] == session["user"]["name"] != REAL["name"]
    assert me["id"] == session["user"]["id"] != REAL["user_id"]
    assert me["id"].startswith("user-")
    assert len(me["id"]) == len(REAL["user_id"])
    assert me["phone_number"] != REAL["phone"]
    # the email is made of the fake name, as the real one was of the real name
    assert me["email"].split("@")[0] == me["name"].lower().replace(" ", ".")
    claims = _claims(session["accessToken"])
    assert claims["https://api.openai.com/profile"]["email"] == me["email"]
    assert claims["https://api.openai.com/profile"]["name"] == me["name"]
    assert claims["https://api.openai.com/auth"]["user_id"] == me["id"]
    fake_account = claims["https://api.openai.com/auth"]["chatgpt_account_id"]
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", fake_account
    )
    assert fake_account in accounts
    first_name, last_name = me["name"].split(" ")
    assert script.text == (
        f"Hello {me['name']}! I will write to {me['email']} and {last_name.upper()} will hear from "
        f"{me['last_ip']} or {me['last_ipv6']}; account {fake_account}."
    )
    assert script.title == f"Notes for {first_name}"
    assert me["last_ip"].startswith(("192.0.2.", "198.51.100.", "203.0.113."))
    assert me["last_ipv6"].startswith("2001:db8:")
    # the email was split across two chunks: its chunks no longer line up, so they go
    assert script.chunks is None
    # the same capture and seed give the same bytes; another seed other fakes
    import_har(capture, tmp_path / "b", seed=11)
    assert dict(_files(tmp_path / "a")) == {
        tmp_path / "a" / p.relative_to(tmp_path / "b"): t for p, t in _files(tmp_path / "b")
    }
    import_har(capture, tmp_path / "c", seed=12)
    other = json.loads((tmp_path / "c/me/me.json").read_text())
    assert (other["name"], other["email"], other["id"]) != (me["name"], me["email"], me["id"])


def test_imported_fixtures_are_served(
    tmp_path: Path, planted: tuple[list[dict[str, Any]], str]
) -> None:
    entries, _ = planted
    out = tmp_path / "fixtures"
    import_har(write_har(tmp_path, entries), out, seed=11)
    me = json.loads((out / "me/me.json").read_text())
    served = MockGPT(Config(fixtures=str(out), clock="virtual"))
    built_in = MockGPT(Config(clock="virtual"))
    served.load(out / "scripts" / "turns.json")
    with served.test_client(headers=AUTH) as client, built_in.test_client(headers=AUTH) as plain:
        answer = client.get("/backend-api/me").json()
        assert (answer["name"], answer["email"], answer["last_ip"]) == (
            me["name"],
            me["email"],
            me["last_ip"],
        )
        assert answer != plain.get("/backend-api/me").json()
        # a fixture the folder lacks comes from the package
        assert (
            client.get("/backend-api/settings/user").json()
            == plain.get("/backend-api/settings/user").json()
        )
        stream = client.post("/backend-api/f/conversation", json=v1_turn()).text
    [script] = load_script(out / "scripts" / "turns.json")
    assert decode_sse(stream).messages[-1]["content"]["parts"] == [script.text]


def test_a_capture_of_served_imports_shows_no_drift(
    tmp_path: Path, captured: list[dict[str, Any]]
) -> None:
    out = tmp_path / "fixtures"
    result = import_har(write_har(tmp_path, captured), out, seed=2)
    assert not result.warnings
    assert not result.unknown
    mock = MockGPT(make_config(fixtures=str(out)))
    recaptured = []
    with mock.test_client() as client:
        for route in load_catalogue():
            recaptured.append(
                entry_of(documented_request(route, varier_for(mock.config)).send(client))
            )
    report = report_for(tmp_path, recaptured)
    assert not report.drifted, report.render()


def test_import_never_writes_outside_its_folder(
    tmp_path: Path, captured: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "me").symlink_to(outside, target_is_directory=True)
    capture = write_har(tmp_path, [find(captured, "GET", "/backend-api/me")])
    assert main(["har", "import", str(capture), "--out", str(out)]) == 2
    assert "outside" in capsys.readouterr().err
    assert list(outside.iterdir()) == []


def test_the_sanitiser_by_hand() -> None:
    sanitiser = Sanitiser(seed=3)
    sanitiser.learn_json({"user": {"name": "Grace Hopper", "email": "grace@navy.test"}})
    once = sanitiser.text("grace@navy.test wrote to Grace Hopper from 10.1.2.3, not 127.0.0.1")
    assert once == sanitiser.text(
        "grace@navy.test wrote to Grace Hopper from 10.1.2.3, not 127.0.0.1"
    )
    assert "grace" not in once.lower()
    assert "hopper" not in once.lower()
    assert "10.1.2.3" not in once
    assert once.endswith("not 127.0.0.1")
    # the same seed draws the same fakes; a common word that is also a surname is spared
    again = Sanitiser(seed=3)
    again.learn_json({"user": {"name": "Grace Hopper", "email": "grace@navy.test"}})
    assert again.text("Grace Hopper") == sanitiser.text("Grace Hopper")
    assert sanitiser.json({"hopper": "a grain hopper"}) == {"hopper": "a grain hopper"}


# The kinds a sanitiser once missed, each as it appears in real captures.
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R"
PLANTED = {
    "url-encoded email": "ada.lovelace%40gmail.com",
    "escaped email": "ada.lovelace\\u0040gmail.com",
    "google picture": "ACg8ocKx3vQ9mP2rT7sW1yZ5uB8nD0fH2kL4oQ6eG9iA",
    "sas sig": "Jk8rW%2B3nQ9pL2xV7mZ4sT1yB6cF0hD5gA8eR3uI9oK0%3D",
    "sas skoid": "aa5ddad1-c91a-4f0a-9aca-e20682cc8969",
    "sas expiry": "2025-11-20T10%3A31%3A07Z",
    "aws signature": "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
    "aws credential": "AKIAIOSFODNN7EXAMPLE",
    "cloudfront signature": "Lr3jQ8vT0pS2nW6xZ9mB4cF7hK1dG5aE",
    "stripe customer": "cus_NffrFeUfNV2Hib",
    "stripe subscription": "sub_1MowQVLkdIwHu7ixeRlqHVzs",
    "stripe payment": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
    "recovery code": "7x2k-9m4p-q8r1",
    "recovery code 2": "h3n6-w5t2-z9c4",
    "otpauth secret": "JBSWY3DPEHPK3PXPQ5RT",
    "pem key": PEM_BODY,
    "pem fragment": "MIIBCgKCAQEAq8v2Lw1sZ0dCkyJnp9mQx7r4T5bH3fG8eW2uN6aV0cY1iX",
    "short bearer": "k3y9Z",
    "street address": "221B Baker Street",
    "street address in text": "1600 Amphitheatre Parkway",
    "postal code": "NW1 6XE",
    "card last 4 (field)": "8317",
    "card last 4 (text)": "ending in 5906",
}


def planted_kinds_capture() -> list[dict[str, Any]]:
    """A capture whose /me answer and streamed answer hold one of each `PLANTED` kind,
    plain, URL-encoded or JSON-escaped as a real capture shows them."""
    mock = MockGPT(make_config(seed=9))
    p = PLANTED
    sas = (
        "https://files.oaiusercontent.com/file-Q1w2E3r4T5y6U7i8?se=2025-11-20T10%3A31%3A07Z"
        f"&sp=r&sv=2024-08-04&sr=b&skoid={p['sas skoid']}&sks=b&sig={p['sas sig']}"
    )
    text = (
        f"Your plan {p['stripe subscription']} bills {p['stripe customer']}; the card "
        f"{p['card last 4 (text)']} paid {p['stripe payment']}. Ship to "
        f"{p['street address in text']}, Mountain View. Invite link: "
        f"https://chatgpt.com/invite?email={p['url-encoded email']}"
    )
    mock.reply(text, title="Billing")
    headers = {"authorization": f"Bearer {p['short bearer']}"}
    with mock.test_client() as client:
        me = entry_of(client.get("/backend-api/me", headers=headers))
        turn = entry_of(
            client.post("/backend-api/f/conversation", json=v1_turn("billing?"), headers=headers)
        )
    document = json.loads(me["response"]["content"]["text"])
    document.update(
        {
            "invite": f"https://chatgpt.com/i?to={p['url-encoded email']}&x=1",
            "contact": f"write to {p['escaped email']}",
            "picture": f"https://lh3.googleusercontent.com/a/{p['google picture']}=s96-c",
            "download": sas,
            "s3": "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential={p['aws credential']}%2F20251120%2Fus-east-1%2Fs3"
            f"&X-Amz-Signature={p['aws signature']}",
            "cdn": "https://d1.cloudfront.net/a.png?Expires=1"
            f"&Signature={p['cloudfront signature']}&Key-Pair-Id=K2JCJMDEHXQW5F",
            "billing": f"{p['stripe customer']} / {p['stripe subscription']}",
            "recovery_codes": [p["recovery code"], p["recovery code 2"]],
            "mfa": f"otpauth://totp/OpenAI:{p['url-encoded email']}?secret={p['otpauth secret']}"
            "&issuer=OpenAI",
            "deploy_key": "-----BEGIN PRIVATE KEY-----\n"
            f"{PEM_BODY}\nAbCd\n-----END PRIVATE KEY-----",
            "pasted": f"half a key: {p['pem fragment']}",
            "echo": f"you sent Bearer {p['short bearer']}",
            "address": {"line1": p["street address"], "postal_code": p["postal code"]},
            "payment_method": {"brand": "visa", "last4": p["card last 4 (field)"]},
            "name": "Ada Lovelace",
            "profile_link": "https://chatgpt.com/u?n=Ada%20Lovelace&m=ada+lovelace",
        }
    )
    me["response"]["content"]["text"] = json.dumps(document)
    return [me, turn]


DETECTORS = [
    "AWSKeyDetector",
    "AzureStorageKeyDetector",
    "BasicAuthDetector",
    "JwtTokenDetector",
    "KeywordDetector",
    "PrivateKeyDetector",
    "StripeDetector",
    "OpenAIDetector",
    "GitHubTokenDetector",
    "SlackDetector",
]


def test_import_replaces_every_planted_kind(tmp_path: Path) -> None:
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import transient_settings

    capture = write_har(tmp_path, planted_kinds_capture())
    out = tmp_path / "fixtures"
    assert main(["har", "import", str(capture), "--out", str(out), "--seed", "4"]) == 0
    written = dict(_files(out))
    assert {p.relative_to(out).as_posix() for p in written} >= {"me/me.json", "scripts/turns.json"}
    secrets = list(PLANTED.values())
    secrets += [json.dumps(value)[1:-1] for value in secrets]  # as JSON-escaped
    secrets += [value.replace("%40", "@").replace("\\u0040", "@") for value in secrets]
    secrets += ["ada.lovelace"]
    for path, text in written.items():
        left = [secret for secret in secrets if secret in text]
        assert left == [], path
        assert _leaks(text, []) == [], path  # the name, also URL-encoded
    me = json.loads(written[out / "me" / "me.json"])
    # the shapes stay, so the fixtures still read like the real thing
    assert me["invite"].startswith("https://chatgpt.com/i?to=")
    assert "%40example." in me["invite"]
    assert me["contact"].startswith("write to ")
    assert "\\u0040example." in me["contact"]
    assert me["picture"].startswith("https://lh3.googleusercontent.com/a/")
    assert "&sp=r&sv=2024-08-04&sr=b&skoid=" in me["download"]
    assert me["billing"].startswith("cus_")
    assert " / sub_" in me["billing"]
    assert me["deploy_key"].startswith("-----BEGIN FAKE KEY-----\n")
    assert me["deploy_key"].endswith("\n-----END FAKE KEY-----")
    assert re.fullmatch(r"\d{4}", me["payment_method"]["last4"])
    assert me["mfa"].startswith("otpauth://totp/OpenAI:")
    assert "&issuer=OpenAI" in me["mfa"]
    assert len(me["recovery_codes"]) == 2
    with transient_settings({"plugins_used": [{"name": name} for name in DETECTORS]}):
        found = SecretsCollection()
        for path in written:
            found.scan_file(str(path))
    assert [(name, secret.type) for name, secret in found] == []


def test_detect_secrets_sees_the_planted_capture(tmp_path: Path) -> None:
    """The scan above can fail: on the raw capture it finds the planted key and ids."""
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import transient_settings

    path = tmp_path / "capture.json"
    path.write_text(json.dumps(planted_kinds_capture(), indent=1).replace("\\n", "\n"))
    with transient_settings({"plugins_used": [{"name": name} for name in DETECTORS]}):
        found = SecretsCollection()
        found.scan_file(str(path))
    kinds = {secret.type for _, secret in found}
    assert {"Private Key", "AWS Access Key"} <= kinds


def test_the_sanitiser_on_escaped_text() -> None:
    """Text fixtures (scripts, HTML) hold values JSON-escaped inside their own strings."""
    sanitiser = Sanitiser(seed=1)
    sanitiser.learn_headers([("authorization", "Bearer Zq81x")])
    raw = (
        '{"u":"https:\\/\\/lh3.googleusercontent.com\\/a\\/ACg8ocKx3vQ9mP2rT7sW1y",'
        '"s":"https://x.test/f?sv=1\\u0026sig=Jk8rW%2B3nQ9pL2x%3D",'
        '"k":"-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEAq8v2Lw1sZ0dCkyJn\\n-----END RSA '
        'PRIVATE KEY-----","t":"Bearer Zq81x","e":"ada\\u0040gmail.com","w":"in_progress"}'
    )
    clean = sanitiser.text(raw)
    for secret in ("ACg8ocKx3vQ9mP2rT7sW1y", "Jk8rW", "MIIEowIBAAKCAQEA", "Zq81x", "ada"):
        assert secret not in clean
    assert "PRIVATE KEY" not in clean
    assert '"w":"in_progress"' in clean  # a word with an id's prefix is no id
    assert "\\u0026sig=" in clean
    assert "\\u0040example." in clean
    assert sanitiser.text("Zq81xy and xZq81x") == "Zq81xy and xZq81x"  # whole words only


def test_an_imported_body_that_breaks_its_schema_is_named_clearly(
    tmp_path: Path, captured: list[dict[str, Any]]
) -> None:
    me = find(captured, "GET", "/backend-api/me")
    document = body_of(me)
    del document["email"]
    set_body(me, document)
    result = import_har(write_har(tmp_path, captured), tmp_path / "fixtures", seed=2)
    [warning] = result.warnings
    # which route, which file was written, which schema it breaks, where and how
    assert warning.startswith(
        "GET /backend-api/me 200: the captured body written to fixtures/me/me.json "
        "breaks the route's schema schemas/me/me.json at the top: 'email' is a required property"
    ), warning


def _bare_exchange(index: int, method: str, path: str) -> Exchange:
    return Exchange(
        index,
        method,
        f"https://chatgpt.com{path}",
        path,
        (),
        (),
        (),
        "",
        None,
        200,
        (),
        (),
        "",
        None,
    )


def test_the_har_check_routes_as_the_app_does_a_fixed_path_shadowing_a_template() -> None:
    app = create_app(Config(clock="virtual"))
    shadowed = _bare_exchange(0, "PATCH", "/backend-api/conversation/init")
    templated = _bare_exchange(1, "PATCH", "/backend-api/conversation/abc-123")
    report = check_exchanges([shadowed, templated], "planted")
    assert app.match("PATCH", "/backend-api/conversation/init")[0] is None
    assert report.unknown == {"PATCH /backend-api/conversation/init": 1}
    key = app.match("PATCH", "/backend-api/conversation/abc-123")[0]
    assert key is not None
    assert list(report.routes) == [key.key]
