"""The official Node SDK (`openai` on npm, pinned in contracts/clients) against a live mock.

The scenario in contracts/clients/openai_node_responses.mjs makes a plain
Responses call, streams one through the SDK's stream helper (which throws on
any event it does not expect) and makes a function tool round trip. Installed
by `bash contracts/clients/install`; skipped without it unless
MOCKGPT_REQUIRE_CLIENTS=1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mockgpt import Config, MockGPT
from mockgpt.scripts import Script

CLIENTS = Path(__file__).parent / "clients"
SCENARIO = CLIENTS / "openai_node_responses.mjs"
INSTALLED = CLIENTS / "node_modules" / "openai"
ANSWERS = ("Hello from the mock, caf\u00e9 \U0001f680.", "A second, streamed answer.", "It is 18C.")


def test_the_node_sdk_talks_to_the_responses_api() -> None:
    reason = None
    if shutil.which("node") is None:
        reason = "node is not on PATH"
    elif not INSTALLED.exists():
        reason = "openai@7.59.0 (npm) is not installed: run `bash contracts/clients/install`"
    if reason is not None:
        if os.environ.get("MOCKGPT_REQUIRE_CLIENTS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with MockGPT(Config(seed=5)) as mock:
        mock.queue(Script(text=ANSWERS[0]), Script(text=ANSWERS[1]))
        mock.match(Script(text=ANSWERS[2]), prompt="Weather in Paris?")
        process = subprocess.run(
            ["node", str(SCENARIO), mock.url],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=CLIENTS,
            check=False,
        )
        lines = process.stdout.strip().splitlines()
        assert lines, f"no report (exit {process.returncode}): {process.stderr[-2000:]}"
        result = json.loads(lines[-1])
        assert result["failed"] is None, result["error"]
        steps = {step["step"]: step for step in result["steps"]}
        assert (steps["plain"]["status"], steps["plain"]["text"]) == ("completed", ANSWERS[0])
        stream = steps["stream"]
        assert stream["status"] == "completed"
        assert stream["text"] == stream["streamed"] == ANSWERS[1]
        assert stream["progress"] > 2
        tool = steps["tool round trip"]
        assert tool["name"] == "get_weather"
        assert set(tool["arguments"]) == {"city"}
        assert tool["previous"] is True
        assert tool["text"] == ANSWERS[2]
        assert len(mock.calls("POST /v1/responses")) == 4
        assert mock.failures() == []
