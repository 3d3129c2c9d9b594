"""Fixtures for the package's tests; the helpers they share live in support.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from support import make_config

from mockgpt import Config, MockGPT, load_catalogue


@pytest.fixture(scope="session")
def catalogue() -> Any:
    return load_catalogue()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def client_mock() -> MockGPT:
    """The mock `client` calls (make_config's settings): its controls, in the test's hands."""
    return MockGPT(make_config())


@pytest.fixture
def client(client_mock: MockGPT) -> Iterator[TestClient]:
    """A Starlette test client on `client_mock`, in-process."""
    with TestClient(client_mock) as test_client:
        yield test_client


@pytest.fixture
def mock() -> MockGPT:
    """A mock on a virtual clock, with no server: its controls, in the test's hands."""
    return MockGPT(Config(clock="virtual"))


@pytest.fixture
def mock_client(mock: MockGPT) -> Iterator[httpx.Client]:
    """An httpx client that calls `mock` in-process (the admin API included)."""
    with mock.client(in_process=True) as client:
        yield client
