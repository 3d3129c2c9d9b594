from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support import seed_rows

from mockgpt import load_catalogue
from mockgpt.cli import main
from mockgpt.console import write_ready_file


def test_routes_lists_every_route(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[-1] == f"{len(load_catalogue())} routes"
    for row in seed_rows():
        plain = row["path"].split("?", 1)[0]
        if "{" in plain or "g-p-" in plain or plain.endswith("/USD"):
            continue
        assert any(line.split()[:2] == [row["method"], plain] for line in lines), (
            f"{row['method']} {plain} missing from mockgpt routes"
        )


def test_routes_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["method"], r["path"]) for r in rows] == [
        (r.method, r.path) for r in load_catalogue()
    ]


def test_openapi_prints_the_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["openapi"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["openapi"] == "3.2.0"
    assert "/backend-api/me" in document["paths"]
    assert not [path for path in document["paths"] if path.startswith("/__mockgpt__")]
    assert main(["openapi", "--admin"]) == 0
    admin = json.loads(capsys.readouterr().out)
    assert admin["openapi"] == "3.2.0"
    assert "/__mockgpt__/openapi.json" in admin["paths"]
    assert all(path.startswith("/__mockgpt__") for path in admin["paths"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_serve(*args: str) -> subprocess.Popen[str]:
    """`python -m mockgpt serve ARGS`, its output captured unbuffered."""
    return subprocess.Popen(
        [sys.executable, "-m", "mockgpt", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _wait_for(url: str, process: subprocess.Popen[str], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited early: {process.stdout.read() if process.stdout else ''}"
            )
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("server did not become ready")


def test_serve_starts_logs_and_stops_cleanly() -> None:
    port = _free_port()
    process = start_serve("--port", str(port), "--seed", "3")
    try:
        _wait_for(f"http://127.0.0.1:{port}/backend-api/edge", process, time.monotonic() + 20)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/backend-api/me", headers={"Authorization": "Bearer t"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()  # closing twice is harmless
    assert process.returncode == 0
    assert f"{len(load_catalogue())} routes, seed 3" in out
    assert f"http://127.0.0.1:{port}" in out
    assert "GET /backend-api/me 200" in out
    assert "Traceback" not in out
    assert out.rstrip().endswith("mockgpt stopped")


def test_the_route_table_in_the_docs_matches_the_catalogue() -> None:
    from pathlib import Path

    from mockgpt.cli import routes_markdown

    page = (Path(__file__).resolve().parent.parent / "docs" / "routes.md").read_text()
    table = page.split("<!-- routes:start -->\n", 1)[1].split("\n<!-- routes:end -->", 1)[0]
    assert table == routes_markdown(load_catalogue()), (
        "regenerate: mockgpt routes --format markdown"
    )


def test_serve_refuses_a_broken_script_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"txet": "typo"}')
    assert main(["serve", "--script", str(broken), "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "txet" in err
    assert "Traceback" not in err


def test_serve_answers_with_a_script_file_and_samples() -> None:
    port = _free_port()
    script = Path(__file__).resolve().parent.parent / "fixtures" / "scripts" / "example.json"
    process = start_serve("--port", str(port), "--samples", "4", "--script", str(script), "--quiet")
    try:
        _wait_for(f"http://127.0.0.1:{port}/backend-api/edge", process, time.monotonic() + 20)
        headers = {"Authorization": "Bearer t", "Content-Type": "application/json"}
        listing = urllib.request.Request(
            f"http://127.0.0.1:{port}/backend-api/conversations", headers=headers
        )
        with urllib.request.urlopen(listing, timeout=5) as response:
            assert json.load(response)["total"] == 4
        body = json.dumps({"action": "next", "model": "auto", "messages": []}).encode()
        turn = urllib.request.Request(
            f"http://127.0.0.1:{port}/backend-api/conversation", data=body, headers=headers
        )
        with urllib.request.urlopen(turn, timeout=30) as response:
            stream = response.read().decode()
        expected = json.loads(script.read_text())[0]["text"]
        assert json.dumps(expected)[1:-1] in stream
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=20)
    assert "2 scripted turns queued" in out
    assert 'OpenAI(base_url="http://127.0.0.1' in out


def test_serve_on_a_free_port_writes_its_url_to_the_ready_file(tmp_path: Path) -> None:
    ready = tmp_path / "ready.txt"
    process = start_serve("--port", "0", "--ready-file", str(ready), "--quiet")
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)  # polling for readiness, bounded by the deadline
        url = ready.read_text().strip()
        assert url.startswith("http://127.0.0.1:")
        assert not url.endswith(":0")
        with urllib.request.urlopen(url + "/backend-api/edge", timeout=5) as response:
            assert response.status == 204
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=20)
    assert f"listening on {url}" in out


def test_serve_logs_json_adds_latency_and_guards_the_admin_api(tmp_path: Path) -> None:
    ready = tmp_path / "ready.txt"
    process = start_serve(
        "--port", "0", "--ready-file", str(ready), "--log-format", "json",
        "--latency", "20-40", "--admin-token", "tok-123",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)  # polling for readiness, bounded by the deadline
        url = ready.read_text().strip()
        request = urllib.request.Request(
            url + "/backend-api/me", headers={"Authorization": "Bearer t"}
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        assert time.perf_counter() - started >= 0.02  # the latency is real on the system clock
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + "/__mockgpt__/state", timeout=5)  # no token: loopback too
        assert refused.value.code == 403
        refused.value.close()
        state_request = urllib.request.Request(
            url + "/__mockgpt__/state", headers={"Authorization": "bearer tok-123"}
        )
        with urllib.request.urlopen(state_request, timeout=5) as response:
            state = json.load(response)
        assert state["settings"]["latency"] == [0.02, 0.04]
        assert state["journal"] == 1
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=20)
    assert f"inspector:   {url}/__mockgpt__/" in out
    assert "admin token: tok-123" in out
    access = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    [me] = [line for line in access if line.get("path") == "/backend-api/me"]
    assert me["method"] == "GET"
    assert me["status"] == 200
    assert me["logger"] == "mockgpt.access"
    assert me["duration_ms"] >= 20


def test_latency_option_parses_milliseconds(capsys: pytest.CaptureFixture[str]) -> None:
    from mockgpt.cli import _latency

    assert _latency("120") == (0.12, 0.12)
    assert _latency("50-300") == (0.05, 0.3)
    for bad in ("fast", "300-50", "-5"):
        with pytest.raises(SystemExit):
            main(["serve", "--latency", bad])
        assert "--latency" in capsys.readouterr().err


def test_an_empty_admin_token_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for empty in ("", "  "):
        assert main(["serve", "--admin-token", empty]) == 2
        assert "--admin-token must not be empty" in capsys.readouterr().err


def test_only_loopback_hosts_go_without_an_admin_token() -> None:
    from mockgpt.cli import _loopback_host

    assert _loopback_host("127.0.0.1")
    assert _loopback_host("::1")
    assert _loopback_host("localhost")
    assert not _loopback_host("0.0.0.0")
    assert not _loopback_host("192.0.2.1")


def test_serve_answers_from_a_fixture_folder(tmp_path: Path) -> None:
    folder = tmp_path / "fixtures"
    (folder / "me").mkdir(parents=True)
    built_in = Path(__file__).resolve().parent.parent / "fixtures" / "me" / "me.json"
    me = json.loads(built_in.read_text())
    me["name"] = "Imported Person"
    (folder / "me" / "me.json").write_text(json.dumps(me))
    port = _free_port()
    process = start_serve("--port", str(port), "--fixtures", str(folder), "--quiet")
    try:
        _wait_for(f"http://127.0.0.1:{port}/backend-api/edge", process, time.monotonic() + 20)
        headers = {"Authorization": "Bearer t"}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/backend-api/me", headers=headers)
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response)["name"] == "Imported Person"
        other = urllib.request.Request(
            f"http://127.0.0.1:{port}/backend-api/settings/user", headers=headers
        )
        with urllib.request.urlopen(other, timeout=5) as response:
            assert response.status == 200  # a fixture the folder lacks comes from the package
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=20)
    assert f"fixtures from {folder} replace the built-in ones" in out


