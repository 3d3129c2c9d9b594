from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockgpt import Config, create_app, load_catalogue
from mockgpt._resources import fixture_path
from mockgpt.catalogue import Route

DATA = Path(__file__).parent / "data"
SEEDS = (0, 1, 20261123)
BEARER = "Bearer mockgpt-test-token"


@dataclass
class ExampleRequest:
    """The request a real client makes for a route, built from the catalogue's examples."""

    method: str
    path: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def send(self, client: Any) -> Any:
        return client.request(
            self.method, self.path, params=self.params, headers=self.headers, content=self.body
        )


def example_request(route: Route, *, credentials: bool = True) -> ExampleRequest:
    request = ExampleRequest(route.method, route.example_path())
    for param in route.query:
        if param.example is None:
            continue
        values = param.example if isinstance(param.example, list) else [param.example]
        for value in values:
            text = json.dumps(value) if isinstance(value, bool) else str(value)
            request.params.append((param.name, text))
    if route.request_example:
        request.body = fixture_path(route.request_example).read_bytes()
        request.headers["content-type"] = "application/json"
    if credentials:
        if route.auth in ("bearer", "account"):
            request.headers["authorization"] = BEARER
        if route.auth == "device":
            request.headers["oai-device-id"] = "2b6c5f3e-2a51-4d8e-9d86-0c4f1e6b7a90"
        if route.auth == "account":
            request.headers["chatgpt-account-id"] = route.example_path().split("/")[3]
    return request


def documented_request(route: Route) -> ExampleRequest:
    """The request that gets the documented status (documented 401s go without credentials)."""
    return example_request(route, credentials=route.status != 401)


@pytest.fixture(scope="session")
def catalogue() -> Any:
    return load_catalogue()


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Config(validate_responses=True))) as test_client:
        yield test_client


def client_for(seed: int) -> TestClient:
    return TestClient(create_app(Config(seed=seed, validate_responses=True)))


def seed_rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = json.loads((DATA / "seed_routes.json").read_text())["rows"]
    return rows
