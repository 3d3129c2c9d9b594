"""Record through the proxy from a second mockgpt, then replay: same events, same gaps."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockgpt import Config, LiveServer, MockGPT, create_app
from mockgpt.delta import decode_sse
from mockgpt.errors import ConfigError, MockGPTError
from mockgpt.framing import SSEReader
from mockgpt.record import RecordingProxy
from mockgpt.recorded import check_recording
from mockgpt.replay import RecordingError, load_recording
from mockgpt.scripts import Script, load_script
from mockgpt.server import TLSFiles
from mockgpt.store import first_turn

BEARER = "Bearer upstream-credential-7f3a9c2e1b"
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Count"}], "stream": True}
#: The answers the upstream streams: a gap of 1000/tokens_per_second ms between pieces.
WEB = {"text": "alpha beta gamma delta epsilon", "pacing": {"ttft_ms": 60, "tokens_per_second": 10}}
V1 = {"text": "one two three four", "pacing": {"ttft_ms": 50, "tokens_per_second": 12}}
JSON_ROUTES = (
    "/backend-api/me",
    "/backend-api/models",
    "/backend-api/conversations?offset=0&limit=28",
    "/v1/models",
)


def events_of(body: bytes) -> list[tuple[str | None, str]]:
    reader = SSEReader()
    return [*reader.feed(body), *reader.close()]


def _session(base: str) -> dict[str, Any]:
    """Drive a client through the proxy (or a replay): JSON routes, a web turn, a /v1 stream."""
    seen: dict[str, Any] = {"json": {}}
    with httpx.Client(base_url=base, headers={"authorization": BEARER}, timeout=30) as client:
        for path in JSON_ROUTES:
            answer = client.get(path)
            seen["json"][path] = (answer.status_code, answer.json())
        turn = client.post("/backend-api/f/conversation", json=first_turn("Hi", v1=True))
        seen["web"] = turn.content
        chat = client.post("/v1/chat/completions", json=CHAT)
        seen["chat"] = chat.content
        conversation_id = json.loads(events_of(turn.content)[1][1])["conversation_id"]
        detail = client.get(f"/backend-api/conversation/{conversation_id}")
        seen["detail"] = (detail.status_code, detail.json())
    return seen


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A recording of one paced session against a second mockgpt on the wall clock."""
    out = tmp_path_factory.mktemp("recording")
    upstream = MockGPT(Config(clock="system", pace="instant")).start()
    upstream.queue(Script.from_dict(WEB), Script.from_dict(V1))
    proxy = RecordingProxy(upstream.url, out)
    try:
        with LiveServer(proxy) as server:
            seen = _session(server.url)
    finally:
        upstream.stop()
    proxy.flush()
    return out, seen


def _recorded_stream(out: Path, path: str) -> dict[str, Any]:
    for file in sorted((out / "recording").glob("[0-9]*.json")):
        document = json.loads(file.read_text())
        if document["path"] == path and "events" in document:
            return document
    raise AssertionError(f"no stream of {path} recorded")


async def _replay_on_virtual_clock(
    out: Path, path: str, body: Any, speed: float
) -> list[tuple[float, bytes]]:
    """Each body chunk a replaying app sends, with the app clock's time when it was sent."""
    app = create_app(Config(clock="virtual", fixtures=str(out), replay_speed=speed))
    for prefix in ("/backend-api/me", "/backend-api/models"):
        assert app.recording is not None
        assert app.recording.take("GET", prefix, "") is not None
    data = json.dumps(body).encode()
    sent: list[tuple[float, bytes]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": data, "more_body": False}
        await asyncio.Event().wait()  # the client stays
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            sent.append((app.clock.now(), message["body"]))

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", BEARER.encode())],
    }
    started = app.clock.now()
    await app(scope, receive, send)
    return [(moment - started, chunk) for moment, chunk in sent]


def _within(replayed: float, recorded: float) -> bool:
    return abs(replayed - recorded) <= max(0.1 * recorded, 5.0)


