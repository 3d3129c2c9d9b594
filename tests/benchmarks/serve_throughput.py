"""Throughput of `mockgpt serve` against bare Starlette on the fastest stock stack.

What it measures: requests per second, and per-request latency (p50/p99), of
`GET /backend-api/settings/user` (with a bearer token) served by

- `mockgpt`: `python -m mockgpt serve --port P`, exactly as a user runs it
  (default options: the access log on, one text line per request to stdout,
  here a pipe this script drains);
- `bare`: a one-route Starlette app that answers the very bytes mockgpt gave
  (same status, content-type and body, fetched from mockgpt once at start),
  on uvicorn with httptools and uvloop, no access log: the fastest stock stack
  one would pick for a hand-written mock.

Each server runs in its own subprocess on 127.0.0.1, pinned to one core where
the machine has two or more (the load generator here gets the others), so
the client never shares a GIL with a server. Start-up is the time from
spawning the process to its first 200 answer. The load comes from N
keep-alive connections over asyncio raw sockets, one request in flight per
connection. Rounds alternate mockgpt/bare/mockgpt/bare… so machine noise falls
on both alike; each round has a short warm-up, then a timed window. The report
gives the median req/s of each target, the ratio of the medians (target:
mockgpt at 0.90 of bare or better), latency percentiles pooled over all rounds
and the median start-up times (target: mockgpt within 1.3 times bare).

Run it from the repository root:

    python tests/benchmarks/serve_throughput.py [--seconds 3] [--rounds 3] [--connections 16]

It only talks to 127.0.0.1, stops by itself and ends the servers it started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from _servers import (
    HOST,
    ROOT,
    Server,
    check_rounds,
    free_port,
    percentile,
    report_line,
    round_options,
    stop_server,
)

PATH = "/backend-api/settings/user"
REQUEST = (f"GET {PATH} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer bench\r\n\r\n").encode(
    "ascii"
)
WARMUP_SECONDS = 0.5
IO_TIMEOUT = 10.0
STARTUP_TIMEOUT = 30.0

# The reference: argv is [port, path, status, content-type]; the body comes on stdin.
BARE_CODE = """
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

port, path, status, media = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
body = sys.stdin.buffer.read()


async def settings_user(request: Request) -> Response:
    return Response(body, status_code=status, media_type=media)


app = Starlette(routes=[Route(path, settings_user)])
uvicorn.run(
    app, host="127.0.0.1", port=port, http="httptools", loop="uvloop",
    access_log=False, log_level="warning", lifespan="on",
)
"""


def pin(core: int | None) -> None:
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})


def server_cores() -> tuple[int | None, list[int] | None]:
    """One core for the server under test, the rest for this load generator (Linux)."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, None
    return cores[0], cores[1:]


def spawn(name: str, command: list[str], core: int | None, stdin: bytes | None = None) -> Server:
    """Start a server, drain its output on a thread, and return once it is spawned."""
    port = free_port()
    command = [arg.replace("{port}", str(port)) for arg in command]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=(lambda: pin(core)) if core is not None else None,
    )
    if stdin is not None:
        assert process.stdin is not None
        process.stdin.write(stdin)
        process.stdin.close()
    assert process.stdout is not None
    output = process.stdout
    threading.Thread(target=lambda: [None for _ in iter(lambda: output.read(65536), b"")],
                     daemon=True).start()  # fmt: skip
    return Server(name, port, process)


async def first_answer(server: Server, started: float) -> tuple[float, Answer]:
    """Poll until the server answers 200; the seconds since `started` and the answer."""
    deadline = started + STARTUP_TIMEOUT
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with code {server.process.returncode}")
        try:
            answer = await fetch_once(server.port)
            if answer.status == 200:
                return time.perf_counter() - started, answer
        except OSError:
            pass
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{server.name} did not answer 200 within {STARTUP_TIMEOUT} s")
        await asyncio.sleep(0.002)


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


def mockgpt_command(*options: str) -> list[str]:
    return [sys.executable, "-m", "mockgpt", "serve", "--port", "{port}", *options]


