"""The server stack: HTTP/2 in cleartext and over TLS, `Upgrade: h2c` bodies, read
timeouts, and a prompt exit whatever is pending."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme
from test_app import sse_events

from mockgpt import Config, LiveServer, MockGPT, create_app
from mockgpt.server import TLSFiles, server_config

BEARER = {"Authorization": "Bearer t"}
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": True}


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_files(authority: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    folder = tmp_path_factory.mktemp("tls")
    issued = authority.issue_cert("localhost", "127.0.0.1")
    chain, key = folder / "chain.pem", folder / "key.pem"
    for index, blob in enumerate(issued.cert_chain_pems):
        blob.write_to_path(str(chain), append=index > 0)
    issued.private_key_pem.write_to_path(str(key))
    return TLSFiles(str(chain), str(key))


def _exercise_http2(client: httpx.Client) -> None:
    """A JSON route, an SSE stream and the admin API, each over HTTP/2."""
    me = client.get("/backend-api/me", headers=BEARER)
    assert (me.status_code, me.http_version) == (200, "HTTP/2")
    assert me.json()["object"] == "user"
    with client.stream("POST", "/v1/chat/completions", json=CHAT, headers=BEARER) as stream:
        assert stream.http_version == "HTTP/2"
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = sse_events(stream.read())
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    state = client.get("/__mockgpt__/state")
    assert (state.status_code, state.http_version) == (200, "HTTP/2")
    assert state.json()["journal"] == 2


def test_http2_with_prior_knowledge_serves_json_streams_and_the_admin_api() -> None:
    with (
        MockGPT(Config(clock="virtual")) as mock,
        httpx.Client(base_url=mock.url, http1=False, http2=True, timeout=10) as client,
    ):
        _exercise_http2(client)


def test_http2_over_tls_by_alpn(authority: trustme.CA, tls_files: TLSFiles) -> None:
    mock = MockGPT(Config(clock="virtual"))
    context = ssl.create_default_context()
    authority.configure_trust(context)
    with (
        LiveServer(mock, tls=tls_files) as server,
        httpx.Client(base_url=server.url, http2=True, verify=context, timeout=10) as client,
    ):
        assert server.url.startswith("https://127.0.0.1:")
        _exercise_http2(client)
        plain = client.get("/backend-api/me", headers=BEARER, extensions={})
        assert plain.status_code == 200
    with (
        LiveServer(mock, tls=tls_files) as server,
        httpx.Client(base_url=server.url, verify=context, timeout=10) as client,
    ):
        assert client.get("/backend-api/me", headers=BEARER).http_version == "HTTP/1.1"


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl command")
def test_curl_keeps_the_body_of_an_h2c_upgrade_request() -> None:
    with LiveServer(create_app()) as server:
        answer = subprocess.run(
            ["curl", "-sS", "-m", "10", "-H", "Upgrade: h2c", "-H", "Authorization: Bearer t",
             "-H", "Content-Type: application/json", "-d", '{"model": 5}',
             "-w", "\n%{http_code}", server.url + "/backend-api/lat/r"],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        prior = subprocess.run(
            ["curl", "-sS", "-m", "10", "--http2-prior-knowledge", "-o", "/dev/null",
             "-w", "%{http_version} %{http_code}", "-H", "Authorization: Bearer t",
             server.url + "/backend-api/me"],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
    body, _, status = answer.stdout.rpartition("\n")
    assert status == "422"  # the body arrived, and its model is the wrong type
    assert json.loads(body)["detail"][0]["loc"] == ["body", "model"]
    assert prior.stdout == "2 200"


def _h2c_offer(body: bytes, *, chunked: bool = False, close: bool = False) -> bytes:
    """A request to `/v1/chat/completions` offering `Upgrade: h2c`, as chat2api sends them."""
    framing = (
        b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        if chunked
        else b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer t\r\nContent-Type: application/json\r\n"
        b"Connection: Upgrade, HTTP2-Settings" + (b", close" if close else b"") + b"\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n" + framing
    )


def test_h2c_offers_keep_their_bodies_pipelined_chunked_and_byte_by_byte() -> None:
    """The upgrade is declined and each body read: pipelined on one connection, chunked,
    and sent a byte at a time (the head then arrives in many pieces)."""
    asks = [
        json.dumps({**CHAT, "stream": False, "n": 1, "user": f"u{i}"}).encode() for i in range(4)
    ]
    with MockGPT(Config(clock="virtual")) as mock:
        address = ("127.0.0.1", int(mock.url.rsplit(":", 1)[1]))
        with socket.create_connection(address, timeout=20) as sock:
            sock.sendall(_h2c_offer(asks[0]) + _h2c_offer(asks[1], chunked=True))
            for byte in _h2c_offer(asks[2]):
                sock.sendall(bytes([byte]))
            sock.sendall(_h2c_offer(asks[3], close=True))
            answer = _read_until_closed(sock)
        journal = mock.calls()
    heads = [part for part in answer.split(b"HTTP/1.1 ")[1:]]
    assert [head[:3] for head in heads] == [b"200"] * 4
    assert [json.loads(entry.body)["user"] for entry in journal] == ["u0", "u1", "u2", "u3"]
    assert all(entry.headers["upgrade"] == "h2c" for entry in journal)  # seen as sent


def _read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_half_sent_requests_are_closed_after_the_read_timeouts() -> None:
    with LiveServer(create_app(), header_timeout=0.5, body_timeout=0.5) as server:
        address = ("127.0.0.1", server.port)
        with socket.create_connection(address, timeout=20) as half_body:
            half_body.sendall(
                b"POST /backend-api/conversation HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Authorization: Bearer t\r\nContent-Type: application/json\r\n"
                b'Content-Length: 400\r\n\r\n{"action": "next", '
            )
            answer = _read_until_closed(half_body)
        with socket.create_connection(address, timeout=20) as half_head:
            half_head.sendall(b"POST /backend-api/conversation HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            assert _read_until_closed(half_head) == b""
        # A whole request on a fresh connection is still answered.
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/backend-api/me", headers=BEARER).status_code == 200
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert b"connection: close" in head.lower()
    assert json.loads(body) == {"detail": "Request body not received in time"}


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`mockgpt serve` with a 600 s latency on every answer, and its URL once ready."""
    ready = tmp_path / "ready.txt"
    process = subprocess.Popen(
        [sys.executable, "-m", "mockgpt", "serve", "--port", "0", "--ready-file", str(ready),
         "--latency", "600000", "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # polling for readiness, bounded by the deadline
        assert ready.exists(), "mockgpt serve did not become ready"
        yield process, ready.read_text().strip()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()  # closing twice is harmless


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_exits_promptly_with_answers_pending(
    serve_process: tuple[subprocess.Popen[str], str], signum: int
) -> None:
    process, url = serve_process
    port = int(url.rsplit(":", 1)[1])
    waiting = []
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        sock.sendall(b"GET /backend-api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: x\r\n\r\n")
        waiting.append(sock)
    stalled = socket.create_connection(("127.0.0.1", port), timeout=20)
    stalled.sendall(b"POST /backend-api/conversation HTTP/1.1\r\nContent-Length: 9\r\n\r\n{")
    waiting.append(stalled)
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            # Polls until the server has taken in all three pending answers.
            deadline = time.monotonic() + 20
            while client.get("/__mockgpt__/state").json()["journal"] < 3:
                assert time.monotonic() < deadline, "the pending requests never arrived"
        started = time.monotonic()
        process.send_signal(signum)
        out, _ = process.communicate(timeout=20)
        took = time.monotonic() - started
    finally:
        for sock in waiting:
            sock.close()
    assert process.returncode == 0
    assert out.rstrip().endswith("mockgpt stopped")
    assert "Traceback" not in out
    logged = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert logged, "expected the pending requests' access lines"
    assert {record["logger"] for record in logged} == {"mockgpt.access"}, logged  # nothing else
    # The target is 2 s; the bound here is loose because the machine may be busy.
    assert took < 15, took


def test_serve_on_a_port_in_use_says_so_without_a_traceback() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "mockgpt", "serve", "--port", str(port)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 2
    assert f"port {port} on 127.0.0.1 is in use" in done.stderr
    assert "--port 0" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_answers_name_the_real_services_server_not_the_one_underneath() -> None:
    """chatgpt.com and api.openai.com answer `server: cloudflare`; the servers underneath
    would add their own name to any answer without one, over HTTP/1.1 and HTTP/2 alike."""
    with MockGPT(Config(clock="virtual")) as mock:
        for http2 in (False, True):
            with httpx.Client(
                base_url=mock.url, http1=not http2, http2=http2, timeout=10
            ) as client:
                answers = [
                    client.get("/backend-api/me", headers=BEARER),
                    client.get("/backend-api/no-such-route", headers=BEARER),
                    client.post("/v1/chat/completions", json={**CHAT, "stream": False}),
                    client.get("/__mockgpt__/state"),
                ]
                with client.stream("POST", "/v1/chat/completions", json=CHAT, headers=BEARER) as s:
                    s.read()
                    answers.append(s)
                for answer in answers:
                    assert answer.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
                    assert answer.headers.get_list("server") == ["cloudflare"], answer.url


def test_a_conversation_stream_resumes_from_an_offset_over_http2() -> None:
    from test_conversation import TEXT, parse, turn_body

    from mockgpt.scripts import Script

    app = create_app(Config(clock="virtual", sample_conversations=0))
    with (
        LiveServer(app) as server,
        httpx.Client(base_url=server.url, http1=False, http2=True, timeout=10) as client,
    ):
        app.conversations.book.queue(Script(text=TEXT))
        whole = client.post("/backend-api/conversation", json=turn_body(), headers=BEARER)
        assert (whole.status_code, whole.http_version) == (200, "HTTP/2")
        events = parse(whole.content)
        cid = json.loads(next(d for _, d in events if '"conversation_id"' in d))["conversation_id"]
        offset = len(events) // 2
        resumed = client.post(
            "/backend-api/f/conversation/resume",
            json={"conversation_id": cid, "offset": offset},
            headers={**BEARER, "x-conduit-token": whole.headers["x-conduit-token"]},
        )
    assert (resumed.status_code, resumed.http_version) == (200, "HTTP/2")
    assert resumed.headers["content-type"].startswith("text/event-stream")
    tail = parse(resumed.content)
    assert 0 < offset < len(events)
    assert events[offset:] == tail


def test_start_up_leaves_faker_and_jsonschema_for_the_first_request_that_needs_them() -> None:
    """What `mockgpt serve` imports before its first answer to a GET; both are heavy to load.
    The session's person takes two of Faker's modules, never the `faker` package itself."""
    code = """
import sys
from starlette.testclient import TestClient
import mockgpt.cli
from mockgpt import Config, MockGPT
mock = MockGPT(Config())
auth = {"Authorization": "Bearer t"}
with TestClient(mock) as client:
    assert client.get("/backend-api/settings/user", headers=auth).is_success
    print(sorted({name.split(".")[0] for name in sys.modules} & {"faker", "jsonschema"}))
    assert client.get("/api/auth/session").json()["user"]["email"]
    answer = client.post("/v1/chat/completions", json={"model": 1}, headers=auth)
    assert answer.status_code == 400, answer.text
    print(sorted({name.split(".")[0] for name in sys.modules} & {"faker", "jsonschema"}))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == ["[]", "['jsonschema']"]


def test_the_socket_listens_once_bound_before_any_worker_runs() -> None:
    # LiveServer.start() returns once the socket is bound; if it only listened when the
    # server starts accepting, a client connecting at once would be refused.
    stack = server_config(create_app(Config(clock="virtual")), "127.0.0.1", 0)
    port = stack.bind()
    assert stack.socket is not None
    try:
        assert stack.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # queued by the kernel, not refused
    finally:
        stack.socket.close()
