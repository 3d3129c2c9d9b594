"""The pytest plugin: installing mockgpt is enough to get the `mockgpt` fixture.

One live server per session (per xdist worker), a fresh app for every test:

    def test_my_client(mockgpt):
        mockgpt.reply("Hello!")
        ...point the client at mockgpt.url...
        mockgpt.assert_called("POST /backend-api/conversation", times=1)

Override `mockgpt_config` for settings of a whole suite, or mark a test with
`@pytest.mark.mockgpt(seed=7, auth="strict", sentinel="pow", script="file.json")`.
An error raised inside the mock during a test fails that test with the mock's
traceback.

`@pytest.mark.mockgpt(record="recordings/test_name")` (a folder relative to the
test file) replays that recording when it exists and records it through the
upstream of `--mockgpt-record-upstream URL` (or `MOCKGPT_RECORD_UPSTREAM`) when
it does not, or always with `--mockgpt-record=all`; `none` never records.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockgpt.config import Config
from mockgpt.controller import MockGPT

#: The environment variable naming the upstream to record from (after the option).
UPSTREAM_VARIABLE = "MOCKGPT_RECORD_UPSTREAM"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockgpt")
    group.addoption(
        "--mockgpt-record",
        choices=("new", "all", "none"),
        default="new",
        help="record tests marked mockgpt(record=DIR): new (only missing folders, the "
        "default), all (again), none (replay only)",
    )
    group.addoption(
        "--mockgpt-record-upstream",
        metavar="URL",
        default=None,
        help=f"the service to record from (default: ${UPSTREAM_VARIABLE})",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mockgpt(seed=..., script=..., record=..., auth=..., sentinel=..., **config): "
        "settings of the mockgpt fixture for one test",
    )


@pytest.fixture(scope="session")
def mockgpt_config() -> Config:
    """The settings of every test's mock; override this fixture to change them."""
    return Config(clock="virtual")


@pytest.fixture(scope="session")
def mockgpt_server(mockgpt_config: Config) -> Iterator[MockGPT]:
    """The session's live mock server (one per xdist worker)."""
    mock = MockGPT(mockgpt_config).start()
    try:
        yield mock
    finally:
        mock.stop()


@pytest.fixture
def mockgpt(
    mockgpt_server: MockGPT, mockgpt_config: Config, request: pytest.FixtureRequest
) -> Iterator[MockGPT]:
    """A fresh mock for this test, on the session's server."""
    settings: dict[str, Any] = {}
    marker = request.node.get_closest_marker("mockgpt")
    if marker is not None:
        settings = dict(marker.kwargs)
    script = settings.pop("script", None)
    record = settings.pop("record", None)
    if record is not None:
        folder = Path(request.node.path).parent / record
        mode = request.config.getoption("--mockgpt-record")
        if mode == "all" or (mode == "new" and not folder.is_dir()):
            yield from _recording(request, folder, dataclasses.replace(mockgpt_config, **settings))
            return
        if not folder.is_dir():
            pytest.fail(f"no recording at {folder} and --mockgpt-record=none", pytrace=False)
        settings["fixtures"] = str(folder)
    mockgpt_server.reset(dataclasses.replace(mockgpt_config, **settings))
    if script is not None:
        mockgpt_server.load(script)
    yield mockgpt_server
    mockgpt_server.raise_failures()


def _recording(request: pytest.FixtureRequest, folder: Path, config: Config) -> Iterator[MockGPT]:
    """Record this test's traffic into `folder` through a proxy to the upstream."""
    from mockgpt.record import recorder  # lazy: only recording loads the proxy and httpx

    upstream = request.config.getoption("--mockgpt-record-upstream") or os.environ.get(
        UPSTREAM_VARIABLE
    )
    if not upstream:
        pytest.fail(
            f"no recording at {folder} and no upstream to record it from: "
            f"give --mockgpt-record-upstream URL or set {UPSTREAM_VARIABLE}",
            pytrace=False,
        )
    mock = recorder(upstream, folder, config).start()
    try:
        yield mock
    finally:
        mock.stop()
