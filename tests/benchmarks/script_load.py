"""Script load time: the loader's own checks against checking with jsonschema.

The script format is defined once (`mockgpt.scripts.format`) and checked by
plain Python; its JSON Schema is written from the same definition. This prints
what loading a script costs, and what validating the same document against the
schema with jsonschema costs (the compiled validator, reused), so the ratio
says what checking scripts through the schema would add. It also times a
`Pacing`, which every unscripted turn builds.

Run it from the repository root: `python tests/benchmarks/script_load.py [--rounds 5]`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from mockgpt.schemas import validator
from mockgpt.scripts import Pacing, load_script

PLAIN: dict[str, Any] = {"text": "Hello!"}
RICH: dict[str, Any] = {
    "text": "Hello there, friend.",
    "chunks": ["Hello ", "there, ", "friend."],
    "pacing": {"ttft_ms": 120, "tokens_per_second": 30.5, "jitter": 0.2},
    "frames": {"moderation": True, "title_generation": False},
    "title": "Greeting",
    "tool_messages": [{"recipient": "bio", "author_name": "bio", "text": "Likes tea."}],
    "fault": {"kind": "error_envelope", "after": 3, "message": "boom"},
    "realism": {"padding": True, "pings": 2, "crlf": True},
}
REFUSAL: dict[str, Any] = {
    "http_error": {"status": 503, "body": {"detail": "busy"}, "headers": {"retry-after": "3"}}
}


def per_call_us(call: Callable[[], object], rounds: int, calls: int = 2000) -> float:
    """The least over rounds of the mean time of one call, in microseconds: on a shared
    machine the quickest round is the one least disturbed by other work."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        times.append((time.perf_counter() - start) / calls * 1e6)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    schema = validator("admin/script.json")
    print(f"{'document':<10} {'loader, us':>11} {'jsonschema, us':>15} {'ratio':>7}")
    for name, document in (("plain", PLAIN), ("rich", RICH), ("refusal", REFUSAL)):
        assert schema.is_valid(document), name
        loader = per_call_us(lambda document=document: load_script(document), rounds)
        checked = per_call_us(lambda document=document: schema.is_valid(document), rounds)
        print(f"{name:<10} {loader:>11.1f} {checked:>15.1f} {checked / loader:>7.1f}")
    pacing = per_call_us(lambda: Pacing(ttft_ms=450.0, tokens_per_second=52.3, jitter=0.35), rounds)
    print(f"Pacing(...), us: {pacing:.2f}")


if __name__ == "__main__":
    main()
