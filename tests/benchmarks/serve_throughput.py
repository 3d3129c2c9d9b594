"""Throughput of mockgpt against a bare Starlette app serving the same bytes.

What it measures: requests per second, and per-request latency (p50/p99), of
`GET /backend-api/settings/user` served by

- `mockgpt`: `MockGPT(Config(seed=0))`, what `mockgpt serve` runs (the app behind the
  controller that adds the admin API);
- `bare`: a one-route Starlette app that answers the very bytes mockgpt gave
  (same status, content-type and body, fetched from mockgpt once at start).

Both run under uvicorn with the options `mockgpt serve` uses (h11, lifespan on,
no access log, no server header), each in its own subprocess on 127.0.0.1, so
the load generator here never shares a GIL with a server. The load comes from
N keep-alive connections over asyncio raw sockets, one request in flight per
connection. Rounds alternate mockgpt/bare/mockgpt/bare… so machine noise falls
on both alike; each round has a short warm-up, then a timed window. The report
gives the median req/s of each target, the ratio of the medians (target: mockgpt
at 0.90 of bare or better) and latency percentiles pooled over all rounds.

Run it from the repository root:

    python tests/benchmarks/serve_throughput.py [--seconds 3] [--rounds 3] [--connections 16]

It only talks to 127.0.0.1, stops by itself and ends both servers it started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from dataclasses import dataclass, field

from _servers import HOST, Server, percentile, report_line, start_server, stop_server

PATH = "/backend-api/settings/user"
REQUEST = (f"GET {PATH} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer bench\r\n\r\n").encode(
    "ascii"
)
WARMUP_SECONDS = 0.5
IO_TIMEOUT = 10.0

# Runs in each server subprocess: argv is [port, target] and, for the bare target,
# [path, status, content-type]; the bare target reads the body to serve from stdin.
SERVER_CODE = """
import sys

import uvicorn

port, target = int(sys.argv[1]), sys.argv[2]
if target == "mockgpt":
    from mockgpt import Config, MockGPT

    app = MockGPT(Config(seed=0))
else:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    path, status, media = sys.argv[3], int(sys.argv[4]), sys.argv[5]
    body = sys.stdin.buffer.read()

    async def settings_user(request: Request) -> Response:
        return Response(body, status_code=status, media_type=media)

    app = Starlette(routes=[Route(path, settings_user)])
from mockgpt.server import server_config

uvicorn.Server(server_config(app, "127.0.0.1", port)).run()
"""


@dataclass(slots=True)
class Answer:
    """One parsed HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class Round:
    """The outcome of one timed window against one server."""

    target: str
    completed: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    client_cpu: float = 0.0  # share of one core the load generator used over the round

    @property
    def rate(self) -> float:
        return self.completed / self.seconds


# -- client ----------------------------------------------------------------------


async def read_answer(reader: asyncio.StreamReader) -> Answer:
    """Read one response: status line, headers, then exactly Content-Length bytes."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    length = headers.get("content-length")
    if length is None:
        raise RuntimeError(f"response without Content-Length: {lines[0]!r}")
    body = await reader.readexactly(int(length))
    return Answer(status, headers, body)


async def fetch_once(port: int) -> Answer:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(REQUEST)
        async with asyncio.timeout(IO_TIMEOUT):
            return await read_answer(reader)
    finally:
        writer.close()
        await writer.wait_closed()


async def worker(port: int, start: float, end: float, result: Round) -> None:
    """Send requests on one keep-alive connection until `end`; count those done in the window."""
    reader, writer = await asyncio.open_connection(HOST, port)
    clock = time.perf_counter
    try:
        while True:
            sent = clock()
            if sent >= end:
                return
            writer.write(REQUEST)
            async with asyncio.timeout(IO_TIMEOUT):
                answer = await read_answer(reader)
            done = clock()
            if answer.status != 200:
                raise RuntimeError(f"{result.target}: status {answer.status}, expected 200")
            if start <= done <= end:
                result.completed += 1
                result.latencies.append(done - sent)
    finally:
        writer.close()
        await writer.wait_closed()


async def measure(server: Server, connections: int, seconds: float) -> Round:
    began, cpu = time.perf_counter(), time.process_time()
    start = began + WARMUP_SECONDS
    result = Round(server.name, 0, seconds)
    end = start + seconds
    await asyncio.gather(*(worker(server.port, start, end, result) for _ in range(connections)))
    result.client_cpu = (time.process_time() - cpu) / (time.perf_counter() - began)
    return result


# -- report ----------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    servers: list[Server] = []
    try:
        mock = start_server("mockgpt", SERVER_CODE, [])
        servers.append(mock)
        reference = await fetch_once(mock.port)
        if reference.status != 200:
            raise RuntimeError(f"mockgpt answered {reference.status} on {PATH}")
        media = reference.headers.get("content-type", "")
        bare = start_server(
            "bare", SERVER_CODE, [PATH, str(reference.status), media], stdin=reference.body
        )
        servers.append(bare)
        check = await fetch_once(bare.port)
        same = (check.status, check.headers.get("content-type"), check.body) == (
            reference.status,
            media,
            reference.body,
        )
        if not same:
            raise RuntimeError("the bare app does not answer the same status, type and body")

        print(f"GET {PATH}: {reference.status} {media}, body {len(reference.body)} bytes")
        print(f"  mockgpt {len(reference.body)} bytes, bare {len(check.body)} bytes, identical")
        print(
            f"uvicorn h11, {args.connections} keep-alive connections, "
            f"{WARMUP_SECONDS} s warm-up + {args.seconds} s window, "
            f"{args.rounds} rounds each (alternating), cpus {os.cpu_count()}"
        )
        print()

        widths = [5, -8, 8, 10]
        print(report_line(["round", "target", "req/s", "client cpu"], widths))
        rounds: dict[str, list[Round]] = {mock.name: [], bare.name: []}
        for number in range(1, args.rounds + 1):
            for server in (mock, bare):
                result = await measure(server, args.connections, args.seconds)
                rounds[server.name].append(result)
                cells = [
                    str(number),
                    server.name,
                    f"{result.rate:.0f}",
                    f"{result.client_cpu:.0%}",
                ]
                print(report_line(cells, widths))
        print()

        widths = [-8, 12, 8, 8]
        print(report_line(["target", "median req/s", "p50 ms", "p99 ms"], widths))
        medians: dict[str, float] = {}
        for name, results in rounds.items():
            medians[name] = statistics.median(r.rate for r in results)
            latencies = [value for r in results for value in r.latencies]
            p50 = percentile(latencies, 0.50) * 1000
            p99 = percentile(latencies, 0.99) * 1000
            cells = [name, f"{medians[name]:.0f}", f"{p50:.2f}", f"{p99:.2f}"]
            print(report_line(cells, widths))
        ratio = medians[mock.name] / medians[bare.name]
        print(f"ratio mockgpt/bare: {ratio:.2f} (target >= 0.90)")
    finally:
        for server in reversed(servers):
            stop_server(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="timed window per round (default: %(default)s)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds per target (default: %(default)s)"
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=16,
        help="concurrent keep-alive connections (default: %(default)s)",
    )
    args = parser.parse_args()
    if args.seconds <= 0 or args.rounds < 1 or args.connections < 1:
        parser.error("--seconds must be positive, --rounds and --connections at least 1")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
