"""Helpers the tests share: example requests, configs, seed rows, a first turn."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from mockgpt import Config, create_app
from mockgpt._resources import fixture_path
from mockgpt.catalogue import Route
from mockgpt.fakedata import Varier, world_now
from mockgpt.store import first_turn

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


def example_request(
    route: Route, varier: Varier | None = None, *, credentials: bool = True
) -> ExampleRequest:
    """The route's example request, its ids moved into the seed's world when a varier is given."""
    vary: Any = varier.vary if varier is not None else (lambda value: value)
    request = ExampleRequest(route.method, vary(route.example_path()))
    for param in route.query:
        if param.example is None:
            continue
        values = param.example if isinstance(param.example, list) else [param.example]
        for value in values:
            text = json.dumps(value) if isinstance(value, bool) else str(value)
            request.params.append((param.name, vary(text)))
    if route.request_example:
        body = vary(json.loads(fixture_path(route.request_example).read_bytes()))
        request.body = json.dumps(body).encode()
        request.headers["content-type"] = "application/json"
    if credentials:
        if route.auth in ("bearer", "account"):
            request.headers["authorization"] = BEARER
        if route.auth == "device":
            request.headers["oai-device-id"] = "2b6c5f3e-2a51-4d8e-9d86-0c4f1e6b7a90"
        if route.auth == "account":
            request.headers["chatgpt-account-id"] = request.path.split("/")[3]
        if route.kind == "conversation_resume":
            request.headers["x-conduit-token"] = "a-resume-token"
    return request


def documented_request(route: Route, varier: Varier | None = None) -> ExampleRequest:
    """The request that gets the documented status (documented 401s go without credentials)."""
    return example_request(route, varier, credentials=route.status != 401)


def make_config(seed: int = 0, **changes: Any) -> Config:
    """Validating, on a virtual clock, with the canonical conversation and two more."""
    settings: dict[str, Any] = {
        "seed": seed,
        "validate_responses": True,
        "clock": "virtual",
        "sample_conversations": 3,
    }
    settings.update(changes)
    return Config(**settings)


def client_for(seed: int) -> TestClient:
    return TestClient(create_app(make_config(seed)))


def varier_for(config: Config) -> Varier:
    """The seed's world as an app on `config` builds it, for example requests that name
    its ids (on a virtual clock or a fixed `now`, as the tests' configs are)."""
    return _varier(config.seed, world_now(config))


@functools.lru_cache(maxsize=8)
def _varier(seed: int, now: datetime | None) -> Varier:
    return Varier(seed, now=now)


def seed_rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = json.loads((DATA / "seed_routes.json").read_text())["rows"]
    return rows


def user_turn(
    prompt: str = "hi there", *, message_id: str = "aaa5e6f7-0a1b-4c2d-8e3f-405162738495"
) -> dict[str, Any]:
    """A first-turn `POST /backend-api/conversation` body, as the web client sends it."""
    return first_turn(prompt, message_id=message_id)
