"""The pytest plugin, exercised in throwaway projects made with pytester."""

from __future__ import annotations

import re

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
import httpx
import pytest

TURN = {
    "action": "next", "model": "auto", "parent_message_id": "client-created-root",
    "messages": [{"id": "aaa1b2c3-d4e5-4f60-8718-293a4b5c6d7e", "author": {"role": "user"},
                  "content": {"content_type": "text", "parts": ["hello"]}}],
}


def test_scripted_reply_and_journal(mockgpt):
    mockgpt.reply("Hi from the fixture")
    answer = httpx.post(mockgpt.url + "/backend-api/conversation", json=TURN,
                        headers={"Authorization": "Bearer t"})
    assert "Hi from the fixture" in answer.text
    mockgpt.assert_called("POST /backend-api/conversation", times=1)


def test_state_does_not_leak_between_tests(mockgpt):
    assert mockgpt.calls() == []
    assert mockgpt.pending_scripts() == 0
    listing = httpx.get(mockgpt.url + "/backend-api/conversations",
                        headers={"Authorization": "Bearer t"}).json()
    assert listing["total"] == 0


def test_override(mockgpt):
    mockgpt.on("GET /backend-api/me").respond(503, json={"detail": "down"})
    answer = httpx.get(mockgpt.url + "/backend-api/me", headers={"Authorization": "Bearer t"})
    assert answer.status_code == 503


@pytest.mark.mockgpt(auth="strict", seed=9)
def test_marker_settings(mockgpt):
    assert mockgpt.config.auth == "strict"
    assert mockgpt.config.seed == 9
    assert httpx.get(mockgpt.url + "/backend-api/me",
                     headers={"Authorization": "Bearer made-up"}).status_code == 401


def test_suite_config(mockgpt):
    assert mockgpt.config.sample_conversations == 2
"""

CONFTEST = """
import pytest
from mockgpt import Config


@pytest.fixture(scope="session")
def mockgpt_config():
    return Config(clock="virtual", sample_conversations=2)
"""


def test_a_project_uses_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_user=USER_TESTS.replace('assert listing["total"] == 0', 'assert listing["total"] == 2')
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


def test_an_error_inside_the_mock_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_broken="""
import httpx

