"""A contract tool pointed at the mock, as a user runs it: schemathesis's own command
line against a live `mockgpt serve`, over `/openapi.json`, with its default checks.

The mock runs with `--auth strict` and schemathesis sends a token from
`/api/auth/session`, so its check that bad credentials are refused applies too
(under the default lenient policy any bearer passes, by design). Seeds are fixed
and one worker runs the cases in order, so a run is the same every time. The only
failures allowed are the documented 5xx answers (routes the real service is known
to fail on); anything else is a broken contract.

A few platform rules tie one field to another or to stored state, which JSON
Schema cannot state: `dimensions` only for models that take it, a
`previous_response_id` that must exist (the platform answers 400, not 404),
cancelling only a background response, Codex's `store: false`. On those
operations schemathesis is told that 400 is an expected answer to schema-valid
data (`RULES_BEYOND_SCHEMA`); every other check still runs on them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockgpt import load_catalogue

EXAMPLES = os.environ.get("MOCKGPT_CONTRACT_EXAMPLES", "3")
DOCUMENTED_FAILURES = {route.key for route in load_catalogue() if route.status >= 500}
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
#: Operations whose schema-valid requests may still break a rule of the platform's (400).
RULES_BEYOND_SCHEMA = (
    "/v1/embeddings",
    "/v1/responses",
    "/v1/responses/input_tokens",
    "/v1/responses/{response_id}/cancel",
    "/backend-api/codex/responses",
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The URL of a `mockgpt serve` subprocess on a free port, stopped afterwards."""
    ready = tmp_path / "ready"
    command = [sys.executable, "-m", "mockgpt", "serve", "--port", "0", "--seed", "0"]
    # Answers at once: `serve` paces its turns in real time by default, and a paced
    # turn on a busy machine can outlast schemathesis's 10 s request timeout.
    command += ["--quiet", "--auth", "strict", "--pace", "instant", "--ready-file", str(ready)]
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=tmp_path, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + 60
        while not (ready.exists() and ready.read_text().endswith("\n")):
            if process.poll() is not None:
                raise AssertionError(f"mockgpt serve exited: {log.read_text()}")
            if time.monotonic() > deadline:
                raise AssertionError("mockgpt serve did not write its ready file")
            time.sleep(0.05)
        yield ready.read_text().strip()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_schemathesis_cli_finds_only_the_documented_failures(served: str, tmp_path: Path) -> None:
    assert SCHEMATHESIS.exists(), "the schemathesis command is part of mockgpt[test]"
    token = httpx.get(f"{served}/api/auth/session").json()["accessToken"]
    report = tmp_path / "report.json"
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "".join(
            f'[[operations]]\ninclude-path = "{path}"\n'
            "checks.positive_data_acceptance.expected-statuses = "
            '["2xx", "400", "401", "403", "404"]\n\n'
            for path in RULES_BEYOND_SCHEMA
        )
    )
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "run",
        f"{served}/openapi.json",
        "--seed",
        "0",
    ]
    command += ["--max-examples", EXAMPLES, "--workers", "1"]
    command += ["-H", f"Authorization: Bearer {token}"]
    command += ["--report", "json", "--report-json-path", str(report)]
    run = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False
    )
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(report.read_text())
    assert result["complete"], result["stop_reason"]
    assert result["errors"] == [], run.stdout[-6000:]
    # every route of the mocked services, and nothing of the admin API
    assert result["operations"]["tested"] == len(load_catalogue())
    unexpected = [
        failure
        for failure in result["failures"]
        if failure["code"] != "ST101" or not set(failure["operations"]) <= DOCUMENTED_FAILURES
    ]
    assert unexpected == [], run.stdout[-6000:]
    # the run left the mock's own controls alone
    assert httpx.get(f"{served}/__mockgpt__/overrides").json() == []
