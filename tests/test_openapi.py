from __future__ import annotations

import json

from mockgpt import load_catalogue
from mockgpt._resources import schemas_dir
from mockgpt.openapi import implied_responses, openapi_document
from mockgpt.schemas import all_schema_files, component_name

DOCUMENT = openapi_document(load_catalogue())


def test_committed_document_matches_the_catalogue() -> None:
    committed = json.loads((schemas_dir() / "openapi.json").read_text())
    assert committed == DOCUMENT, (
        "regenerate with: mockgpt openapi --indent 1 > schemas/openapi.json"
    )


def test_every_route_is_an_operation_with_its_statuses() -> None:
    for route in load_catalogue():
        operation = DOCUMENT["paths"][route.path][route.method.lower()]
        assert operation["operationId"] == route.id
        statuses = {spec.status for spec in (*route.responses, *implied_responses(route))}
        assert set(operation["responses"]) == {str(status) for status in statuses}
        assert operation["x-mockgpt"]["documented-status"] == route.status
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] != "header"}
        assert names == {p.name for p in route.params} | {p.name for p in route.query}


def test_protected_routes_declare_the_bearer_scheme() -> None:
    for route in load_catalogue():
        operation = DOCUMENT["paths"][route.path][route.method.lower()]
        if route.auth in ("bearer", "account"):
            assert any("bearerAuth" in option for option in operation["security"]), route.key
        if route.auth in ("none", "device"):
            assert "security" not in operation, route.key
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert headers == (["OAI-Device-Id"] if route.auth == "device" else []), route.key


def test_refusals_are_documented() -> None:
    me = DOCUMENT["paths"]["/backend-api/me"]["get"]["responses"]
    assert "401" in me
    assert "422" not in me
    conversations = DOCUMENT["paths"]["/backend-api/conversations"]["get"]["responses"]
    assert "422" in conversations
    completions = DOCUMENT["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert "400" in completions
    assert "422" not in completions
    edge = DOCUMENT["paths"]["/backend-api/edge"]["get"]["responses"]
    assert set(edge) == {"204"}


def test_references_point_at_components() -> None:
    components = DOCUMENT["components"]["schemas"]
    expected = {component_name(name) for name in all_schema_files()}
    assert set(components) == {name for name in expected if not name.startswith("admin.")}
    text = json.dumps(DOCUMENT)
    for chunk in text.split('"$ref": "')[1:]:
        target = chunk.split('"', 1)[0]
        assert target.startswith("#/components/schemas/")
        assert target.removeprefix("#/components/schemas/") in components
