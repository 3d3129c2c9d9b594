"""The access log `mockgpt serve` writes: the same lines `logging` would make, written
by a thread of its own, in order, and never holding up the caller."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockgpt import accesslog
from mockgpt.accesslog import AccessRecord, AccessWriter, LineWriter, log_access
from mockgpt.cli import BufferedLogHandler, JsonLogFormatter

METHODS = st.sampled_from(["GET", "POST", "DELETE", "PATCH", 'G"T', "M\\X", "GÉT"])
TARGETS = st.text(max_size=40).map(lambda text: "/" + text)
DURATIONS = st.floats(min_value=0, max_value=1e7, allow_nan=False)


class Collect:
    """A `LineWriter` stand-in that keeps what is put."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def put(self, line: str) -> None:
        self.lines.append(line)


def _written(form: str, method: str, target: str, status: int, ms: float) -> str:
    sink = Collect()
    AccessWriter(sink, form)(method, target, status, ms)  # type: ignore[arg-type]
    [line] = sink.lines
    return line


def _check_same_as_logging(method: str, target: str, status: int, ms: float) -> None:
    record = AccessRecord(method, target, status, ms)
    assert _written("text", method, target, status, ms) == logging.Formatter("%(message)s").format(
        record
    )
    line = _written("json", method, target, status, ms)
    expected = JsonLogFormatter().format(record)
    # Byte for byte after the time, which each reads from the clock (and may cross a second).
    assert line.split(', "level": ', 1)[1] == expected.split(', "level": ', 1)[1]
    assert abs(_epoch(json.loads(line)["time"]) - _epoch(json.loads(expected)["time"])) <= 1


def _epoch(stamp: str) -> float:
    return time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S"))


@given(METHODS, TARGETS, st.integers(100, 599), DURATIONS)
def test_lines_are_those_the_logging_formatters_make(
    method: str, target: str, status: int, ms: float
) -> None:
    _check_same_as_logging(method, target, status, ms)


@settings(derandomize=True, max_examples=200)
@given(METHODS, TARGETS, st.integers(100, 599), DURATIONS)
def test_lines_are_those_the_logging_formatters_make_pinned(
    method: str, target: str, status: int, ms: float
) -> None:
    _check_same_as_logging(method, target, status, ms)


@pytest.mark.parametrize(
    "target",
    ["/backend-api/me", '/a"b', "/a\\b", "/tab\there", "/new\nline", "/é✓", "/\u2028", "/\x7f"],
)
def test_escapes_match_json_dumps(target: str) -> None:
    _check_same_as_logging("GET", target, 200, 1.234)