@pytest.mark.parametrize(
    ("path", "body"),
    [("/backend-api/f/conversation", first_turn("Hi", v1=True)), ("/v1/chat/completions", CHAT)],
)
def test_a_replay_sends_the_recorded_events_with_the_recorded_gaps(
    recorded: tuple[Path, dict[str, Any]], path: str, body: Any
) -> None:
    out, seen = recorded
    document = _recorded_stream(out, path)
    upstream_events = events_of(seen["web"] if "conversation" in path else seen["chat"])
    # every event the upstream sent is in the recording, in order, with its name
    assert [name for name, _ in upstream_events] == [e.get("event") for e in document["events"]]
    gaps = [event["gap_ms"] for event in document["events"]]
    assert max(gaps) >= 50, "the upstream's pacing shows in the recorded gaps"
    sent = asyncio.run(_replay_on_virtual_clock(out, path, body, speed=1))
    replayed = [(name, data) for _, chunk in sent for name, data in events_of(chunk)]
    assert replayed == [(e.get("event"), e["data"]) for e in document["events"]]
    moments = [moment * 1000 for moment, _ in sent]
    replayed_gaps = [b - a for a, b in zip([0.0, *moments], moments, strict=False)]
    assert len(replayed_gaps) == len(gaps)
    assert all(map(_within, replayed_gaps, gaps)), list(zip(replayed_gaps, gaps, strict=True))
    # at speed 0 the same events go out at once
    instant = asyncio.run(_replay_on_virtual_clock(out, path, body, speed=0))
    assert [chunk for _, chunk in instant] == [chunk for _, chunk in sent]
    assert all(moment == 0 for moment, _ in instant)


def test_a_replay_tells_the_same_story_as_the_upstream(
    recorded: tuple[Path, dict[str, Any]],
) -> None:
    out, seen = recorded
    with (
        MockGPT(Config(clock="virtual", fixtures=str(out))) as mock,
    ):
        replay = _session(mock.url)
        entries = mock.calls()
    paths = [json.loads(f.read_text())["path"] for f in sorted((out / "recording").glob("0*"))]
    assert [e.key for e in entries if not e.recorded] == [], paths
    assert len(entries) == len(JSON_ROUTES) + 3
    for path in JSON_ROUTES:
        assert replay["json"][path][0] == seen["json"][path][0]
        assert replay["json"][path][1].keys() == seen["json"][path][1].keys()
    web, upstream_web = decode_sse(replay["web"].decode()), decode_sse(seen["web"].decode())
    assert _answer(web.messages) == _answer(upstream_web.messages) == WEB["text"]
    chat = [json.loads(d) for _, d in events_of(replay["chat"]) if d != "[DONE]"]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chat) == V1["text"]
    # the conversation read back is the recorded one, under its sanitised id
    assert replay["detail"][0] == 200
    assert replay["detail"][1]["title"] == seen["detail"][1]["title"]


def _answer(messages: list[Any]) -> str:
    return str(messages[-1]["content"]["parts"][0])


def test_replay_speed_on_the_wall_clock(recorded: tuple[Path, dict[str, Any]]) -> None:
    """At speed 1 no event comes early and the stream takes about as long as recorded;
    at speed 0 it comes at once (generous bounds: the machine is shared)."""
    out, _ = recorded
    document = _recorded_stream(out, "/backend-api/f/conversation")
    offsets = []
    total = 0.0
    for event in document["events"]:
        total += event["gap_ms"]
        offsets.append(total)

    def stream(speed: float) -> list[float]:
        config = Config(clock="system", fixtures=str(out), replay_speed=speed)
        with MockGPT(config) as mock, httpx.Client(base_url=mock.url, timeout=30) as client:
            arrivals = []
            started = time.perf_counter()
            with client.stream(
                "POST", "/backend-api/f/conversation", json=first_turn("Hi", v1=True)
            ) as answer:
                reader = SSEReader()
                for chunk in answer.iter_raw():
                    moment = (time.perf_counter() - started) * 1000
                    arrivals.extend(moment for _ in reader.feed(chunk))
        return arrivals

    paced = stream(1)
    assert len(paced) == len(offsets)
    assert all(arrived >= due - 5 for arrived, due in zip(paced, offsets, strict=True))
    assert paced[-1] <= total * 1.5 + 250
    instant = stream(0)
    assert len(instant) == len(offsets)
    assert instant[-1] < total * 0.8


