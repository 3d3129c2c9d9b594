"""Stream throughput of mockgpt against a bare Starlette app streaming the same bytes.

What it measures, on `POST /backend-api/conversation` (delta encoding v1, a new
conversation per request), served by

- `mockgpt`: `create_app(Config(seed=0, clock="virtual"))` whose every turn answers
  one long unpaced scripted text (`--words` words, one word per delta event);
- `bare`: a one-route Starlette app whose `StreamingResponse` yields the very
  events of one mockgpt stream (fetched from mockgpt once at start and split
  on blank lines), one write per event, so it sends the same bytes. mockgpt
  writes the events that are ready together in one write (its first event
  alone); the `chunks` line of the report gives both counts;

1. events per second of one stream at a time, on one keep-alive connection:
   `\\n\\n`-terminated events received inside the timed window / window length;
2. time to first byte (request written → first body byte), p50 and p99;
3. streams per second with N keep-alive connections streaming at once.

mockgpt runs as `mockgpt serve` runs it (the controller, the access log on,
its own server stack); the bare app on uvicorn with httptools and uvloop, the
fastest stock stack. Each runs in its own subprocess on 127.0.0.1, so the
client here never shares a GIL with a server. The client is a raw asyncio
protocol parsing HTTP/1.1 chunked transfer-encoding by hand, as bytes arrive.
The `client cpu` and `server cpu` columns give the share of one core each side
used: a server near 100% is what limits its numbers. Rounds alternate
mockgpt/bare/mockgpt/bare… so machine noise falls on both alike; each phase of a
round has a short warm-up, then a timed window. The report gives the medians
over rounds and the ratio of the median events/s (target: mockgpt at 0.80 of
bare or better). Before measuring, one mockgpt stream is decoded with
`mockgpt.delta.decode_sse` and its last message must be the scripted text.

Run it from the repository root:

    python tests/benchmarks/stream_throughput.py [--seconds 3] [--rounds 3] [--connections 8]
        [--words 2000]

It only talks to 127.0.0.1, stops by itself and ends both servers it started.
mockgpt keeps every conversation it streamed, so its memory grows over the run
(the `server MB` column shows it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from _servers import (
    HOST,
    Server,
    check_rounds,
    percentile,
    report_line,
    round_options,
    start_server,
    stop_server,
)

PATH = "/backend-api/conversation"
WARMUP_SECONDS = 0.5
IO_TIMEOUT = 10.0
STREAM_TIMEOUT = 60.0  # one whole stream, request to last chunk

# Runs in each server subprocess: argv is [port, target, words]; the bare target
# reads the stream body to serve from stdin and yields it one event per chunk.
SERVER_CODE = """
import sys

port, target, words = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
if target == "mockgpt":
    from mockgpt import Config, MockGPT
    from mockgpt.scripts import Script
    from mockgpt.server import LiveServer

    # As `mockgpt serve` runs: the controller, the access log on, the same server.
    import logging

    from mockgpt.cli import BufferedLogHandler

    handler = BufferedLogHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    mock = MockGPT(Config(seed=0, clock="virtual", log_requests=True))
    text = " ".join(f"word{i}" for i in range(words))
    mock.match(Script(text=text))  # no prompt or model: it answers every turn
    LiveServer(mock, host="127.0.0.1", port=port).serve_forever()
else:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    body = sys.stdin.buffer.read()
    events = [part + b"\\n\\n" for part in body.split(b"\\n\\n")[:-1]]
    assert b"".join(events) == body, "the stream does not end with a blank line"
    headers = {"cache-control": "no-cache", "x-content-type-options": "nosniff"}

    async def conversation(request: Request) -> StreamingResponse:
        await request.body()

        async def chunks():
            for event in events:
                yield event

        return StreamingResponse(
            chunks(), media_type="text/event-stream; charset=utf-8", headers=headers
        )

    app = Starlette(routes=[Route("/backend-api/conversation", conversation, methods=["POST"])])
    uvicorn.run(
        app, host="127.0.0.1", port=port, http="httptools", loop="uvloop",
        access_log=False, log_level="warning", lifespan="on",
    )
