"""Real clients keep working against the mock: third-party clients of the ChatGPT
web backend, installed pinned from the package registries and used unmodified,
each pointed at a live mock by its own configuration.

Each scenario (in contracts/clients/) holds a two-turn conversation, streamed,
and reads it back; the mock scripts the answers, so what each client hands back
is checked against what the mock was told to say and what it stored. The
clients are installed by `bash contracts/clients/install` (which `.ci/run`
runs); without them these tests are skipped, unless MOCKGPT_REQUIRE_CLIENTS=1
(set by `.ci/run`) makes a missing client a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mockgpt import Config, MockGPT

CLIENTS = Path(__file__).parent / "clients"
REQUIRED = os.environ.get("MOCKGPT_REQUIRE_CLIENTS") == "1"
#: What the mock answers, in order: non-ASCII, quotes and a backslash travel as
#: `\\uXXXX` escapes in the stream, which each client must decode.
ANSWERS = (
    'Hello from mockgpt: "quoted", a back\\slash, caf\u00e9, \u4f60\u597d, \U0001f680.',
    "A second answer, in the same conversation.",
)


@dataclass(frozen=True)
class Client:
    name: str
    package: str
    command: tuple[str, ...]
    installed: Path
    #: Whether the client reads the conversation back itself (else a plain GET does).
    reads_back: bool


PYTHON = CLIENTS / ".venv" / "bin" / "python"
MODULES = CLIENTS / "node_modules"
ALL = (
    Client(
        "revChatGPT",
        "revChatGPT==6.8.6 (PyPI)",
        (str(PYTHON), str(CLIENTS / "revchatgpt_v1.py")),
        CLIENTS / ".venv" / "lib",
        reads_back=True,
    ),
    Client(
        "chatgpt",
        "chatgpt@5.2.5 (npm)",
        ("node", str(CLIENTS / "chatgpt_npm.mjs")),
        MODULES / "chatgpt",
        reads_back=False,
    ),
    Client(
        "waylaidwanderer",
        "@waylaidwanderer/chatgpt-api@1.37.3 (npm)",
        ("node", str(CLIENTS / "waylaid_npm.mjs")),
        MODULES / "@waylaidwanderer" / "chatgpt-api",
        reads_back=False,
    ),
)


def missing(client: Client) -> str | None:
    if client.command[0] == "node" and shutil.which("node") is None:
        return "node is not on PATH"
    if not client.installed.exists():
        return f"{client.package} is not installed: run `bash contracts/clients/install`"
    return None


def last_request(mock: MockGPT) -> str:
    """The last request the mock received, for a failure message."""
    calls = mock.calls()
    if not calls:
        return "the mock received no request"
    entry = calls[-1]
    body = entry.body.decode("utf-8", "replace")
    shown = body if len(body) <= 600 else body[:600] + "..."
    return f"its last request: {entry.method} {entry.path} -> {entry.status}\n{shown}"


def run_scenario(client: Client, mock: MockGPT) -> dict[str, Any]:
    process = subprocess.run(
        [*client.command, mock.url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=CLIENTS,
        check=False,
    )
    lines = process.stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        pytest.fail(
            f"{client.package} printed no report (exit {process.returncode})\n"
            f"{process.stderr[-2000:]}\n{last_request(mock)}"
        )
    if result["failed"] or process.returncode:
        pytest.fail(
            f"{client.package} failed at step {result['failed']!r}: {result['error']}\n"
            f"{last_request(mock)}"
        )
    return result


@pytest.mark.parametrize("client", ALL, ids=[client.name for client in ALL])
def test_a_real_client_holds_a_conversation(client: Client) -> None:
    reason = missing(client)
    if reason is not None:
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)
    with MockGPT(Config(seed=11)) as mock:
        for answer in ANSWERS:
            mock.reply(answer)
        result = run_scenario(client, mock)
        steps = {step["step"]: step for step in result["steps"]}
        first, second, back = steps["first turn"], steps["second turn"], steps["read back"]
        where = f"{client.package}: "
        # Streamed: the client saw the answer grow over several events.
        assert first["progress"] > 2, where + "the first answer did not stream"
        assert second["progress"] > 2, where + "the second answer did not stream"
        assert [first["text"], second["text"]] == list(ANSWERS), where + "answers differ"
        assert second["conversation_id"] == first["conversation_id"], where + "a new conversation"
        if "streamed" in first:
            assert first["streamed"].strip() == ANSWERS[0], where + "deltas do not add up"
        # Read back, by the client or a plain request: the branch holds both answers.
        assert back["via"] == ("client" if client.reads_back else "plain request")
        assert back["assistant_texts"] == list(ANSWERS), where + "stored answers differ"
        assert back["current_node"] == second["message_id"]
        if client.reads_back:
            assert back["listed"], where + "the conversation is not listed"
        # The mock's own view agrees: one conversation, two user turns with the prompts sent.
        posts = mock.calls("POST /backend-api/conversation")
        assert len(posts) == 2
        assert {entry.status for entry in posts} == {200}
        stored = mock.conversation(first["conversation_id"])
        assert stored["title"] is not None
    assert mock.failures() == []
