from __future__ import annotations

import re
from typing import Any

import pytest
from support import seed_rows

from mockgpt._resources import fixture_path, schemas_dir
from mockgpt.catalogue import CatalogueError, load_catalogue, parse_catalogue
from mockgpt.handlers import HANDLERS

CATALOGUE = load_catalogue()


def _matches(route_path: str, seed_path: str) -> bool:
    plain = seed_path.split("?", 1)[0]
    pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(route_path))
    return re.fullmatch(pattern, plain) is not None


@pytest.mark.parametrize("row", seed_rows(), ids=lambda row: f"{row['method']} {row['path']}")
def test_every_seed_row_is_declared_with_its_status(row: dict[str, str]) -> None:
    found = [r for r in CATALOGUE if r.method == row["method"] and _matches(r.path, row["path"])]
    assert found, f"no catalogue route for {row['method']} {row['path']}"
    expected = 200 if row["status"] == "SSE" else int(row["status"])
    assert found[0].status == expected


def test_seed_query_parameters_are_declared() -> None:
    for row in seed_rows():
        if "?" not in row["path"]:
            continue
        route = next(
            r for r in CATALOGUE if r.method == row["method"] and _matches(r.path, row["path"])
        )
        names = {part.split("=")[0] for part in row["path"].split("?", 1)[1].split("&")}
        assert names <= {param.name for param in route.query}, route.key


def test_seed_payload_and_client_routes_are_declared() -> None:
    keys = {route.key for route in CATALOGUE}
    expected = {
        "POST /ces/v1/t",
        "POST /v1/chat/completions",
        "GET /",
        "GET /v1/models",
        "GET /backend-api/conversation/{conversation_id}",
        "PATCH /backend-api/conversation/{conversation_id}",
        "PATCH /backend-api/conversations",
        "POST /backend-api/conversation/gen_title/{conversation_id}",
        "GET /backend-api/models",
        "GET /backend-api/me",
        "POST /backend-api/f/conversation/resume",
        "POST /backend-api/sentinel/chat-requirements/prepare",
        "POST /backend-api/sentinel/chat-requirements/finalize",
        "POST /backend-anon/sentinel/chat-requirements",
    }
    assert expected <= keys, expected - keys


def test_documented_request_bodies_have_schemas() -> None:
    for key in (
        "POST /backend-api/conversation",
        "POST /ces/v1/t",
        "POST /v1/rgstr",
        "POST /backend-api/lat/r",
        "POST /v1/chat/completions",
    ):
        route = CATALOGUE.get(key)
        assert route.request is not None, key
        assert route.request_example is not None, key


@pytest.mark.parametrize("route", list(CATALOGUE), ids=lambda route: route.key)
def test_entry_is_complete(route: Any) -> None:
    assert route.description
    assert not route.description.endswith(" ")
    assert route.kind in HANDLERS
    for spec in route.responses:
        if spec.is_json:
            assert spec.schema is not None, f"{route.key} {spec.status} has no schema"
            assert (schemas_dir() / spec.schema).is_file()
        if spec.fixture is not None:
            assert fixture_path(spec.fixture).is_file(), spec.fixture
        elif spec.status != 204:
            pytest.fail(f"{route.key} {spec.status} has no fixture")
    if route.request:
        assert (schemas_dir() / route.request).is_file()
    for param in route.params:
        assert param.example is not None, f"{route.key} path parameter {param.name}"


def test_ids_and_keys_are_unique() -> None:
    assert len({r.id for r in CATALOGUE}) == len(CATALOGUE)
    assert len({r.key for r in CATALOGUE}) == len(CATALOGUE)


def _entry(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": "get_thing",
        "method": "GET",
        "path": "/thing",
        "group": "G",
        "description": "d",
        "origin": "client",
        "status": 200,
        "kind": "fixture",
        "auth": "none",
        "responses": {"200": {"schema": None, "fixture": None}},
    }
    entry.update(changes)
    return entry


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"method": "FETCH"}, "unknown method"),
        ({"auth": "cookie"}, "unknown auth rule"),
        ({"status": 404}, "documented status 404"),
        ({"path": "/thing/{name}"}, "path parameters"),
    ],
)
def test_inconsistent_entries_are_refused(changes: dict[str, Any], words: str) -> None:
    with pytest.raises(CatalogueError, match=words):
        parse_catalogue([_entry(**changes)])


def test_duplicates_are_refused() -> None:
    with pytest.raises(CatalogueError, match="declared twice"):
        parse_catalogue([_entry(), _entry(id="other")])


def test_the_router_lets_a_fixed_path_shadow_a_template_that_would_match_it() -> None:
    router = load_catalogue().router
    assert router.match("PATCH", "/backend-api/conversation/init") == (None, {}, {"GET", "POST"})
    route, params, allowed = router.match("PATCH", "/backend-api/conversation/abc-123")
    assert route is not None
    assert route.key == "PATCH /backend-api/conversation/{conversation_id}"
    assert (params, allowed) == ({"conversation_id": "abc-123"}, set())


def test_the_router_names_the_methods_a_templated_path_allows_and_a_fixed_extra_path() -> None:
    router = load_catalogue().router
    route, _, allowed = router.match("PUT", "/backend-api/conversation/abc-123")
    assert route is None
    assert allowed == {"GET", "PATCH"}
    extra = {"/openapi.json": frozenset({"GET"})}
    assert router.match("POST", "/openapi.json", extra) == (None, {}, {"GET"})
    assert router.match("POST", "/nowhere") == (None, {}, set())
