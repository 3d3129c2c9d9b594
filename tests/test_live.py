"""The app behind a real socket: uvicorn with the options `mockgpt serve` uses."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from support import SEEDS, documented_request, make_config
from test_app import ROUTES, check_answer, sse_events

from mockgpt import LiveServer, create_app


@pytest.mark.parametrize("seed", SEEDS)
def test_every_route_over_a_socket(seed: int) -> None:
    app = create_app(make_config(seed))
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as client:
        for route in ROUTES:
            check_answer(route, documented_request(route, app.varier).send(client), route.status)


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def _upgrade_request(path: str, body: bytes, *extra: str) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Connection: Upgrade, HTTP2-Settings, close",
        "Upgrade: h2c",
        "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *extra,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_h2c_upgrade_headers_keep_the_body() -> None:
    message_id = "5f0c2d9e-6b1a-4c3f-8e7d-2a9b0c1d3e4f"
    message = {
        "id": message_id,
        "author": {"role": "user"},
        "content": {"content_type": "text", "parts": ["Is my body intact?"]},
    }
    body = json.dumps({"action": "next", "model": "auto", "messages": [message]}).encode()
    with LiveServer(create_app()) as server:
        streamed = _raw(
            server.port,
            _upgrade_request("/backend-api/conversation", body, "Authorization: Bearer t"),
        )
        refused = _raw(
            server.port,
            _upgrade_request("/backend-api/lat/r", b'{"model": 5}', "Authorization: Bearer t"),
        )
    head, _, payload = streamed.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    frames = [json.loads(e) for e in sse_events(payload)[:-1]]
    user = next(
        frame["message"] for frame in frames if frame["message"]["author"]["role"] == "user"
    )
    assert user["id"] == message_id
    assert user["content"]["parts"] == ["Is my body intact?"]
    assert refused.startswith(b"HTTP/1.1 422")
    assert b'"loc": ["body", "model"]' in refused