class Blocked(io.StringIO):
    """An output whose writes wait until `opened` is set, like a pipe nobody reads."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = threading.Event()
        self.writing = threading.Event()

    def write(self, text: str) -> int:
        self.writing.set()
        self.opened.wait(10)
        return super().write(text)


def test_lines_are_written_in_order_and_all_at_close() -> None:
    out = io.StringIO()
    lines = LineWriter(out)
    for number in range(5000):
        lines.put(f"line {number}")
    lines.close()
    assert out.getvalue().splitlines() == [f"line {number}" for number in range(5000)]


def test_a_blocked_output_drops_lines_past_the_limit_and_says_how_many() -> None:
    out = Blocked()
    lines = LineWriter(out)
    lines.LIMIT = 10
    lines.put("first")
    assert out.writing.wait(10), "the writer thread never wrote"
    # The writer is stuck in write(): put() must still return at once, up to the limit.
    for number in range(25):
        lines.put(f"queued {number}")
    assert lines.dropped == 15
    out.opened.set()
    lines.close()
    written = out.getvalue().splitlines()
    assert written[0] == "first"
    assert written[1:11] == [f"queued {number}" for number in range(10)]
    assert written[11] == "mockgpt: 15 log lines dropped while the output was blocked"


def test_an_installed_writer_takes_the_lines_instead_of_the_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = Collect()
    previous = accesslog.install(AccessWriter(sink, "text"))  # type: ignore[arg-type]
    try:
        with caplog.at_level("INFO", logger="mockgpt.access"):
            log_access("GET", "/backend-api/me", 200, 0.25)
    finally:
        accesslog.install(previous)
    assert sink.lines == ["GET /backend-api/me 200 0.2ms"]
    assert not [r for r in caplog.records if r.name == "mockgpt.access"]
    with caplog.at_level("INFO", logger="mockgpt.access"):
        log_access("GET", "/backend-api/me", 200, 0.25)
    assert [r.getMessage() for r in caplog.records] == ["GET /backend-api/me 200 0.2ms"]


def test_other_log_lines_share_the_writer_and_its_order() -> None:
    out = io.StringIO()
    lines = LineWriter(out)
    handler = BufferedLogHandler(out, lines)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("mockgpt.test-shared-writer")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        AccessWriter(lines)("GET", "/a", 200, 1.0)
        logger.error("between")
        AccessWriter(lines)("GET", "/b", 404, 2.0)
        handler.flush()
        assert out.getvalue().splitlines() == [
            "GET /a 200 1.0ms",
            "ERROR between",
            "GET /b 404 2.0ms",
        ]
    finally:
        logger.removeHandler(handler)
        lines.close()


H2C_POST = (
    b"POST /backend-api/lat/r HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nAuthorization: Bearer t\r\n"
    b'Content-Type: application/json\r\nContent-Length: 12\r\n\r\n{"model": 5}'
)


@pytest.mark.parametrize("form", ["text", "json"])
def test_an_h2c_upgrade_client_leaves_only_access_lines(form: str, tmp_path: Path) -> None:
    """A chat2api-style client sends `Connection: Upgrade` / `Upgrade: h2c` on every
    request: the server answers over HTTP/1.1 and logs nothing but the access lines."""
    ready = tmp_path / "ready.txt"
    process = subprocess.Popen(
        [sys.executable, "-m", "mockgpt", "serve", "--port", "0", "--ready-file", str(ready),
         "--log-format", form],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # polling for readiness, bounded by the deadline
        assert ready.exists(), "mockgpt serve did not become ready"
        port = int(ready.read_text().strip().rsplit(":", 1)[1])
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
                sock.sendall(H2C_POST)
                head = sock.recv(65536)
            assert head.startswith(b"HTTP/1.1 422 ")  # the body arrived: its model is wrong
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    logged = out.split("(Ctrl-C to stop)\n", 1)[1].splitlines()
    logged = [line for line in logged if not line.startswith("  ")]  # the banner's hints
    assert logged[-1] == "mockgpt stopped"
    if form == "json":
        lines = [json.loads(line) for line in logged[:-1]]
        assert [line["logger"] for line in lines] == ["mockgpt.access"] * 3
        assert {line["status"] for line in lines} == {422}
    else:
        assert len(logged) == 4
        assert all(line.startswith("POST /backend-api/lat/r 422 ") for line in logged[:-1])


def test_each_way_out_of_the_app_logs_the_status_it_sent() -> None:
    """The line's status is what went out: a route (401 without a token), a miss, a
    fixed meta answer, a body too large, and a request cut short after its answer
    started."""
    from mockgpt import Config
    from mockgpt.app import create_app

    app = create_app(Config(clock="virtual", log_requests=True, max_body_bytes=1024))
    sink = Collect()
    previous = accesslog.install(AccessWriter(sink))  # type: ignore[arg-type]

    async def call(method: str, path: str, body: bytes = b"", cut: bool = False) -> None:
        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if cut and message["type"] == "http.response.body":
                raise asyncio.CancelledError  # the server stopping mid-answer

        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "scheme": "http",
            "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 1),
            "headers": [(b"host", b"127.0.0.1"), (b"content-length", str(len(body)).encode())],
        }
        try:
            await app(scope, receive, send)
        except asyncio.CancelledError:
            assert cut

    async def run() -> None:
        await call("GET", "/backend-api/models")
        await call("GET", "/backend-api/no-such-route")
        await call("GET", "/openapi.json")
        await call("POST", "/backend-api/conversation", b"{" * 2000)
        await call("GET", "/backend-api/models", cut=True)

    try:
        asyncio.run(run())
    finally:
        accesslog.install(previous)
    statuses = [line.split(" ")[2] for line in sink.lines]
    assert statuses == ["401", "404", "200", "413", "401"], sink.lines
