"""Soak the mock and show that its memory stays flat once its stores are full.

    python tests/benchmarks/soak_memory.py [--requests 100000] [--turns 2000]
        [--sessions 20000] [--big-every 1000] [--seconds 280]

Starts the mock in a subprocess on 127.0.0.1 as a user's test suite would
(`LiveServer`'s uvicorn setup around a `MockGPT` with the default limits,
except `max_conversations`, lowered so the warm-up fills it), then:

1. warm-up: enough of every kind of request to fill the journal, the token
   stores and the conversation store;
2. session fetches (`GET /api/auth/session`, each issues a token);
3. conversation turns (each a new conversation, the stream read to the end);
4. mixed requests: unknown paths, `/backend-api/me`, sentinel requirements,
   and an 8 MiB body every `--big-every` requests.

It prints the server's RSS (from /proc) after start, after the warm-up and
after each phase, the growth after the warm-up, and the size of
`/__mockgpt__/state`. It stops by itself: each phase ends early, saying so,
once `--seconds` have passed. The counts above include the warm-up.
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from pathlib import Path

from _servers import HOST, report_line, start_server, stop_server

SERVE = """
import sys
from mockgpt import Config, MockGPT
from mockgpt.server import LiveServer
port, max_conversations = int(sys.argv[1]), int(sys.argv[3])
mock = MockGPT(Config(max_conversations=max_conversations))
LiveServer(mock, port=port).serve_forever()
"""
AUTH = {"authorization": "Bearer soak", "content-type": "application/json"}
BIG = 8 * 1024 * 1024 - 1024


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line")


class Soak:
    """One keep-alive connection to the mock, and the clock of the whole run."""

    def __init__(self, port: int, seconds: float) -> None:
        self.port = port
        self.deadline = time.monotonic() + seconds
        self.connection = http.client.HTTPConnection(HOST, port, timeout=60)
        self.sent = 0
        self.statuses: dict[int, int] = {}
        self.big = b'{"prompt": "' + b"x" * (BIG - 14) + b'"}'

    def out_of_time(self) -> bool:
        return time.monotonic() > self.deadline

    def request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        self.connection.request(method, path, body=body, headers=AUTH)
        answer = self.connection.getresponse()
        data = answer.read()
        self.sent += 1
        self.statuses[answer.status] = self.statuses.get(answer.status, 0) + 1
        return data

    def sessions(self, count: int) -> int:
        done = 0
        while done < count and not self.out_of_time():
            self.request("GET", "/api/auth/session")
            done += 1
        return done

    def turns(self, count: int, start: int) -> int:
        done = 0
        while done < count and not self.out_of_time():
            number = start + done
            body = {
                "action": "next",
                "messages": [
                    {
                        "id": f"aaa5e6f7-0a1b-4c2d-8e3f-{number:012d}",
                        "author": {"role": "user"},
                        "content": {"content_type": "text", "parts": [f"soak turn {number}"]},
                        "metadata": {},
                    }
                ],
                "conversation_id": None,
                "parent_message_id": "client-created-root",
                "model": "gpt-4o",
            }
            self.request("POST", "/backend-api/conversation", json.dumps(body).encode())
            done += 1
        return done

    def mixed(self, count: int, big_every: int) -> int:
        done = 0
        while done < count and not self.out_of_time():
            kind = done % 4
            if big_every and done % big_every == big_every - 1:
                self.request("POST", "/soak/unknown", self.big)
            elif kind == 0:
                self.request("GET", f"/soak/unknown/{done}")
            elif kind == 1:
                self.request("GET", "/backend-api/me")
            elif kind == 2:
                self.request("POST", "/backend-api/sentinel/chat-requirements", b"{}")
            else:
                self.request("POST", "/soak/unknown", b'{"a": NaN, "n": ' + b"9" * 5000 + b"}")
            done += 1
        return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000, help="requests in all")
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--big-every", type=int, default=1000, help="an 8 MiB body every N")
    parser.add_argument("--max-conversations", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=280.0, help="stop after this long")
    options = parser.parse_args()

    server = start_server("mockgpt", SERVE, [str(options.max_conversations)])
    pid = server.process.pid
    rows: list[tuple[str, int, float, float]] = []
    started = time.monotonic()
    try:
        soak = Soak(server.port, options.seconds)
        rows.append(("started", 0, rss_mib(pid), 0.0))

        def phase(name: str, run: int) -> None:
            rows.append((name, run, rss_mib(pid), time.monotonic() - started))

        # Warm-up: fill the journal (10,000 entries), the conversation store and the tokens.
        warm_turns = options.max_conversations + 100
        phase("warm-up turns", soak.turns(warm_turns, 0))
        phase("warm-up sessions", soak.sessions(1500))
        phase("warm-up mixed", soak.mixed(12_000, options.big_every))
        warm = rows[-1][2]
        sessions = max(0, options.sessions - 1500)
        turns = max(0, options.turns - warm_turns)
        phase("sessions", soak.sessions(sessions))
        phase("turns", soak.turns(turns, warm_turns))
        rest = max(0, options.requests - soak.sent)
        phase("mixed", soak.mixed(rest, options.big_every))
        state = soak.request("GET", "/__mockgpt__/state")
        final = rows[-1][2]
    finally:
        stop_server(server)

    widths = [-18, 9, 10, 9]
    print(report_line(["phase", "requests", "RSS MiB", "seconds"], widths))
    for name, run, rss, at in rows:
        print(report_line([name, str(run), f"{rss:.1f}", f"{at:.1f}"], widths))
    print(
        f"requests sent: {soak.sent}; statuses: {dict(sorted(soak.statuses.items()))}; "
        f"/__mockgpt__/state: {len(state)} bytes"
    )
    print(f"RSS before: {rows[0][2]:.1f} MiB; after warm-up: {warm:.1f} MiB; end: {final:.1f} MiB")
    print(f"growth after warm-up: {final - warm:+.1f} MiB ({(final - warm) / warm:+.1%})")
    if soak.out_of_time():
        print(f"stopped early: the {options.seconds:.0f} s budget ran out")


if __name__ == "__main__":
    main()