def test_mock_breaks(mockgpt, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("planted")

    monkeypatch.setattr("mockgpt.conversation.TurnPlanner.plan", broken)
    answer = httpx.post(mockgpt.url + "/backend-api/conversation",
                        headers={"Authorization": "Bearer t"},
                        json={"action": "next", "model": "auto", "messages": []})
    assert answer.status_code == 500
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*MockFailure*", "*POST /backend-api/conversation*"])


def test_the_readme_example_runs(pytester: pytest.Pytester) -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### 4. Test your client with pytest", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_readme=example)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    tests = re.findall(r"^(?:async )?def test_", example, re.MULTILINE)
    assert len(tests) >= 6
    result.assert_outcomes(passed=len(tests))


ASYNC_TESTS = """
import pytest

TURN = {
    "action": "next", "model": "auto", "parent_message_id": "client-created-root",
    "messages": [{"id": "aaa1b2c3-d4e5-4f60-8718-293a4b5c6d7e", "author": {"role": "user"},
                  "content": {"content_type": "text", "parts": ["hello"]}}],
}


@pytest.mark.anyio
async def test_under_anyio(mockgpt):
    mockgpt.reply("async via anyio")
    async with mockgpt.async_client(headers={"Authorization": "Bearer t"}) as client:
        answer = await client.post("/backend-api/conversation", json=TURN)
    assert "async via anyio" in answer.text
    mockgpt.assert_called("POST /backend-api/conversation", times=1)


@pytest.mark.asyncio
async def test_under_pytest_asyncio(mockgpt):
    mockgpt.on("GET /backend-api/me").respond(418, json={"detail": "teapot"})
    async with mockgpt.async_client(in_process=True) as client:
        answer = await client.get("/backend-api/me", headers={"Authorization": "Bearer t"})
    assert answer.status_code == 418
    assert mockgpt.calls() and mockgpt.last().status == 418
"""


def test_async_tests_under_anyio_and_pytest_asyncio(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_async=ASYNC_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=2)


LEAK_TESTS = """
import json
import os
from pathlib import Path

import httpx
import pytest

AUTH = {"Authorization": "Bearer t"}
TURN = {
    "action": "next", "model": "auto", "parent_message_id": "client-created-root",
    "messages": [{"id": "aaa1b2c3-d4e5-4f60-8718-293a4b5c6d7e", "author": {"role": "user"},
                  "content": {"content_type": "text", "parts": ["hello"]}}],
}


@pytest.mark.parametrize("n", range(12))
def test_each_test_starts_fresh_and_leaves_a_mess(mockgpt, n):
    # what the test before (on this worker) left behind must be gone
    assert mockgpt.calls() == []
    assert mockgpt.pending_scripts() == 0
    assert mockgpt.overrides() == []
    assert mockgpt.conversations() == []
    with open(Path(os.environ["RECORD"]) / f"{n}.json", "w") as out:
        json.dump([os.environ.get("PYTEST_XDIST_WORKER", "main"), mockgpt.url], out)
    mockgpt.reply(f"answer {n}")
    mockgpt.reply("left over")
    mockgpt.on("GET /backend-api/me").respond(500, times=None)
    answer = httpx.post(mockgpt.url + "/backend-api/conversation", json=TURN, headers=AUTH)
    assert f"answer {n}" in answer.text
    assert httpx.get(mockgpt.url + "/backend-api/me", headers=AUTH).status_code == 500
"""


def test_a_project_passes_under_xdist_with_one_server_per_worker(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    record = pytester.path / "record"
    record.mkdir()
    monkeypatch.setenv("RECORD", str(record))
    # no conftest at all: the fixture comes from installing mockgpt
    default_config = USER_TESTS.split("\n\ndef test_suite_config", 1)[0]
    pytester.makepyfile(test_user=default_config, test_leak=LEAK_TESTS)
    serial = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    serial.assert_outcomes(passed=16)
    parallel = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    parallel.assert_outcomes(passed=16)
    seen = [json.loads(path.read_text()) for path in sorted(record.glob("*.json"))]
    workers = {worker: url for worker, url in seen}
    assert sorted(workers) == ["gw0", "gw1"]
    assert len(set(workers.values())) == 2  # a server of its own on each worker


def test_the_admin_page_examples_run_with_curl() -> None:
    import shlex
    import shutil
    import subprocess
    from pathlib import Path

    import httpx

    from mockgpt import MockGPT

    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("needs curl on PATH to run the admin page's examples")
    page = (Path(__file__).resolve().parent.parent / "docs" / "admin.md").read_text()
    section = page.split("## Examples with curl", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    with MockGPT() as mock:
        client_ran = False
        for line in block.splitlines():
            if line.startswith("# ... run your client"):
                httpx.get(mock.url + "/backend-api/me", headers={"Authorization": "Bearer t"})
                client_ran = True
                continue
            if not line.startswith("curl "):
                continue
            args = [arg.replace("localhost:8000", mock.url) for arg in shlex.split(line)]
            # every line must succeed; one that asks for the error body already fails on 4xx
            strict = [] if "--fail-with-body" in args else ["--fail-with-body"]
            done = subprocess.run(
                [curl, *strict, *args[1:]], capture_output=True, text=True, timeout=30
            )
            assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
            assert done.stdout.startswith(("{", "[")), done.stdout
        assert client_ran
        assert mock.config.seed == 7  # the last example reset the mock with a new seed
        assert mock.snapshots.keys() == {"logged-in"}


RECORDED_TESTS = """
import httpx
import pytest

TURN = {
    "action": "next", "model": "auto", "parent_message_id": "client-created-root",
    "messages": [{"id": "aaa1b2c3-d4e5-4f60-8718-293a4b5c6d7e", "author": {"role": "user"},
                  "content": {"content_type": "text", "parts": ["hello"]}}],
}


@pytest.mark.mockgpt(record="recordings/test_turn")
def test_turn(mockgpt):
    headers = {"Authorization": "Bearer recorded-secret-4f2a9c"}
    me = httpx.get(mockgpt.url + "/backend-api/me", headers=headers)
    answer = httpx.post(mockgpt.url + "/backend-api/conversation", json=TURN, headers=headers)
    assert me.status_code == 200
    assert "From the real service" in answer.text
    recorded = [entry.recorded for entry in mockgpt.calls()]
    print("RECORDED", recorded)
"""


def test_the_record_marker_records_once_then_replays(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockgpt import Config, MockGPT

    monkeypatch.delenv("MOCKGPT_RECORD_UPSTREAM", raising=False)  # the runs below decide
    pytester.makepyfile(test_recorded=RECORDED_TESTS)
    folder = pytester.path / "recordings" / "test_turn"
    missing = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    missing.assert_outcomes(errors=1)
    missing.stdout.fnmatch_lines(["*no upstream to record it from*MOCKGPT_RECORD_UPSTREAM*"])
    with MockGPT(Config(clock="system", pace="instant")) as upstream:
        upstream.reply("From the real service")
        monkeypatch.setenv("MOCKGPT_RECORD_UPSTREAM", upstream.url)
        recording = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
        monkeypatch.delenv("MOCKGPT_RECORD_UPSTREAM")
        recording.assert_outcomes(passed=1)
        assert upstream.calls()[-1].path == "/backend-api/conversation"
    assert (folder / "recording" / "002.json").is_file()
    written = "".join(path.read_text() for path in folder.rglob("*.json"))
    assert "recorded-secret-4f2a9c" not in written
    # the upstream is gone: the test now runs on the recording alone
    replay = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    replay.assert_outcomes(passed=1)
    assert "RECORDED [True, True]" in replay.stdout.str()
    again = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--mockgpt-record=all",
        "--mockgpt-record-upstream=http://127.0.0.1:9",
    )
    again.assert_outcomes(failed=1)  # asked to record again, from an upstream that is not there