def test_the_recording_is_the_layout_serve_reads(recorded: tuple[Path, dict[str, Any]]) -> None:
    out, seen = recorded
    me = json.loads((out / "me" / "me.json").read_text())
    assert me.keys() == seen["json"]["/backend-api/me"][1].keys()
    scripts = load_script(out / "scripts" / "turns.json")
    assert [script.text for script in scripts] == [WEB["text"], V1["text"]]
    assert scripts[0].pacing.tokens_per_second > 0
    # the fixtures answer without the recording, through the catalogue's own handlers
    app = create_app(Config(fixtures=str(out), replay_strict=False))
    assert app.recording is not None
    assert check_recording(out).drifted is False


def test_unmatched_requests_fall_back_or_get_404(recorded: tuple[Path, dict[str, Any]]) -> None:
    out, _ = recorded
    with MockGPT(Config(clock="virtual", fixtures=str(out))) as mock:
        answer = httpx.get(
            mock.url + "/backend-api/settings/user", headers={"authorization": "Bearer t"}
        )
        assert answer.status_code == 200
        assert mock.calls()[-1].recorded is False
        listing = httpx.get(mock.url + "/__mockgpt__/journal").json()
        assert [entry["recorded"] for entry in listing["entries"]] == [False]
    strict = Config(clock="virtual", fixtures=str(out), replay_strict=True)
    with MockGPT(strict) as mock:
        web = httpx.get(
            mock.url + "/backend-api/settings/user", headers={"authorization": "Bearer t"}
        )
        assert (web.status_code, web.json()) == (404, {"detail": "Not Found"})
        api = httpx.get(mock.url + "/v1/files", headers={"authorization": "Bearer t"})
        assert api.status_code == 404
        assert "error" in api.json()
        # the recording's own routes still answer, and then again from their last answer
        for _ in range(2):
            assert httpx.get(mock.url + "/v1/models").status_code == 200


def test_an_http2_upstream_over_tls(tmp_path: Path) -> None:
    authority = trustme.CA()
    issued = authority.issue_cert("localhost", "127.0.0.1")
    chain, key, ca = tmp_path / "chain.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    for index, blob in enumerate(issued.cert_chain_pems):
        blob.write_to_path(str(chain), append=index > 0)
    issued.private_key_pem.write_to_path(str(key))
    authority.cert_pem.write_to_path(str(ca))
    upstream = MockGPT(Config(clock="system", pace="instant"))
    upstream.queue(Script.from_dict(V1))
    proxy = RecordingProxy("https://localhost:0", tmp_path / "out", verify=str(ca))
    with LiveServer(upstream, tls=TLSFiles(str(chain), str(key))) as served:
        proxy.upstream = httpx.URL(f"https://localhost:{served.port}")
        with LiveServer(proxy) as server, httpx.Client(base_url=server.url) as client:
            assert client.get("/backend-api/me", headers={"authorization": BEARER}).is_success
            chat = client.post("/v1/chat/completions", json=CHAT, headers={"authorization": BEARER})
    proxy.flush()
    assert [item.http_version for item in proxy.recorded] == ["HTTP/2", "HTTP/2"]
    assert events_of(chat.content)[-1] == (None, "[DONE]")
    recording = load_recording(tmp_path / "out")
    assert recording is not None
    assert len(recording) == 2
    stream = recording.takes[1]
    assert stream.events is not None
    assert len(stream.events) == len(events_of(chat.content))


