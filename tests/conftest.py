"""Fixtures for the package's tests; the helpers they share live in support.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from support import make_config

from mockgpt import Config, MockGPT, create_app, load_catalogue


@pytest.fixture(scope="session")
def catalogue() -> Any:
    return load_catalogue()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(make_config())) as test_client:
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
