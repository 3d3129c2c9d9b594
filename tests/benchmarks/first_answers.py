"""First and second answer of each GET route a web client asks for, in fresh servers.

A page of the web client opens with a burst of GETs (`/api/auth/session`,
`/backend-api/me`, the models, the account check, the history page, the
settings...). Work a route only does at its first request (a module imported,
a document rendered, a table built) shows as a first answer much slower than
the second. This script starts `python -m mockgpt serve --port 0 --ready-file
F` (access log on, to a pipe it drains), waits for the ready file, then asks
each route once in order (the first answers) and once more (the second), on
one keep-alive connection, as a browser tab would. The routes are the web
client's usual first requests, in the order it sends them, then every other
GET route of the catalogue that takes no path parameter (required query
parameters filled from the catalogue's examples).

It repeats that over a few fresh starts and prints the median of each answer,
and the time from spawn to the ready file. With `--tree NAME=DIR` (repeatable)
it runs the server from each source tree in turn (`DIR` as the working folder
and on `PYTHONPATH`, this interpreter), alternating from start to start, so
that two versions compare in one run on the same machine.

Run it from the repository root:

    python tests/benchmarks/first_answers.py [--starts 5] [--tree old=/path --tree new=.]

It only talks to 127.0.0.1, stops by itself and ends the servers it started.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO
from urllib.parse import urlencode

from _servers import HOST, ROOT, report_line, stop_process

sys.path.insert(0, str(ROOT))

from mockgpt.catalogue import load_catalogue

#: What the web client asks first on a page load, in its order.
CLIENT_FIRST = [
    "/api/auth/session",
    "/backend-api/me",
    "/backend-api/models",
    "/backend-api/accounts/check/v4-2023-04-27",
    "/backend-api/conversations?offset=0&limit=28",
    "/backend-api/settings/user",
    "/backend-api/gizmos/bootstrap",
]
READY_TIMEOUT = 30.0
IO_TIMEOUT = 10.0
HEADERS = {"Authorization": "Bearer benchmark", "Accept": "application/json"}


def catalogue_paths() -> list[str]:
    """The client's first requests, then the catalogue's other GET routes without a path
    parameter, with required query parameters set to their examples."""
    paths = list(CLIENT_FIRST)
    seen = {path.partition("?")[0] for path in paths}
    for route in load_catalogue():
        if route.method != "GET" or "{" in route.path or route.path in seen:
            continue
        query = {p.name: p.example for p in route.query if p.required}
        if any(isinstance(value, list | dict) for value in query.values()):
            continue
        paths.append(route.path + ("?" + urlencode(query) if query else ""))
        seen.add(route.path)
    return paths


def drain(stream: IO[bytes] | None) -> None:
    """Read a server's output to the end on a thread, so its log never blocks it."""
    assert stream is not None
    read = stream.read
    threading.Thread(target=lambda: [None for _ in iter(lambda: read(65536), b"")],
                     daemon=True).start()  # fmt: skip


def one_start(tree: Path, paths: list[str]) -> tuple[float, list[tuple[int, float, float]]]:
    """Start a server from `tree`; seconds to its ready file, and per path the status, the
    first and the second answer's seconds."""
    folder = Path(tempfile.mkdtemp(prefix="mockgpt-first-"))
    ready = folder / "ready"
    environment = dict(os.environ, PYTHONPATH=str(tree))
    environment.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode caches warm
    command = [sys.executable, "-m", "mockgpt", "serve", "--port", "0", "--ready-file", str(ready)]
    began = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=tree,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        drain(process.stdout)
        deadline = began + READY_TIMEOUT
        while not ready.exists():
            if process.poll() is not None:
                raise RuntimeError(f"server from {tree} exited with code {process.returncode}")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"server from {tree} not ready within {READY_TIMEOUT} s")
            time.sleep(0.001)
        started = time.perf_counter() - began
        port = int(ready.read_text(encoding="utf-8").strip().rsplit(":", 1)[1])
        connection = http.client.HTTPConnection(HOST, port, timeout=IO_TIMEOUT)
        try:
            first = [timed(connection, path) for path in paths]
            second = [timed(connection, path) for path in paths]
        finally:
            connection.close()
        return started, [(s1, t1, t2) for (s1, t1), (_, t2) in zip(first, second, strict=True)]
    finally:
        stop_process(process)
        ready.unlink(missing_ok=True)
        folder.rmdir()


