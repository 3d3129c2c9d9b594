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
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from mockgpt.config import Config
from mockgpt.controller import MockGPT


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mockgpt(seed=..., script=..., auth=..., sentinel=..., **config): settings of the "
        "mockgpt fixture for one test",
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
    mockgpt_server.reset(dataclasses.replace(mockgpt_config, **settings))
    if script is not None:
        mockgpt_server.load(script)
    yield mockgpt_server
    mockgpt_server.raise_failures()
