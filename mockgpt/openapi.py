"""The OpenAPI 3.2 documents: the mocked services' (`/openapi.json`), generated from
the catalogue and the schemas, and the admin API's (`/__mockgpt__/openapi.json`).

Every schema file becomes a component (`parts/message.json` → `parts.message`)
and `$ref`s between files become component references, so the document
carries the same schemas the mock validates with. Event streams are
described event by event with 3.2's `itemSchema`, so a contract checker reads
each SSE event and validates its JSON `data` against the stream's schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Protocol

from mockgpt._resources import fixture_path, read_json
from mockgpt._version import __version__
from mockgpt.catalogue import Catalogue, Param, ResponseSpec, Route
from mockgpt.responses import Prepared, json_response
from mockgpt.schemas import all_schema_files, component_name, load_schema

STREAM_MEDIA = "text/event-stream; charset=utf-8"
_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The `accessToken` of `/api/auth/session` (or, on `/v1`, an API key).",
    },
    "accountId": {
        "type": "apiKey",
        "in": "header",
        "name": "ChatGPT-Account-Id",
        "description": "The workspace account the request acts for.",
    },
}
#: Logged-out routes take any device id (it names a browser, it proves nothing) or a
#: bearer token, so the id is a header parameter rather than a credential: a contract
#: tool would otherwise expect an odd id to be refused.
DEVICE_ID: dict[str, Any] = {
    "name": "OAI-Device-Id",
    "in": "header",
    "required": False,
    "description": "The anonymous device id of a logged-out client (any value), "
    "sent instead of a bearer token.",
    "schema": {"type": "string"},
}
_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "bearer": [{"bearerAuth": []}],
    "account": [{"bearerAuth": [], "accountId": []}],
}


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            return {"$ref": f"#/components/schemas/{component_name(ref)}"}
        return {key: _rewrite(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite(value) for value in node]
    return node


def _ref(relative: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{component_name(relative)}"}


def _parameter(param: Param, where: str) -> dict[str, Any]:
    item: dict[str, Any] = {"name": param.name, "in": where, "required": param.required}
    item["schema"] = param.schema
    if param.example is not None:
        item["example"] = param.example
    if where == "query" and param.schema.get("type") == "array":
        item["style"] = "form"
        item["explode"] = True
    return item


def _event_schema(data_schema: str | None) -> dict[str, Any]:
    """One server-sent event: its `data` is JSON valid against the schema, or `[DONE]`.

    It is the `itemSchema` of an event-stream media type: the schema of one parsed
    event (its `event`, `data` and `id` fields), not of the stream as a whole.
    """
    data: dict[str, Any] = {"type": "string"}
    if data_schema:
        data = {
            "anyOf": [
                {"const": "[DONE]"},
                {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": _ref(data_schema),
                },
            ]
        }
    return {
        "type": "object",
        "required": ["data"],
        "properties": {"event": {"type": "string"}, "data": data, "id": {"type": "string"}},
    }


def _content(spec: ResponseSpec) -> dict[str, Any] | None:
    if spec.media is None:
        return None
    if spec.is_json and spec.schema:
        content = {spec.media: {"schema": _ref(spec.schema)}}
        if spec.stream_schema:
            content[STREAM_MEDIA] = {"itemSchema": _event_schema(spec.stream_schema)}
        return content
    if spec.is_stream:
        return {spec.media: {"itemSchema": _event_schema(spec.schema)}}
    if spec.media.startswith("text/") or "javascript" in spec.media:
        return {spec.media: {"schema": {"type": "string"}}}
    return {spec.media: {"schema": {"type": "string", "contentMediaType": spec.media}}}


def implied_responses(route: Route) -> list[ResponseSpec]:
    """Statuses every route of its kind can answer besides the declared ones.

    A route with an auth rule can refuse (401); a route that checks its body,
    query or path parameters can reject them (422 on the web backend, 400 on
    the platform API).
    """
    declared = {spec.status for spec in route.responses}
    platform = route.platform
    error = "parts/openai_error.json" if platform else "parts/error_detail.json"
    implied = []
    if route.auth in ("bearer", "device", "account") and 401 not in declared:
        implied.append(ResponseSpec(401, "application/json", error, None))
    rejected = 400 if platform else 422
    if (route.request or route.query or route.params) and rejected not in declared:
        implied.append(ResponseSpec(rejected, "application/json", error, None))
    return implied


def _operation(route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.id,
        "summary": route.description,
        "tags": [route.group],
    }
    parameters = [_parameter(p, "path") for p in route.params]
    parameters += [_parameter(p, "query") for p in route.query]
    if route.auth == "device":
        parameters.append(DEVICE_ID)
    if parameters:
        operation["parameters"] = parameters
    if route.request:
        media: dict[str, Any] = {"schema": _ref(route.request)}
        if route.request_example:
            media["example"] = read_json(fixture_path(route.request_example))
        operation["requestBody"] = {
            "required": not route.request_optional,
            "content": {"application/json": media},
        }
    responses: dict[str, Any] = {}
    for spec in (*route.responses, *implied_responses(route)):
        answer: dict[str, Any] = {"description": _REASONS.get(spec.status, "Answer")}
        content = _content(spec)
        if content is not None:
            answer["content"] = content
        responses[str(spec.status)] = answer
    operation["responses"] = responses
    if route.auth in _SECURITY:
        operation["security"] = _SECURITY[route.auth]
    operation["x-mockgpt"] = {
        "kind": route.kind,
        "auth": route.auth,
        "origin": route.origin,
        "documented-status": route.status,
    }
    return operation


ADMIN_TAG = "mockgpt admin"
ADMIN_DESCRIPTION = (
    "The mock's own controls (not part of ChatGPT): scripts, overrides, faults, the "
    "request journal, conversations, clock and snapshots. Served to loopback clients, "
    "or to requests with the admin token printed by `mockgpt serve` (once a token is set, "
    "every client sends it); requests naming another host or sent from another origin "
    "get 403, bodies must be application/json (else 415). The journal masks credentials "
    "unless `reveal=true`."
)
_ANY_JSON: dict[str, Any] = {}
#: The folder of the admin API's body schemas, which only its own document carries.
ADMIN_SCHEMAS = "admin/"


class AdminOperation(Protocol):
    """What the document needs to know of one admin endpoint."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def body(self) -> str | None: ...
    @property
    def body_optional(self) -> bool: ...
    @property
    def query(self) -> tuple[str, ...]: ...
    @property
    def status(self) -> int: ...