def test_no_credential_or_personal_value_reaches_the_folder(tmp_path: Path) -> None:
    planted = {
        "email": "ada.lovelace@analytical-engines.co.uk",
        "name": "Ada Lovelace",
        "token": "sess-9f8e7d6c5b4a39281706",
        "cookie": "cookie-secret-0a1b2c3d4e5f6a7b",
        "phone": "+44 20 7946 0958",
        "client": "client-secret-f00dfeedbeef42",
        "user": "user-Q2w3E4r5T6y7U8i9O0pXyZ",
    }
    upstream = MockGPT(Config(clock="system", pace="instant"))
    profile = {
        "object": "user",
        "id": planted["user"],
        "email": planted["email"],
        "name": planted["name"],
        "phone_number": planted["phone"],
        "session_token": planted["token"],
    }
    upstream.on("GET /backend-api/me").respond(
        200, json=profile, headers={"set-cookie": f"__Secure-session={planted['cookie']}; Path=/"}
    )
    upstream.queue(Script(text=f"Hello {planted['name']}, I mailed {planted['email']}."))
    out = tmp_path / "out"
    proxy = RecordingProxy(upstream.start().url, out)
    headers = {
        "authorization": f"Bearer {planted['client']}",
        "cookie": f"__Secure-next-auth.session-token={planted['cookie']}",
        "chatgpt-account-id": planted["user"],
    }
    prompt = f"I am {planted['name']}, reach me at {planted['email']} or {planted['phone']}"
    try:
        with LiveServer(proxy) as server, httpx.Client(base_url=server.url) as client:
            me = client.get("/backend-api/me", headers=headers)
            assert me.json()["email"] == planted["email"]  # passed through untouched
            turn = client.post(
                "/backend-api/conversation", json=first_turn(prompt), headers=headers
            )
            assert planted["email"] in turn.text
    finally:
        upstream.stop()
    proxy.flush()
    files = [path for path in out.rglob("*") if path.is_file()]
    assert len(files) >= 5
    for path in files:
        text = path.read_text(encoding="utf-8")
        for kind, value in planted.items():
            for form in {value, value.lower(), json.dumps(value)[1:-1]}:
                assert form not in text, f"{kind} found in {path.relative_to(out)}"
        for part in ("Ada", "Lovelace", "9f8e7d6c5b4a"):
            assert part not in text, f"{part} found in {path.relative_to(out)}"


def test_the_proxy_refuses_foreign_hosts_and_cross_site_requests(tmp_path: Path) -> None:
    proxy = RecordingProxy("http://127.0.0.1:9", tmp_path)
    with LiveServer(proxy) as server:
        foreign = httpx.get(server.url + "/backend-api/me", headers={"host": "evil.example"})
        cross = httpx.get(server.url + "/backend-api/me", headers={"sec-fetch-site": "cross-site"})
        gone = httpx.get(server.url + "/backend-api/me")
    assert (foreign.status_code, cross.status_code) == (403, 403)
    assert gone.status_code == 502
    assert gone.json()["detail"].startswith("upstream unreachable")
    assert proxy.recorded == []


def test_a_broken_recording_is_one_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "recording"
    folder.mkdir()
    (folder / "001.json").write_text('{"method": "GET", "path": "/x", "status": 99}')
    with pytest.raises(RecordingError, match="status must be 200 to 599"):
        create_app(Config(fixtures=str(tmp_path)))
    (folder / "001.json").write_text("[not json")
    with pytest.raises(MockGPTError, match="not a recorded exchange"):
        check_recording(tmp_path)
    with pytest.raises(RecordingError, match="holds no recording"):
        check_recording(tmp_path / "recording")
    with pytest.raises(ConfigError, match="replay_speed"):
        Config(replay_speed=-1)