def compile_bytecode() -> None:
    """Write mockgpt's bytecode caches, as installing it from a wheel does, so that a start
    here (say, with PYTHONDONTWRITEBYTECODE set) does not compile its modules each time
    while the reference's libraries start from their installed caches."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "mockgpt"], cwd=ROOT, check=True)


def bare_command(media: str, status: int) -> list[str]:
    return [sys.executable, "-c", BARE_CODE, "{port}", PATH, str(status), media]


async def start_both(core: int | None, starts: dict[str, list[float]]) -> tuple[Server, Server]:
    """Start mockgpt, then the bare app serving its bytes; note each start-up time."""
    began = time.perf_counter()
    mock = spawn("mockgpt", mockgpt_command(), core)
    try:
        took, reference = await first_answer(mock, began)
        starts["mockgpt"].append(took)
        media = reference.headers.get("content-type", "")
        began = time.perf_counter()
        bare = spawn("bare", bare_command(media, reference.status), core, stdin=reference.body)
    except BaseException:
        stop_server(mock)
        raise
    try:
        took, check = await first_answer(bare, began)
        starts["bare"].append(took)
        same = (check.status, check.headers.get("content-type"), check.body) == (
            reference.status,
            media,
            reference.body,
        )
        if not same:
            raise RuntimeError("the bare app does not answer the same status, type and body")
    except BaseException:
        stop_server(bare)
        stop_server(mock)
        raise
    return mock, bare


async def run(args: argparse.Namespace) -> None:
    core, client_cores = server_cores()
    if client_cores:
        os.sched_setaffinity(0, set(client_cores))
    compile_bytecode()
    starts: dict[str, list[float]] = {"mockgpt": [], "bare": []}
    # Start-up alone, interleaved, in fresh processes (the first pair also serves the load).
    for _ in range(max(0, args.starts - 1)):
        for server in await start_both(core, starts):
            stop_server(server)
    mock, bare = await start_both(core, starts)
    servers = [mock, bare]
    try:
        if args.quiet_too:
            quiet = spawn("quiet", mockgpt_command("--quiet"), core)
            servers.append(quiet)
            await first_answer(quiet, time.perf_counter())
        print(f"GET {PATH}: both answer the same status, content-type and body")
        pinned = f"each server pinned to core {core}" if core is not None else "no pinning"
        print(
            f"mockgpt serve (granian, access log on) vs bare Starlette on uvicorn httptools+uvloop;"
            f" {args.connections} keep-alive connections, {WARMUP_SECONDS} s warm-up + "
            f"{args.seconds} s window, {args.rounds} rounds each (alternating), "
            f"cpus {os.cpu_count()}, {pinned}"
        )
        print()

        widths = [5, -8, 8, 10]
        print(report_line(["round", "target", "req/s", "client cpu"], widths))
        rounds: dict[str, list[Round]] = {server.name: [] for server in servers}
        for number in range(1, args.rounds + 1):
            for server in servers:
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

        widths = [-8, 12, 8, 8, 9]
        print(report_line(["target", "median req/s", "p50 ms", "p99 ms", "start ms"], widths))
        medians: dict[str, float] = {}
        for name, results in rounds.items():
            medians[name] = statistics.median(r.rate for r in results)
            latencies = [value for r in results for value in r.latencies]
            p50 = percentile(latencies, 0.50) * 1000
            p99 = percentile(latencies, 0.99) * 1000
            start = f"{statistics.median(starts[name]) * 1000:.0f}" if name in starts else "-"
            cells = [name, f"{medians[name]:.0f}", f"{p50:.2f}", f"{p99:.2f}", start]
            print(report_line(cells, widths))
        ratio = medians[mock.name] / medians[bare.name]
        start_ratio = statistics.median(starts["mockgpt"]) / statistics.median(starts["bare"])
        print(f"ratio mockgpt/bare: {ratio:.2f} (target >= 0.90)")
        if args.quiet_too:
            cost = 1 - medians[mock.name] / medians["quiet"]
            print(f"access log cost: {cost:.1%} of --quiet's req/s (target < 5 %)")
        print(
            f"start-up mockgpt/bare: {start_ratio:.2f} (target <= 1.30; "
            f"median of {len(starts['bare'])} starts each)"
        )
    finally:
        for server in reversed(servers):
            stop_server(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    round_options(
        parser, window="round", connections=16, connections_help="concurrent keep-alive connections"
    )
    parser.add_argument(
        "--starts", type=int, default=5, help="start-ups timed per target (default: %(default)s)"
    )
    parser.add_argument(
        "--quiet-too",
        action="store_true",
        help="also run `mockgpt serve --quiet` in the rounds: what the access log costs",
    )
    args = parser.parse_args()
    check_rounds(parser, args, "starts")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