def test_serve_refuses_a_missing_fixture_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    absent = tmp_path / "absent"
    assert main(["serve", "--fixtures", str(absent), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err == f"mockgpt: fixtures folder {str(absent)!r} does not exist\n"
    a_file = tmp_path / "me.json"
    a_file.write_text("{}")
    assert main(["serve", "--fixtures", str(a_file), "--port", "0"]) == 2
    assert capsys.readouterr().err == f"mockgpt: fixtures {str(a_file)!r} is a file, not a folder\n"


@pytest.mark.parametrize(
    "command", [["routes"], ["routes", "--format", "json"], ["openapi"], ["openapi", "--admin"]]
)
def test_output_to_a_closed_pipe_ends_quietly(
    command: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before the first write, as with `| head -0`
    with capsys.disabled(), open(writer, "w") as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        assert main(command) == 1
        monkeypatch.undo()
    assert capsys.readouterr().err == ""


def test_a_reader_that_leaves_early_gets_no_traceback() -> None:
    # The document is bigger than a pipe's buffer, so the writer is still writing
    # when the reader leaves after one line, as `mockgpt openapi | head -1` does.
    process = subprocess.Popen(
        [sys.executable, "-m", "mockgpt", "openapi", "--indent", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    assert process.stdout.readline() == b"{\n"
    process.stdout.close()
    err = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=60) == 1
    assert err == b""


def test_a_port_in_use_is_one_line_before_the_banner(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    out, err = capsys.readouterr()
    assert "routes, seed" not in out  # no banner
    assert err == (
        f"mockgpt: port {port} on 127.0.0.1 is in use; choose another with --port, "
        "or --port 0 for a free one\n"
    )


def test_har_check_exit_statuses_in_a_process(tmp_path: Path) -> None:
    def har(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "mockgpt", "har", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    missing = har("check", str(tmp_path / "absent.har"))
    assert (missing.returncode, missing.stdout) == (2, "")
    assert missing.stderr.startswith("mockgpt: cannot read")
    assert missing.stderr.count("\n") == 1
    empty = tmp_path / "empty.har"
    empty.write_text(json.dumps({"log": {"version": "1.2", "entries": []}}))
    assert har("check", str(empty)).returncode == 0
    unknown = tmp_path / "unknown.har"
    entry = {
        "request": {"method": "GET", "url": "https://chatgpt.com/backend-api/nothing-here"},
        "response": {"status": 200, "content": {"mimeType": "application/json", "text": "{}"}},
    }
    unknown.write_text(json.dumps({"log": {"entries": [entry]}}))
    drifted = har("check", str(unknown))
    assert drifted.returncode == 1
    assert "GET /backend-api/nothing-here: 1 entry" in drifted.stdout
    assert "Traceback" not in drifted.stderr


@pytest.mark.parametrize("now", ["yesterday", "2026-11-29T12:00:00"])
def test_serve_refuses_a_now_that_is_not_an_iso_time_with_a_zone(
    now: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--now", now, "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "now must" in err
    assert "Traceback" not in err


def _serve_history(tmp_path: Path, name: str) -> bytes:
    ready = tmp_path / name
    process = start_serve(
        "--port", "0", "--ready-file", str(ready), "--quiet", "--seed", "4",
        "--now", "2026-11-29T12:00:00Z", "--pace", "instant",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)  # polling for readiness, bounded by the deadline
        request = urllib.request.Request(
            ready.read_text().strip() + "/backend-api/conversations",
            headers={"Authorization": "Bearer x"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            body: bytes = response.read()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
    return body


def test_two_serves_with_the_same_seed_and_now_list_the_same_history(tmp_path: Path) -> None:
    first = _serve_history(tmp_path, "a.txt")
    assert first == _serve_history(tmp_path, "b.txt")
    items = json.loads(first)["items"]
    assert len({item["title"] for item in items}) == len(items) == 5
    assert all(item["update_time"] < "2026-11-29T12:00:01" for item in items)


def test_the_ready_file_appears_whole_and_leaves_no_partial_file(tmp_path: Path) -> None:
    ready = tmp_path / "ready.txt"
    ready.write_text("stale\n", encoding="utf-8")
    write_ready_file(str(ready), "http://127.0.0.1:8123")
    assert ready.read_text(encoding="utf-8") == "http://127.0.0.1:8123\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ready.txt"]


_FIRST_GET = """
import sys
from starlette.testclient import TestClient
import mockgpt.cli
from mockgpt import MockGPT
from mockgpt.config import Config

mock = MockGPT(Config(sample_conversations=5))
answer = TestClient(mock.app).get(
    "/backend-api/settings/user", headers={"authorization": "Bearer test"}
)
print(answer.status_code)
late = ("wire", "conversation", "web_turn", "handoff", "chat_stream", "replay")
for name in sorted(sys.modules):
    if name.startswith(tuple(f"mockgpt.{stem}" for stem in late)) or name.endswith(".service"):
        print(name)
"""


def test_a_get_after_start_loads_no_stream_engine() -> None:
    """Start-up: what `mockgpt serve` builds and a first GET load neither the stream
    engine, the turn planner, the Responses API nor the recording reader (they are
    loaded by the first request that needs them), so a GET does not wait for them."""
    ran = subprocess.run(
        [sys.executable, "-c", _FIRST_GET], capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    status, *loaded = ran.stdout.splitlines()
    assert status == "200"
    assert loaded == ["mockgpt.service"]  # the store's service, not the Responses API's


def test_serve_refuses_tls_together_with_a_certificate_of_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Either mockgpt makes the certificate (--tls) or the user gives one: asked for both,
    # it used to serve the user's and print "clients trust the CA in None".
    chain, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    chain.write_text("x")
    key.write_text("x")
    code = main(["serve", "--tls", "--certfile", str(chain), "--keyfile", str(key), "--port", "1"])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.err == "mockgpt: give --tls or --certfile/--keyfile, not both\n"
    assert captured.out == ""


def test_serve_refuses_a_certificate_it_cannot_load_before_the_banner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import trustme

    issued = trustme.CA().issue_cert("localhost")
    chain, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(chain))
    issued.private_key_pem.write_to_path(str(key))
    # The files swapped: a user's mistake, one line and status 2 like any other bad option.
    code = main(["serve", "--certfile", str(key), "--keyfile", str(chain), "--port", "0"])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"mockgpt: cannot serve HTTPS with {key} and {chain}: ")
    assert captured.err.count("\n") == 1


def test_serve_refuses_an_encrypted_key_without_asking_for_its_passphrase(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import trustme
    from cryptography.hazmat.primitives import serialization

    issued = trustme.CA().issue_cert("localhost")
    chain, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(chain))
    private = serialization.load_pem_private_key(issued.private_key_pem.bytes(), password=None)
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # a prompt would find no answer
    code = main(["serve", "--certfile", str(chain), "--keyfile", str(key), "--port", "0"])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"mockgpt: {key} is encrypted: mockgpt serve needs a key without a passphrase\n"
    )