def test_check_reports_drift_in_a_recording(recorded: tuple[Path, dict[str, Any]]) -> None:
    out, _ = recorded
    assert check_recording(out).drifted is False
    copy = out.parent / (out.name + "-drifted")
    shutil.copytree(out, copy)
    for file in sorted((copy / "recording").glob("[0-9]*.json")):
        document = json.loads(file.read_text())
        if document["path"] == "/backend-api/me":
            body = json.loads(document["body"])
            body["email"] = 42
            body["brand_new_field"] = True
            document["body"] = json.dumps(body)
            file.write_text(json.dumps(document))
    report = check_recording(copy)
    assert report.drifted
    kinds = {drift.kind for route in report.routes.values() for drift in route.findings}
    assert kinds == {"type", "new"}


def test_a_stream_the_upstream_cut_is_recorded_and_replayed_cut(tmp_path: Path) -> None:
    upstream = MockGPT(Config(clock="system", pace="instant"))
    upstream.queue(
        Script.from_dict({"text": "a b c d e f", "fault": {"kind": "close_after", "after": 5}})
    )
    proxy = RecordingProxy(upstream.start().url, tmp_path)
    try:
        with (
            LiveServer(proxy) as server,
            httpx.Client(base_url=server.url) as client,
            pytest.raises(httpx.RemoteProtocolError),
        ):
            client.post("/v1/chat/completions", json=CHAT, headers={"authorization": BEARER})
    finally:
        upstream.stop()
    proxy.flush()
    document = _recorded_stream(tmp_path, "/v1/chat/completions")
    assert document["complete"] is False
    assert len(document["events"]) == 5
    with MockGPT(Config(clock="virtual", fixtures=str(tmp_path))) as mock:
        with (
            httpx.Client(base_url=mock.url) as client,
            pytest.raises(httpx.RemoteProtocolError),
        ):
            client.post("/v1/chat/completions", json=CHAT, headers={"authorization": BEARER})
        assert mock.calls()[0].recorded


def test_a_client_that_leaves_ends_the_wait_for_the_upstream(tmp_path: Path) -> None:
    """An upstream that never answers holds no proxy handler once the client has gone."""
    upstream_left = threading.Event()

    async def silent(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive())["type"] != "http.disconnect":
            pass
        upstream_left.set()

    proxy = RecordingProxy("http://127.0.0.1:9", tmp_path)
    with LiveServer(silent) as upstream, LiveServer(proxy) as server:
        proxy.upstream = httpx.URL(upstream.url)
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(server.url + "/backend-api/me", timeout=httpx.Timeout(5, read=0.3))
        assert upstream_left.wait(10), "the proxy still waits for the upstream"
    assert proxy.recorded == []


def test_a_responses_api_stream_replays_event_for_event(tmp_path: Path) -> None:
    body = {"model": "gpt-4o", "input": "Say hi", "stream": True}
    upstream = MockGPT(Config(clock="system", pace="instant"))
    upstream.queue(Script.from_dict(V1))
    proxy = RecordingProxy(upstream.start().url, tmp_path)
    try:
        with LiveServer(proxy) as server:
            live = httpx.post(
                server.url + "/v1/responses", json=body, headers={"authorization": BEARER}
            )
    finally:
        upstream.stop()
    proxy.flush()
    seen = events_of(live.content)
    assert seen[-1][0] == "response.completed"
    with MockGPT(Config(clock="virtual", fixtures=str(tmp_path))) as mock:
        again = httpx.post(mock.url + "/v1/responses", json=body, headers={"authorization": BEARER})
    replayed = events_of(again.content)
    assert [name for name, _ in replayed] == [name for name, _ in seen]
    deltas = [
        json.loads(data)["delta"] for name, data in replayed if name == "response.output_text.delta"
    ]
    assert "".join(deltas) == V1["text"]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "method": _JSON | st.sampled_from(["GET", "POST"]),
        "path": _JSON | st.just("/backend-api/me"),
        "query": _JSON,
        "status": _JSON | st.integers(100, 700),
        "headers": _JSON | st.dictionaries(st.text(max_size=12), st.text(max_size=12), max_size=2),
        "body": _JSON,
        "events": _JSON
        | st.lists(
            st.fixed_dictionaries(
                {"gap_ms": _JSON | st.floats(-1, 10), "data": _JSON | st.text(max_size=8)},
                optional={"event": _JSON},
            ),
            max_size=3,
        ),
    },
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=_JSON | _FIELDS)
def test_any_file_in_a_recording_loads_or_is_one_clear_error(tmp_path: Path, document: Any) -> None:
    folder = tmp_path / "recording"
    folder.mkdir(exist_ok=True)
    (folder / "001.json").write_text(json.dumps(document))
    problem = ""
    try:
        recording = load_recording(tmp_path)
    except RecordingError as error:
        problem = str(error)
    if problem:
        assert "001.json is not a recorded exchange" in problem
        return
    assert recording is not None
    take = recording.takes[0]
    answer = asyncio.run(_answer_of(take))
    assert answer[0]["status"] == take.status