"""


def long_text(words: int) -> str:
    """The scripted answer: `word0 word1 …`, the same in the parent and the server."""
    return " ".join(f"word{i}" for i in range(words))


def request_bytes() -> bytes:
    """One conversation request, with a fresh message id (so a new conversation each time)."""
    body = json.dumps(
        {
            "action": "next",
            "model": "auto",
            "messages": [
                {
                    "id": str(uuid.uuid4()),
                    "author": {"role": "user"},
                    "content": {"content_type": "text", "parts": ["benchmark"]},
                }
            ],
            "parent_message_id": "client-created-root",
            "supported_encodings": ["v1"],
        }
    ).encode("ascii")
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer bench\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


@dataclass(slots=True)
class Stream:
    """One streamed response as the client saw it."""

    status: int
    headers: dict[str, str]
    sent: float  # when the request was written
    first_byte: float  # when the first body byte arrived
    done: float  # when the last chunk arrived
    chunks: int  # chunks of the chunked body (one per server write)
    events: int  # `\n\n`-terminated events in the whole body
    in_window: int  # of which arrived inside the timed window
    body: bytes = b""  # only when asked to keep it

    @property
    def ttfb(self) -> float:
        return self.first_byte - self.sent


@dataclass(slots=True)
class Phase:
    """The outcome of one timed window against one server."""

    seconds: float
    events: int = 0
    streams: int = 0
    ttfb: list[float] = field(default_factory=list)
    client_cpu: float = 0.0  # share of one core the client used over the phase
    server_cpu: float | None = None  # share of one core the server used (None: unknown)

    @property
    def event_rate(self) -> float:
        return self.events / self.seconds

    @property
    def stream_rate(self) -> float:
        return self.streams / self.seconds


@dataclass(slots=True)
class Round:
    """One round against one server: a sequential phase, then a concurrent one."""

    target: str
    sequential: Phase
    concurrent: Phase
    server_mb: float | None


# -- servers ---------------------------------------------------------------------


def cpu_seconds(server: Server) -> float | None:
    """User + system CPU time the server has used so far (Linux `/proc`), or None."""
    try:
        stat = Path(f"/proc/{server.process.pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resident_mb(server: Server) -> float | None:
    """The server's resident memory in MB (Linux `/proc`), or None when unknown."""
    try:
        status = Path(f"/proc/{server.process.pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


# -- client ----------------------------------------------------------------------


def count_terminators(data: bytes, pending: bool) -> tuple[int, bool]:
    """`\\n\\n` in the stream so far, counted chunk by chunk as one scan of the whole would.

    `pending` says the stream so far ends with a newline no pair has used yet.
    Pairs only form inside runs of newlines, so carrying that one newline over
    makes the count exact whatever the chunk boundaries.
    """
    text = b"\n" + data if pending else data
    run = len(text) - len(text.rstrip(b"\n"))
    return text.count(b"\n\n"), run % 2 == 1


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request in flight at a time.

    Bytes are parsed in `data_received`, as the event loop hands them over, so
    the client costs one callback per socket read rather than a task wake-up.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()
        self.waiter: asyncio.Future[Stream] | None = None
        self.window = (0.0, 0.0)
        self.keep = False
        self._reset()

    def _reset(self) -> None:
        self.sent = 0.0
        self.head: tuple[int, dict[str, str]] | None = None
        self.first_byte = 0.0
        self.chunks = self.events = self.in_window = 0
        self.pending = False
        self.parts: list[bytes] = []

    @classmethod
    async def open(cls, port: int) -> Connection:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(IO_TIMEOUT):
            _, connection = await loop.create_connection(cls, HOST, port)
        return connection

    async def close(self) -> None:
        """Close the socket and wait (briefly) until the event loop has let go of it."""
        if self.transport is not None:
            self.transport.close()
            async with asyncio.timeout(IO_TIMEOUT):
                await self.closed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(
                ConnectionError("the server closed the connection in the middle of a response")
            )

    async def stream(self, start: float, end: float, *, keep: bool = False) -> Stream:
        """Send one request and read its whole answer, counting events in [start, end]."""
        if self.transport is None or self.waiter is not None:
            raise RuntimeError("the connection is not open, or already has a request in flight")
        self._reset()
        self.window, self.keep = (start, end), keep
        self.waiter = asyncio.get_running_loop().create_future()
        self.sent = time.perf_counter()
        self.transport.write(request_bytes())
        try:
            async with asyncio.timeout(STREAM_TIMEOUT):
                return await self.waiter
        finally:
            self.waiter = None

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        try:
            result = self._parse(now)
        except Exception as error:  # a malformed answer fails the stream, not the loop
            self.waiter.set_exception(error)
            return
        if result is not None:
            self.waiter.set_result(result)

    def _parse(self, now: float) -> Stream | None:
        """Consume what the buffer holds; the finished stream once its last chunk is in."""
        buffer = self.buffer
        if self.head is None:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return None
            lines = buffer[:head_end].decode("latin-1").split("\r\n")
            del buffer[: head_end + 4]
            headers: dict[str, str] = {}
            for line in lines[1:]:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            self.head = (int(lines[0].split(" ", 2)[1]), headers)
            if headers.get("transfer-encoding", "").lower() != "chunked":
                raise RuntimeError(
                    f"{lines[0]!r} without a chunked stream: {bytes(buffer[:200])!r}"
                )
        if not buffer:
            return None
        if not self.first_byte:
            self.first_byte = now
        start, end = self.window
        inside = start <= now <= end
        pos = 0
        while True:
            line_end = buffer.find(b"\r\n", pos)
            if line_end < 0:
                break
            size = int(buffer[pos:line_end].split(b";", 1)[0], 16)
            if size == 0:
                trailer_end = buffer.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    break
                del buffer[: trailer_end + 4]
                status, headers = self.head
                return Stream(
                    status,
                    headers,
                    self.sent,
                    self.first_byte,
                    now,
                    self.chunks,
                    self.events,
                    self.in_window,
                    b"".join(self.parts),
                )
            stop = line_end + 2 + size
            if len(buffer) < stop + 2:
                break
            data = bytes(buffer[line_end + 2 : stop])
            pos = stop + 2
            self.chunks += 1
            count, self.pending = count_terminators(data, self.pending)
            self.events += count
            if inside:
                self.in_window += count
            if self.keep:
                self.parts.append(data)
        del buffer[:pos]
        return None


async def fetch_stream(port: int) -> Stream:
    connection = await Connection.open(port)
    try:
        return await connection.stream(0.0, 0.0, keep=True)
    finally:
        await connection.close()


async def streamer(
    port: int, start: float, end: float, phase: Phase, on_stream: Callable[[Stream], None]
) -> None:
    """Stream one answer after another on one connection until `end`; count what fell inside."""
    connection = await Connection.open(port)
    try:
        while time.perf_counter() < end:
            result = await connection.stream(start, end)
            if result.status != 200:
                raise RuntimeError(f"status {result.status}, expected 200")
            phase.events += result.in_window
            if start <= result.done <= end:
                phase.streams += 1
            on_stream(result)
    finally:
        await connection.close()


async def measure(server: Server, connections: int, seconds: float) -> Phase:
    began, cpu, server_cpu = time.perf_counter(), time.process_time(), cpu_seconds(server)
    start = began + WARMUP_SECONDS
    end = start + seconds
    phase = Phase(seconds)

    def record(result: Stream) -> None:
        if start <= result.sent <= end:
            phase.ttfb.append(result.ttfb)

    await asyncio.gather(
        *(streamer(server.port, start, end, phase, record) for _ in range(connections))
    )
    elapsed = time.perf_counter() - began
    phase.client_cpu = (time.process_time() - cpu) / elapsed
    server_after = cpu_seconds(server)
    if server_cpu is not None and server_after is not None:
        phase.server_cpu = (server_after - server_cpu) / elapsed
    return phase


# -- report ----------------------------------------------------------------------


def share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def check_reference(reference: Stream, text: str) -> None:
    """The mockgpt stream must be a 200 v1 stream whose decoded answer is `text`."""
    from mockgpt.delta import decode_sse

    if reference.status != 200:
        raise RuntimeError(f"mockgpt answered {reference.status} on {PATH}")
    decoder = decode_sse(reference.body.decode("utf-8"))
    if not decoder.messages:
        raise RuntimeError("the mockgpt stream decodes to no message")
    parts = decoder.messages[-1]["content"]["parts"]
    if "".join(parts) != text:
        raise RuntimeError("the decoded last message is not the scripted text")
    if decoder.frames[-1:] != ["[DONE]"]:
        raise RuntimeError("the mockgpt stream does not end with data: [DONE]")


async def run(args: argparse.Namespace) -> None:
    text = long_text(args.words)
    servers: list[Server] = []
    try:
        mock = start_server("mockgpt", SERVER_CODE, [str(args.words)], quiet=True)
        servers.append(mock)
        reference = await fetch_stream(mock.port)
        check_reference(reference, text)
        media = reference.headers.get("content-type", "")
        bare = start_server("bare", SERVER_CODE, [str(args.words)], stdin=reference.body)
        servers.append(bare)
        check = await fetch_stream(bare.port)
        same = (check.status, check.headers.get("content-type"), check.body) == (
            reference.status,
            media,
            reference.body,
        )
        if not same:
            raise RuntimeError("the bare app does not answer the same status, type and body")

        print(
            f"POST {PATH}: {reference.status} {media}, {args.words} words, "
            f"{reference.events} events, {len(reference.body)} bytes per stream"
        )
        print(
            f"  decode_sse: last message == scripted text; chunks: mockgpt {reference.chunks}, "
            f"bare {check.chunks}; bare body identical ({len(check.body)} bytes)"
        )
        print(
            f"mockgpt as served (log on) vs bare on uvicorn httptools+uvloop, keep-alive, "
            f"{WARMUP_SECONDS} s warm-up + {args.seconds} s window "
            f"per phase (1 connection, then {args.connections}), {args.rounds} rounds each "
            f"(alternating), cpus {os.cpu_count()}"
        )
        print()

        n = args.connections
        print(
            f"events/s, streams/s, ttfb: 1 connection; streams/s x{n}: {n} connections; "
            f"cpu: share of one core (1 connection/{n} connections)"
        )
        widths = [5, -8, 9, 9, 8, 13, 11, 11, 9]
        header = [
            "round",
            "target",
            "events/s",
            "streams/s",
            "ttfb ms",
            f"streams/s x{n}",
            "client cpu",
            "server cpu",
            "server MB",
        ]
        print(report_line(header, widths))
        rounds: dict[str, list[Round]] = {mock.name: [], bare.name: []}
        for number in range(1, args.rounds + 1):
            for server in (mock, bare):
                sequential = await measure(server, 1, args.seconds)
                concurrent = await measure(server, n, args.seconds)
                result = Round(server.name, sequential, concurrent, resident_mb(server))
                rounds[server.name].append(result)
                ttfb = statistics.median(sequential.ttfb) * 1000 if sequential.ttfb else 0.0
                cells = [
                    str(number),
                    server.name,
                    f"{sequential.event_rate:.0f}",
                    f"{sequential.stream_rate:.2f}",
                    f"{ttfb:.2f}",
                    f"{concurrent.stream_rate:.2f}",
                    f"{share(sequential.client_cpu)}/{share(concurrent.client_cpu)}",
                    f"{share(sequential.server_cpu)}/{share(concurrent.server_cpu)}",
                    "-" if result.server_mb is None else f"{result.server_mb:.0f}",
                ]
                print(report_line(cells, widths))
        print()

        widths = [-8, 15, 16, 13, 13, 13]
        header = [
            "target",
            "median events/s",
            "median streams/s",
            f"streams/s x{n}",
            "ttfb p50 ms",
            "ttfb p99 ms",
        ]
        print(report_line(header, widths))
        events: dict[str, float] = {}
        ttfb_p50: dict[str, float] = {}
        for name, results in rounds.items():
            events[name] = statistics.median(r.sequential.event_rate for r in results)
            samples = [value for r in results for value in r.sequential.ttfb]
            ttfb_p50[name] = percentile(samples, 0.50) * 1000
            cells = [
                name,
                f"{events[name]:.0f}",
                f"{statistics.median(r.sequential.stream_rate for r in results):.2f}",
                f"{statistics.median(r.concurrent.stream_rate for r in results):.2f}",
                f"{ttfb_p50[name]:.2f}",
                f"{percentile(samples, 0.99) * 1000:.2f}",
            ]
            print(report_line(cells, widths))
        print(
            f"median ttfb: mockgpt {ttfb_p50[mock.name]:.2f} ms, bare {ttfb_p50[bare.name]:.2f} ms "
            f"(1 connection; {sum(len(r.sequential.ttfb) for r in rounds[mock.name])} and "
            f"{sum(len(r.sequential.ttfb) for r in rounds[bare.name])} streams)"
        )
        ratio = events[mock.name] / events[bare.name]
        print(f"ratio mockgpt/bare events/s: {ratio:.2f} (target >= 0.80)")
    finally:
        for server in reversed(servers):
            stop_server(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    round_options(
        parser,
        window="phase",
        connections=8,
        connections_help="concurrent keep-alive connections of the second phase",
    )
    parser.add_argument(
        "--words",
        type=int,
        default=2000,
        help="words of the scripted answer, one delta event each (default: %(default)s)",
    )
    args = parser.parse_args()
    check_rounds(parser, args, "words")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
