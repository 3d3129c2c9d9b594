"""The catalogue: every route mockgpt answers, declared once as data.

`catalogue.json` beside this module lists each route with its method, path
template, parameters, documented status, request and response schemas,
fixtures, behaviour kind and auth rule. The app's routing table, the OpenAPI
document, `mockgpt routes` and the tests are all derived from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from mockgpt._resources import catalogue_path, read_json
from mockgpt.errors import MockGPTError

AuthRule = Literal["none", "bearer", "device", "account"]
Origin = Literal["seed-table", "seed-payload", "client"]

AUTH_RULES: frozenset[str] = frozenset({"none", "bearer", "device", "account"})
ORIGINS: frozenset[str] = frozenset({"seed-table", "seed-payload", "client"})
METHODS: frozenset[str] = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})

_PARAM = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class Param:
    """A query or path parameter: its JSON Schema, an example and whether it is required."""

    name: str
    schema: dict[str, Any]
    example: Any
    required: bool


@dataclass(frozen=True, slots=True)
class ResponseSpec:
    """One status a route can answer, with its media type, schema and fixture."""

    status: int
    media: str | None
    schema: str | None
    fixture: str | None
    #: When set, the same status can also answer as an event stream of this schema's events.
    stream_schema: str | None = None

    @property
    def is_json(self) -> bool:
        return self.media == "application/json"

    @property
    def is_stream(self) -> bool:
        return self.media is not None and self.media.startswith("text/event-stream")


@dataclass(frozen=True, slots=True)
class Route:
    """One catalogue entry."""

    id: str
    method: str
    path: str
    group: str
    description: str
    origin: Origin
    status: int
    kind: str
    auth: AuthRule
    query: tuple[Param, ...] = ()
    params: tuple[Param, ...] = ()
    request: str | None = None
    request_example: str | None = None
    request_optional: bool = False
    responses: tuple[ResponseSpec, ...] = ()
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        """`"METHOD /path"`, the name tests and the admin API use for a route."""
        return f"{self.method} {self.path}"

    @property
    def platform(self) -> bool:
        """True for the OpenAI platform API, which words its errors its own way."""
        return self.group == "OpenAI API"

    def response(self, status: int) -> ResponseSpec:
        for spec in self.responses:
            if spec.status == status:
                return spec
        raise KeyError(f"{self.key} declares no {status} response")

    @property
    def documented(self) -> ResponseSpec:
        return self.response(self.status)

    def example_path(self) -> str:
        """The path with every parameter replaced by its example."""
        values = {param.name: str(param.example) for param in self.params}
        return _PARAM.sub(lambda match: values[match.group(1)], self.path)


class CatalogueError(MockGPTError, ValueError):
    """The catalogue file is inconsistent."""


def _params(raw: dict[str, Any] | None, *, in_path: bool) -> tuple[Param, ...]:
    if not raw:
        return ()
    result = []
    for name, spec in raw.items():
        schema = {k: v for k, v in spec.items() if k not in ("example", "required")}
        required = True if in_path else bool(spec.get("required", False))
        result.append(Param(name, schema, spec.get("example"), required))
    return tuple(result)


def _compile(path: str) -> re.Pattern[str] | None:
    if "{" not in path:
        return None
    parts = _PARAM.split(path)
    regex = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)"
        for index, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


def _route(entry: dict[str, Any]) -> Route:
    responses = tuple(
        ResponseSpec(
            int(status),
            spec.get("media", "application/json") if "media" in spec else "application/json",
            spec.get("schema"),
            spec.get("fixture"),
            spec.get("stream_schema"),
        )
        for status, spec in entry["responses"].items()
    )
    route = Route(
        id=entry["id"],
        method=entry["method"],
        path=entry["path"],
        group=entry["group"],
        description=entry["description"],
        origin=entry["origin"],
        status=int(entry["status"]),
        kind=entry["kind"],
        auth=entry["auth"],
        query=_params(entry.get("query"), in_path=False),
        params=_params(entry.get("params"), in_path=True),
        request=entry.get("request"),
        request_example=entry.get("request_example"),
        request_optional=bool(entry.get("request_optional", False)),
        responses=responses,
        pattern=_compile(entry["path"]),
    )
    _check(route)
    return route


def _check(route: Route) -> None:
    problems = []
    if route.method not in METHODS:
        problems.append(f"unknown method {route.method}")
    if route.auth not in AUTH_RULES:
        problems.append(f"unknown auth rule {route.auth}")
    if route.origin not in ORIGINS:
        problems.append(f"unknown origin {route.origin}")
    if route.status not in {spec.status for spec in route.responses}:
        problems.append(f"documented status {route.status} has no response entry")
    declared = {param.name for param in route.params}
    used = set(_PARAM.findall(route.path))
    if declared != used:
        problems.append(f"path parameters {sorted(used)} but params {sorted(declared)}")
    if problems:
        raise CatalogueError(f"{route.key}: " + "; ".join(problems))


#: A routing answer: the route (or None), its path parameters, and, when no route
#: answers, the methods the path does allow (empty: the path is unknown).
Match = tuple[Route | None, dict[str, str], set[str]]
_NO_FIXED: Mapping[str, frozenset[str]] = {}


class Router:
    """Finds the route of a method and path: the one matcher of the app and the HAR tools.

    A fixed path answers only its own methods, even when a template would match it;
    templates are tried in catalogue order.
    """

    __slots__ = ("_methods", "_static", "_templated")

    def __init__(self, routes: Iterable[Route]) -> None:
        self._static: dict[tuple[str, str], Route] = {}
        self._methods: dict[str, set[str]] = {}
        self._templated: list[Route] = []
        for route in routes:
            if route.pattern is None:
                self._static[(route.method, route.path)] = route
                self._methods.setdefault(route.path, set()).add(route.method)
            else:
                self._templated.append(route)

    def match(
        self, method: str, path: str, fixed: Mapping[str, frozenset[str]] = _NO_FIXED
    ) -> Match:
        """The route for a request; `fixed` adds paths served outside the catalogue
        (with their methods), which shadow templates as the catalogue's own do."""
        route = self._static.get((method, path))
        if route is not None:
            return route, {}, set()
        allowed = self._methods.get(path, set()) | fixed.get(path, frozenset())
        if allowed:
            return None, {}, allowed
        for candidate in self._templated:
            found = candidate.pattern.match(path) if candidate.pattern else None
            if found is None:
                continue
            if candidate.method == method:
                return candidate, found.groupdict(), set()
            allowed.add(candidate.method)
        return None, {}, allowed

    def route(self, method: str, path: str) -> Route | None:
        """Just the route of a request, or None."""
        return self.match(method, path)[0]


@dataclass(frozen=True, slots=True)
class Catalogue:
    """All routes, in declaration order, with lookups."""

    routes: tuple[Route, ...]
    #: Built once with the catalogue; shared by every app on it.
    router: Router = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "router", Router(self.routes))

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    def __len__(self) -> int:
        return len(self.routes)

    def get(self, key: str) -> Route:
        """Find a route by `"METHOD /path/template"` or by its id."""
        for route in self.routes:
            if key in (route.key, route.id):
                return route
        raise KeyError(f"no catalogue route {key!r}")

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(route.kind for route in self.routes)


def parse_catalogue(entries: list[dict[str, Any]]) -> Catalogue:
    routes = tuple(_route(entry) for entry in entries)
    seen: dict[str, str] = {}
    for route in routes:
        for name in (route.key, route.id):
            if name in seen:
                raise CatalogueError(f"{name} is declared twice")
            seen[name] = route.key
    return Catalogue(routes)


@cache
def load_catalogue() -> Catalogue:
    """The catalogue shipped with the package (parsed once per process)."""
    return parse_catalogue(read_json(catalogue_path()))