async def _answer_of(take: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    from mockgpt.clock import VirtualClock

    await take.answer(VirtualClock(0), 1.0, receive, send)
    return sent


def test_an_answer_recorded_without_its_body_is_left_to_the_catalogue(tmp_path: Path) -> None:
    async def binary(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        head = [(b"content-type", b"application/json"), (b"content-length", b"5")]
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": b"\x89PNG\xff"})

    proxy = RecordingProxy("http://127.0.0.1:9", tmp_path)
    with LiveServer(binary) as upstream, LiveServer(proxy) as server:
        proxy.upstream = httpx.URL(upstream.url)
        answer = httpx.get(server.url + "/backend-api/me", headers={"authorization": BEARER})
    proxy.flush()
    assert answer.content == b"\x89PNG\xff"  # passed through as it came
    assert json.loads((tmp_path / "recording" / "001.json").read_text())["body"] is None
    with MockGPT(Config(clock="virtual", fixtures=str(tmp_path))) as mock:
        me = httpx.get(mock.url + "/backend-api/me", headers={"authorization": BEARER})
        assert me.json()["object"] == "user"
        assert mock.calls()[0].recorded is False


def test_a_snapshot_restores_where_the_replay_had_got_to(tmp_path: Path) -> None:
    folder = tmp_path / "recording"
    folder.mkdir()
    for number in (1, 2):
        exchange = {
            "method": "GET",
            "path": "/backend-api/me",
            "status": 200,
            "headers": {"content-type": "application/json"},
            "body": f'{{"n": {number}}}',
        }
        (folder / f"00{number}.json").write_text(json.dumps(exchange))
    with MockGPT(Config(clock="virtual", fixtures=str(tmp_path))) as mock:
        mock.snapshot("before")

        def reads() -> list[int]:
            return [httpx.get(mock.url + "/backend-api/me").json()["n"] for _ in range(3)]

        assert reads() == [1, 2, 2]
        mock.restore("before")
        assert reads() == [1, 2, 2]
        # An internal invariant (no public call can tell a copy from a share): a snapshot
        # keeps where the replay got to, not another copy of every recorded answer.
        kept = mock.snapshots["before"].app.recording
        assert kept is not None
        assert mock.app.recording is not None
        assert kept.takes is mock.app.recording.takes  # shared, not copied


def test_the_proxy_refuses_a_page_of_another_site_by_its_origin(tmp_path: Path) -> None:
    # Browsers without Sec-Fetch-Site still send Origin on a cross-site POST: a page
    # elsewhere must not drive the user's credentials through the proxy.
    proxy = RecordingProxy("http://127.0.0.1:9", tmp_path)
    with LiveServer(proxy) as server:
        url = server.url + "/backend-api/conversation"
        foreign = httpx.post(url, headers={"origin": "https://evil.example"}, json={})
        blank = httpx.post(url, headers={"origin": "null"}, json={})
        local = httpx.post(url, headers={"origin": "http://localhost:3000"}, json={})
    assert (foreign.status_code, blank.status_code) == (403, 403)
    assert local.status_code == 502  # a dev page on a loopback name goes through
    assert proxy.recorded == []