def admin_paths(endpoints: Iterable[AdminOperation], prefix: str) -> dict[str, dict[str, Any]]:
    """The admin API's operations, from the same table that routes them (the admin
    module passes its table in: this module sits below the admin API)."""
    paths: dict[str, dict[str, Any]] = {}
    error = {"application/json": {"schema": _ref("parts/error_detail.json")}}
    for endpoint in endpoints:
        path = prefix + endpoint.path
        operation: dict[str, Any] = {
            "operationId": f"mockgpt_admin_{endpoint.name}",
            "summary": endpoint.summary,
            "tags": [ADMIN_TAG],
        }
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"\{(\w+)\}", endpoint.path)
        ]
        parameters += [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 0}
                if name in ("status", "since")
                else {"type": "string"},
            }
            for name in endpoint.query
        ]
        if parameters:
            operation["parameters"] = parameters
        if endpoint.body is not None:
            operation["requestBody"] = {
                "required": not endpoint.body_optional,
                "content": {"application/json": {"schema": _ref(endpoint.body)}},
            }
        ok = (
            {"text/html; charset=utf-8": {"schema": {"type": "string"}}}
            if endpoint.name == "inspector"
            else {"application/json": {"schema": _ANY_JSON}}
        )
        responses: dict[str, Any] = {
            str(endpoint.status): {"description": _REASONS[endpoint.status], "content": ok},
            "403": {"description": "Forbidden", "content": error},
            # any body that is not JSON is refused, whether or not the endpoint reads one
            "415": {"description": "Unsupported Media Type", "content": error},
        }
        if endpoint.body is not None or endpoint.query:
            responses["422"] = {"description": "Unprocessable Entity", "content": error}
        if parameters and "{" in endpoint.path:
            responses["404"] = {"description": "Not Found", "content": error}
        if endpoint.name == "assert_called":
            responses["417"] = {"description": "Expectation Failed", "content": error}
        operation["responses"] = responses
        paths.setdefault(path, {})[endpoint.method.lower()] = operation
    return paths


