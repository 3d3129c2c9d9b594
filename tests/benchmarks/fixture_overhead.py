"""What the `mockgpt` pytest fixture costs per test.

Two measurements:

1. `MockGPT.reset()` alone, as the fixture calls it before every test, timed
   in this process over many calls (median and p99 of single calls);
2. whole pytest runs of N trivial tests in a scratch folder, once with each
   test taking the `mockgpt` fixture (one live server for the session, a fresh
   app per test) and once without, alternating; the per-test overhead is the
   difference of the median run times divided by N (it includes the session's
   one server start, spread over the N tests).

Target: a per-test reset of 1 ms or less.

Run it from the repository root:

    python tests/benchmarks/fixture_overhead.py [--tests 1000] [--runs 3] [--resets 2000]

It starts pytest subprocesses only, each with its own live server on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _servers import ROOT, percentile

WITH_FIXTURE = """
import pytest


@pytest.mark.parametrize("n", range({count}))
def test_trivial(mockgpt, n):
    assert mockgpt.calls() == []
"""

WITHOUT_FIXTURE = """
import pytest


@pytest.mark.parametrize("n", range({count}))
def test_trivial(n):
    assert n >= 0
"""


def time_resets(count: int) -> list[float]:
    from mockgpt import Config, MockGPT

    mock = MockGPT(Config(clock="virtual"))
    mock.reset()  # the first one may render what later ones share
    times = []
    for _ in range(count):
        started = time.perf_counter()
        mock.reset(Config(clock="virtual"))
        times.append(time.perf_counter() - started)
    return times


def time_pytest(folder: Path, name: str) -> float:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", name]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=folder, capture_output=True, text=True, timeout=600, check=False
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"pytest failed on {name}:\n{done.stdout[-2000:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=1000, help="tests per pytest run")
    parser.add_argument("--runs", type=int, default=3, help="pytest runs per variant")
    parser.add_argument("--resets", type=int, default=2000, help="resets timed in-process")
    args = parser.parse_args()
    if min(args.tests, args.runs, args.resets) < 1:
        parser.error("--tests, --runs and --resets must be at least 1")

    sys.path.insert(0, str(ROOT))
    resets = time_resets(args.resets)
    print(
        f"MockGPT.reset(): median {statistics.median(resets) * 1000:.3f} ms, "
        f"p99 {percentile(resets, 0.99) * 1000:.3f} ms over {args.resets} calls (target <= 1 ms)"
    )

    with tempfile.TemporaryDirectory(prefix="mockgpt-fixture-bench-") as scratch:
        folder = Path(scratch)
        (folder / "test_with.py").write_text(WITH_FIXTURE.format(count=args.tests))
        (folder / "test_without.py").write_text(WITHOUT_FIXTURE.format(count=args.tests))
        runs: dict[str, list[float]] = {"with": [], "without": []}
        for number in range(1, args.runs + 1):
            for variant in ("with", "without"):
                took = time_pytest(folder, f"test_{variant}.py")
                runs[variant].append(took)
                print(f"run {number}: {args.tests} tests {variant:>7} the fixture: {took:.2f} s")
    with_fixture = statistics.median(runs["with"])
    without = statistics.median(runs["without"])
    per_test = (with_fixture - without) / args.tests * 1000
    print(
        f"median {with_fixture:.2f} s with the fixture, {without:.2f} s without: "
        f"{per_test:.2f} ms per test (session start-up included)"
    )


if __name__ == "__main__":
    main()
