"""`mockgpt record`, `serve --fixtures` on a recording and `mockgpt check`, as in the README."""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from test_docs import code_blocks, page_text, section

from mockgpt import Config, MockGPT
from mockgpt.delta import decode_sse
from mockgpt.scripts import Script
from mockgpt.store import first_turn

BEARER = {"authorization": "Bearer readme-credential-5d1e8a"}


def _start(args: list[str], ready: Path) -> tuple[subprocess.Popen[str], str]:
    """Start `mockgpt ARGS` and wait (polling its ready file) until it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mockgpt", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (ready.exists() and ready.read_text().endswith("\n")):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output, errors = process.communicate()
            raise AssertionError(f"mockgpt {args[0]} did not start:\n{output}{errors}")
        time.sleep(0.02)
    return process, ready.read_text().strip()


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    output, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors
    return output


def _local(line: str, upstream: str, out: Path, ready: Path) -> list[str]:
    """A README command line made to run here: a free port, a ready file, a temporary folder."""
    args = shlex.split(line)[1:]
    for index, arg in enumerate(args):
        if arg == "--port":
            args[index + 1] = "0"
        elif arg == "--upstream":
            args[index + 1] = upstream
        elif arg.startswith("recordings/"):
            args[index] = str(out)
    if "--port" in args:
        args += ["--ready-file", str(ready)]
    return args


def _use(base: str) -> tuple[dict[str, object], list[tuple[str | None, str]], str]:
    with httpx.Client(base_url=base, headers=BEARER, timeout=30) as client:
        me = client.get("/backend-api/me").json()
        turn = client.post("/backend-api/f/conversation", json=first_turn("Hi", v1=True))
    from mockgpt.framing import SSEReader

    reader = SSEReader()
    return me, [*reader.feed(turn.content), *reader.close()], turn.text


def test_the_readme_record_and_replay_lines_run(tmp_path: Path) -> None:
    block = code_blocks(section(page_text("README.md"), "### Record and replay"), "sh")[0]
    lines = [line for line in block.splitlines() if line.startswith("mockgpt ")]
    assert [line.split()[1] for line in lines] == ["record", "serve", "check"]
    out = tmp_path / "session"
    with MockGPT(Config(clock="system", pace="instant")) as upstream:
        upstream.queue(Script(text="Recorded from the README"))
        args = _local(lines[0], upstream.url, out, tmp_path / "record.ready")
        proxy, base = _start(args, tmp_path / "record.ready")
        try:
            seen = _use(base)
        finally:
            said = _stop(proxy)
    assert "recorded 2 exchanges" in said
    assert (out / "recording" / "002.json").is_file()
    assert BEARER["authorization"].split()[1] not in "".join(
        path.read_text() for path in out.rglob("*.json")
    )
    server, base = _start(
        _local(lines[1], "", out, tmp_path / "serve.ready"), tmp_path / "serve.ready"
    )
    try:
        replayed = _use(base)
        journal = httpx.get(base + "/__mockgpt__/journal").json()["entries"]
    finally:
        _stop(server)
    assert [name for name, _ in replayed[1]] == [name for name, _ in seen[1]]
    assert replayed[0].keys() == seen[0].keys()
    answer = decode_sse(replayed[2]).messages[-1]["content"]["parts"][0]
    assert answer == "Recorded from the README"
    assert [entry["recorded"] for entry in journal] == [True, True]
    check = subprocess.run(
        [sys.executable, "-m", "mockgpt", *_local(lines[2], "", out, tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.strip().endswith("no drift")


def test_check_and_serve_refuse_a_folder_without_a_readable_recording(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mockgpt", *args], capture_output=True, text=True, timeout=60
        )

    empty = run("check", str(tmp_path))
    assert (empty.returncode, empty.stdout) == (2, "")
    assert "holds no recording" in empty.stderr
    (tmp_path / "recording").mkdir()
    (tmp_path / "recording" / "001.json").write_text('{"method": "GET"}')
    broken = run("serve", "--port", "0", "--fixtures", str(tmp_path))
    assert broken.returncode == 2
    assert "is not a recorded exchange" in broken.stderr
    assert "Traceback" not in broken.stderr
    bad_upstream = run("record", "--upstream", "ftp://example.com", "--out", str(tmp_path / "o"))
    assert bad_upstream.returncode == 2
    assert "http:// or https://" in bad_upstream.stderr