def _info(title: str, summary: str) -> dict[str, Any]:
    return {"title": title, "version": __version__, "summary": summary}


def openapi_document(catalogue: Catalogue) -> dict[str, Any]:
    """The OpenAPI 3.2 description of every catalogue route: the mocked services only.

    The admin API is left out on purpose (it has its own document, `admin_document`):
    a contract tool pointed at `/openapi.json` must not fuzz the mock's own controls,
    or it installs faults and overrides that break the routes it goes on to check.
    """
    paths: dict[str, dict[str, Any]] = {}
    for route in catalogue:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    tags = sorted({route.group for route in catalogue})
    schemas = {
        component_name(relative): _rewrite(load_schema(relative))
        for relative in all_schema_files()
        if not relative.startswith(ADMIN_SCHEMAS)
    }
    return {
        "openapi": "3.2.0",
        "info": _info(
            "mockgpt", "Offline mock of the ChatGPT web backend and the OpenAI chat API."
        ),
        "servers": [{"url": "http://127.0.0.1:8000"}],
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }


def _referenced(names: set[str]) -> dict[str, Any]:
    """The components `names` name, and every component they refer to in turn."""
    found: dict[str, Any] = {}
    wanted = sorted(names)
    while wanted:
        name = wanted.pop()
        if name in found:
            continue
        relative = next(r for r in all_schema_files() if component_name(r) == name)
        found[name] = _rewrite(load_schema(relative))
        wanted += [ref.rsplit("/", 1)[1] for ref in _refs(found[name])]
    return dict(sorted(found.items()))


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        own = [ref] if isinstance(ref, str) else []
        return own + [found for value in node.values() for found in _refs(value)]
    if isinstance(node, list):
        return [found for value in node for found in _refs(value)]
    return []


def admin_document(endpoints: Iterable[AdminOperation], prefix: str) -> dict[str, Any]:
    """The OpenAPI 3.2 description of the admin API, served at `/__mockgpt__/openapi.json`
    (behind the admin API's own access rules), with the schemas its bodies use."""
    paths = admin_paths(endpoints, prefix)
    used = {ref.rsplit("/", 1)[1] for ref in _refs(paths)}
    return {
        "openapi": "3.2.0",
        "info": _info("mockgpt admin API", "The mock's own controls (not part of ChatGPT)."),
        "servers": [{"url": "http://127.0.0.1:8000"}],
        "tags": [{"name": ADMIN_TAG, "description": ADMIN_DESCRIPTION}],
        "paths": paths,
        "components": {"schemas": _referenced(used)},
    }


#: The rendered answers: the services' document of each catalogue seen (by identity;
#: few per process) and, under None, the admin API's.
_ANSWERS: dict[int | None, tuple[Catalogue | None, Prepared]] = {}


def document_answer(
    catalogue: Catalogue | None = None,
    *,
    endpoints: Iterable[AdminOperation] = (),
    prefix: str = "",
) -> Prepared:
    """The one place that serves an OpenAPI document: `GET /openapi.json` for
    `catalogue`, or the admin API's `GET /__mockgpt__/openapi.json` (None: the
    admin table's `endpoints` under `prefix`).

    Rendered at the first request, then shared by every app, because neither
    changes with the settings and rendering one cost most of a reset.
    """
    key = None if catalogue is None else id(catalogue)
    kept = _ANSWERS.get(key)
    if kept is None or kept[0] is not catalogue:
        document = (
            admin_document(endpoints, prefix) if catalogue is None else openapi_document(catalogue)
        )
        if len(_ANSWERS) >= 8:
            _ANSWERS.clear()
        kept = _ANSWERS[key] = (catalogue, json_response(200, document))
    return kept[1]
