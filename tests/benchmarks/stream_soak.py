"""Many concurrent streaming turns, some clients leaving mid-stream: errors and memory.

`mockgpt serve --quiet` runs in a subprocess on 127.0.0.1 (system clock, so
streams are really paced). N clients (default 500) each loop for the whole
window: open a connection, send a streaming `POST /v1/chat/completions`
(`Connection: close`), and either read the stream to its end (it must be a 200
that ends with `data: [DONE]`) or, with probability `--drop` (default 0.3),
close the socket after the first body bytes. Anything else (another status, a
refused or reset connection, a stream cut short, a stall past the timeout) is
an error.

Memory: the server's RSS is read from /proc after a warm-up of one turn per
client, at the end of the window, and again after the mock is reset through
the admin API (what a stream keeps is the mock's state, which a long session
would clear). Targets: 0 errors, and RSS after the reset within 10 % of the
warm-up figure.

Run it from the repository root (Linux, for /proc):

    python tests/benchmarks/stream_soak.py [--clients 500] [--seconds 60] [--drop 0.3]

It only talks to 127.0.0.1, stops by itself and ends the server it started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from _servers import HOST, ROOT, free_port, stop_process

IO_TIMEOUT = 30.0
BODY = json.dumps(
    {
        "model": "gpt-4o",
        "stream": True,
        "messages": [{"role": "user", "content": "Tell me about the sea in a few sentences."}],
    }
).encode()
REQUEST = (
    f"POST /v1/chat/completions HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer soak\r\n"
    f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\nConnection: close\r\n\r\n"
).encode() + BODY


@dataclass
class Tally:
    completed: int = 0
    dropped: int = 0
    errors: Counter[str] = field(default_factory=Counter)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc")


async def turn(port: int, drop: bool, tally: Tally) -> None:
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError as error:
        tally.errors[f"connect: {type(error).__name__}"] += 1
        return
    try:
        async with asyncio.timeout(IO_TIMEOUT):
            writer.write(REQUEST)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                tally.errors[head.split(b"\r\n", 1)[0].decode("latin-1")] += 1
                return
            if drop:
                await reader.read(64)
                tally.dropped += 1
                return
            body = await reader.read()
            if b"data: [DONE]" not in body:
                tally.errors["stream cut short"] += 1
                return
            tally.completed += 1
    except TimeoutError:
        tally.errors["timeout"] += 1
    except (OSError, asyncio.IncompleteReadError) as error:
        tally.errors[type(error).__name__] += 1
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def client(port: int, until: float, drop: float, rng: random.Random, tally: Tally) -> None:
    while time.monotonic() < until:
        await turn(port, rng.random() < drop, tally)


async def admin_reset(port: int) -> None:
    body = b"{}"
    request = (
        f"POST /__mockgpt__/reset HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(request)
    answer = await reader.read()
    writer.close()
    if not answer.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"reset failed: {answer[:200]!r}")


async def run(args: argparse.Namespace, port: int, pid: int) -> None:
    rng = random.Random(args.seed)
    warm = Tally()
    await asyncio.gather(*(turn(port, False, warm) for _ in range(args.clients)))
    before = rss_mb(pid)
    print(f"warm-up: {warm.completed} turns, errors {dict(warm.errors)}; RSS {before:.1f} MB")
    tally = Tally()
    started = time.monotonic()
    until = started + args.seconds
    await asyncio.gather(*(client(port, until, args.drop, rng, tally) for _ in range(args.clients)))
    took = time.monotonic() - started
    after = rss_mb(pid)
    await admin_reset(port)
    settled = rss_mb(pid)
    errors = sum(tally.errors.values())
    total = tally.completed + tally.dropped + errors
    print(
        f"{args.clients} clients for {took:.1f} s: {total} turns ({total / took:.0f}/s), "
        f"{tally.completed} read to the end, {tally.dropped} dropped mid-stream, {errors} errors"
        + (f" {dict(tally.errors)}" if errors else "")
    )
    print(
        f"RSS: {before:.1f} MB after warm-up, {after:.1f} MB at the end, "
        f"{settled:.1f} MB after an admin reset ({(settled - before) / before:+.1%}; "
        "target within 10 %)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--drop", type=float, default=0.3, help="share of clients leaving early")
    parser.add_argument("--seed", type=int, default=0, help="seed of who drops")
    args = parser.parse_args()
    if args.clients < 1 or not 0 < args.seconds <= 600 or not 0 <= args.drop <= 1:
        parser.error("--clients >= 1, 0 < --seconds <= 600, 0 <= --drop <= 1")
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * args.clients)), hard))
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        ready = Path(scratch) / "ready"
        command = [sys.executable, "-m", "mockgpt", "serve", "--quiet", "--samples", "0",
                   "--port", str(port), "--ready-file", str(ready)]  # fmt: skip
        server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not ready.exists():
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mockgpt serve did not start")
                time.sleep(0.02)  # polling for readiness, bounded by the deadline
            asyncio.run(run(args, port, server.pid))
        finally:
            stop_process(server)


if __name__ == "__main__":
    main()