def timed(connection: http.client.HTTPConnection, path: str) -> tuple[int, float]:
    """One GET on the open connection: its status and seconds, body read whole."""
    began = time.perf_counter()
    connection.request("GET", path, headers=HEADERS)
    response = connection.getresponse()
    response.read()
    return response.status, time.perf_counter() - began


def warm_caches(trees: dict[str, Path], paths: list[str]) -> None:
    """One untimed start per tree, which writes its bytecode caches."""
    for tree in trees.values():
        one_start(tree, paths[:1])


def tree_option(text: str) -> tuple[str, Path]:
    name, _, folder = text.partition("=")
    path = Path(folder).resolve()
    if not name or not (path / "mockgpt" / "__main__.py").is_file():
        raise argparse.ArgumentTypeError(f"expected NAME=DIR of a mockgpt tree, not {text!r}")
    return name, path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--starts", type=int, default=5, help="fresh starts per tree (default: %(default)s)"
    )
    parser.add_argument(
        "--tree",
        type=tree_option,
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="a source tree to run the server from (repeatable; default: this one)",
    )
    parser.add_argument(
        "--all", action="store_true", help="every GET route, not only the client's first ones"
    )
    args = parser.parse_args()
    if not 1 <= args.starts <= 50:
        parser.error("--starts must be between 1 and 50")
    trees = dict(args.tree) or {"this": ROOT}
    paths = catalogue_paths() if args.all else list(CLIENT_FIRST)
    warm_caches(trees, paths)

    ready: dict[str, list[float]] = {name: [] for name in trees}
    answers: dict[str, list[list[tuple[int, float, float]]]] = {name: [] for name in trees}
    names = list(trees)
    for number in range(args.starts):
        order = names[number % len(names) :] + names[: number % len(names)]
        for name in order:
            took, timings = one_start(trees[name], paths)
            ready[name].append(took)
            answers[name].append(timings)

    print(
        f"mockgpt serve --port 0 (access log on), {args.starts} fresh starts per tree, "
        f"the trees' order turning from start to start; one keep-alive connection, each "
        f"path once in order (first), then again (second); medians in ms; cpus {os.cpu_count()}"
    )
    for name in names:
        print(f"  {name}: {trees[name]}")
    print()
    header = ["path", "status"]
    widths = [-52, 6]
    for name in names:
        header += [f"{name} 1st", f"{name} 2nd"]
        widths += [12, 12]
    print(report_line(header, widths))
    for index, path in enumerate(paths):
        statuses = {runs[index][0] for name in names for runs in answers[name]}
        cells = [path[:52], "/".join(str(status) for status in sorted(statuses))]
        for name in names:
            first = statistics.median(runs[index][1] for runs in answers[name]) * 1000
            second = statistics.median(runs[index][2] for runs in answers[name]) * 1000
            cells += [f"{first:.2f}", f"{second:.2f}"]
        print(report_line(cells, widths))
    cells = ["spawn to ready file", ""]
    for name in names:
        cells += [f"{statistics.median(ready[name]) * 1000:.0f}", ""]
    print(report_line(cells, widths))
    cells = ["all first answers together", ""]
    for name in names:
        totals = [sum(t1 for _, t1, _ in runs) for runs in answers[name]]
        cells += [f"{statistics.median(totals) * 1000:.1f}", ""]
    print(report_line(cells, widths))


if __name__ == "__main__":
    main()
