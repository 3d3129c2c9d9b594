"""The admin API: the controller's methods over HTTP, under `/__mockgpt__/`.

Every endpoint calls the `MockGPT` method of the same name, so a test written
in any language gets exactly what a Python test gets. Bodies are JSON, checked
against `schemas/admin/*.json`; errors are FastAPI-shaped (`{"detail": ...}`):
422 for a body that breaks its schema or a value the mock refuses, 404 for an
unknown conversation or snapshot, 417 for a failed journal assertion.

Access (see `AdminAPI.refusal`): the admin API changes and reveals state, and a
dev server runs beside a browser, so every request must name the server by a
loopback name or the address it listens on in `Host` (else a DNS-rebound page
could call it), must not come from another origin (`Origin`, `Sec-Fetch-Site`),
and must send a body, if any, as `application/json` (else a cross-site
`text/plain` form could post one; 415). Without a token only loopback clients are
served; with one (`mockgpt serve --admin-token`, or a random one printed when it
listens beyond loopback) every client must send `Authorization: Bearer <token>`.
Refusals are 403 with a `detail` that says which rule failed. Credentials in the
journal are masked unless `?reveal=true` (see `mockgpt.masking`).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from mockgpt import errors
from mockgpt.app import BodyTooLarge, read_body
from mockgpt.errors import MockGPTError
from mockgpt.inspector import inspector_page
from mockgpt.journal import FAULTS
from mockgpt.openapi import admin_document
from mockgpt.patterns import PatternError, PromptPattern
from mockgpt.responses import Prepared, json_response
from mockgpt.scripts import ScriptError, load_script
from mockgpt.validation import Problem, body_problems, fastapi_detail

if TYPE_CHECKING:
    from mockgpt.controls import Controls, RouteControls

PREFIX = "/__mockgpt__"
error_log = logging.getLogger("mockgpt.error")
#: Admin bodies are small; anything bigger is a mistake.
MAX_BODY = 4 * 1024 * 1024
#: Names that always mean this machine in `Host` (with or without a port).
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
#: `Sec-Fetch-Site` values a browser sends for the inspector's own requests, or for
#: an address typed into the address bar.
_OWN_FETCH_SITES = frozenset({"same-origin", "none"})
_BEARER = re.compile(r"\s*bearer\s+(\S+)\s*", re.IGNORECASE)
_JSON_MEDIA = re.compile(r"\s*application/(?:[\w.+-]+\+)?json\s*(?:;.*)?", re.IGNORECASE)


def _refused(reason: str) -> Prepared:
    return json_response(403, errors.detail(reason))


_FOREIGN_HOST = _refused(
    "The admin API answers requests whose Host is this server's own address "
    "(localhost, 127.0.0.1, [::1] or the address it listens on)."
)
_CROSS_ORIGIN = _refused(
    "The admin API does not answer requests from other origins (Origin or "
    "Sec-Fetch-Site says another site sent this request)."
)
_NOT_LOOPBACK = _refused(
    "The admin API answers loopback clients, or requests that carry the admin token "
    "mockgpt serve printed at start (Authorization: Bearer <token>)."
)
_BAD_TOKEN = _refused(
    "The admin API needs the admin token on every request: Authorization: Bearer <token>."
)
_NOT_JSON = json_response(
    415,
    errors.detail(
        "Unsupported Media Type: admin request bodies must be sent with "
        "Content-Type: application/json."
    ),
)


@dataclass(slots=True)
class AdminRequest:
    params: dict[str, str]
    query: dict[str, str]
    body: Any


Handler = Callable[["AdminAPI", AdminRequest], tuple[int, Any]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One admin operation: what it does, where, and the schema of its body."""

    method: str
    path: str
    name: str
    summary: str
    body: str | None = None
    body_optional: bool = False
    query: tuple[str, ...] = ()
    status: int = 200

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path) + "$")


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/", "inspector", "The inspector page: routes, live journal, conversations."),
    Endpoint("GET", "/state", "state", "A summary of everything the mock holds."),
    Endpoint(
        "POST",
        "/reset",
        "reset",
        "Back to a fresh app, optionally with some settings changed.",
        "admin/reset.json",
        body_optional=True,
    ),
    Endpoint("GET", "/routes", "routes", "Every catalogue route."),
    Endpoint("GET", "/scripts", "pending_scripts", "How many queued scripts wait for a turn."),
    Endpoint(
        "POST",
        "/scripts",
        "queue_scripts",
        "Queue scripts (a script file's content) for the next turns.",
        "admin/scripts.json",
    ),
    Endpoint(
        "POST",
        "/scripts/match",
        "match_script",
        "Answer turns that match a prompt or model with a script.",
        "admin/match.json",
    ),
    Endpoint("DELETE", "/scripts", "clear_scripts", "Forget every queued and matching script."),
    Endpoint("GET", "/overrides", "overrides", "Overrides still queued, and latencies."),
    Endpoint(
        "POST",
        "/overrides",
        "add_override",
        "Answer a route's next requests with a status, body and headers.",
        "admin/override.json",
    ),
    Endpoint("DELETE", "/overrides", "clear_overrides", "Drop every override, fault and latency."),
    Endpoint(
        "POST",
        "/faults",
        "add_fault",
        "Break a route's next requests: reset, empty or malformed.",
        "admin/fault.json",
    ),
    Endpoint(
        "POST",
        "/latency",
        "set_latency",
        "Delay every answer of a route (fixed or drawn between bounds).",
        "admin/latency.json",
    ),
    Endpoint(
        "GET",
        "/journal",
        "journal",
        "Requests received, oldest first, with filters.",
        query=("route", "method", "path", "status", "since", "unmatched", "reveal"),
    ),
    Endpoint("DELETE", "/journal", "clear_journal", "Forget the requests received."),
    Endpoint(
        "POST",
        "/journal/assert",
        "assert_called",
        "Check that a route was called (so many times, with such a body).",
        "admin/assertion.json",
    ),
    Endpoint("GET", "/conversations", "conversations", "Stored conversations, newest first."),
    Endpoint("GET", "/conversations/{conversation_id}", "conversation", "One stored conversation."),
    Endpoint("GET", "/responses", "responses", "Stored Responses API responses, newest first."),
    Endpoint("GET", "/responses/{response_id}", "response", "One stored response and its input."),
    Endpoint(
        "GET", "/files", "files", "Uploaded files, oldest first (names and sizes, not bytes)."
    ),
    Endpoint("GET", "/quotas", "quotas", "Feature quotas and the model message cap."),
    Endpoint(
        "GET", "/turns", "turns", "The latest turn of each conversation: live, unread, how far."
    ),
    Endpoint("GET", "/tokens", "tokens", "Access and sentinel tokens the mock issued."),
    Endpoint("GET", "/sockets", "sockets", "Open WebSockets: their topics and unsent frames."),
    Endpoint("GET", "/clock", "clock", "The mock's time."),
    Endpoint("POST", "/clock", "advance", "Move the virtual clock forward.", "admin/clock.json"),
    Endpoint("GET", "/snapshots", "snapshots", "The names of the kept snapshots."),
    Endpoint(
        "POST",
        "/snapshots",
        "snapshot",
        "Keep the whole state under a name.",
        "admin/snapshot.json",
        status=201,
    ),
    Endpoint("POST", "/snapshots/{name}/restore", "restore", "Go back to a kept snapshot."),
    Endpoint("DELETE", "/snapshots/{name}", "drop_snapshot", "Forget a kept snapshot."),
    Endpoint("GET", "/failures", "failures", "Errors raised inside the mock since the reset."),
    Endpoint("GET", "/openapi.json", "openapi", "This API's OpenAPI 3.2 document."),
)


class AdminAPI:
    """Serves `ENDPOINTS` for one controller."""

    def __init__(self, mock: Controls, *, token: str | None = None) -> None:
        if token is not None and not token.strip():
            raise ValueError("the admin token must not be empty")
        self.mock = mock
        self.token = token
        #: Host names besides the loopback ones that mean this server (the host it
        #: was told to listen on); the address a connection arrived at counts too.
        self.hosts: set[str] = set()
        self._table = [(endpoint, endpoint.pattern) for endpoint in ENDPOINTS]

    # -- access and dispatch ---------------------------------------------------------

    def listen_on(self, host: str) -> None:
        """Accept `host` in `Host` headers: the name the server was told to listen on
        (not a wildcard address: a page must not reach the API as `0.0.0.0`)."""
        name = host.strip("[]").lower()
        if name not in ("0.0.0.0", "::", ""):
            self.hosts.add(name)

    def refusal(self, scope: Scope, *, needs_token: bool = True) -> Prepared | None:
        """The 403 for a request the admin API must not serve, or None to serve it."""
        headers: dict[bytes, bytes] = {}
        for key, value in scope["headers"]:
            headers.setdefault(key, value)
        host_header = headers.get(b"host")
        host = None if host_header is None else host_header.decode("latin-1").strip()
        if host is not None and not self._own_host(scope, _host_name(host)):
            return _FOREIGN_HOST
        origin = headers.get(b"origin")
        if origin is not None:
            own = f"{scope.get('scheme', 'http')}://{host}".lower()
            if host is None or origin.decode("latin-1").strip().lower() != own:
                return _CROSS_ORIGIN
        site = headers.get(b"sec-fetch-site")
        if site is not None and site.decode("latin-1").strip().lower() not in _OWN_FETCH_SITES:
            return _CROSS_ORIGIN
        if self.token is None:
            client = scope.get("client")
            return None if client is None or _loopback(client[0]) else _NOT_LOOPBACK
        if not needs_token:
            return None
        offered = _BEARER.fullmatch(headers.get(b"authorization", b"").decode("latin-1"))
        if offered is None or not hmac.compare_digest(
            offered.group(1).encode("latin-1"), self.token.encode("utf-8")
        ):
            return _BAD_TOKEN
        return None

    def allowed(self, scope: Scope) -> bool:
        """Whether the admin API serves this request (see `refusal`)."""
        return self.refusal(scope) is None

    def _own_host(self, scope: Scope, name: str) -> bool:
        if name in LOOPBACK_NAMES or name in self.hosts:
            return True
        server = scope.get("server")
        return server is not None and name == str(server[0]).strip("[]").lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._respond(scope, receive)
        await response(scope, receive, send)

    async def _respond(self, scope: Scope, receive: Receive) -> Prepared:
        path = scope["path"][len(PREFIX) :] or "/"
        method = scope["method"]
        # The inspector page holds no state: it loads without the token, then sends it.
        refused = self.refusal(scope, needs_token=not (path == "/" and method == "GET"))
        if refused is not None:
            return refused
        allowed: set[str] = set()
        for endpoint, pattern in self._table:
            found = pattern.match(path)
            if found is None:
                continue
            if endpoint.method != method:
                allowed.add(endpoint.method)
                continue
            try:
                body = await read_body(scope, receive, MAX_BODY)
            except BodyTooLarge:
                return json_response(413, errors.PAYLOAD_TOO_LARGE)
            if body and not _json_media(scope):
                return _NOT_JSON
            return self._dispatch(endpoint, found.groupdict(), scope, body)
        if allowed:
            return json_response(
                405, errors.METHOD_NOT_ALLOWED, [("allow", ", ".join(sorted(allowed)))]
            )
        return json_response(404, errors.NOT_FOUND)

    def _dispatch(
        self, endpoint: Endpoint, params: dict[str, str], scope: Scope, raw: bytes
    ) -> Prepared:
        if endpoint.name == "inspector":
            return inspector_page()
        parsed: Any = None
        if endpoint.body is not None:
            parsed, problems = body_problems(endpoint.body, raw, optional=endpoint.body_optional)
            if problems:
                return json_response(422, fastapi_detail(problems))
            parsed = _whole_numbers(parsed)
        query_string = scope.get("query_string", b"").decode("latin-1")
        query = {key: values[-1] for key, values in parse_qs(query_string).items()}
        request = AdminRequest(params, query, parsed)
        handler: Handler = getattr(AdminAPI, f"_{endpoint.name}")
        try:
            status, document = handler(self, request)
        except KeyError as error:
            return json_response(404, errors.detail(error.args[0] if error.args else "Not Found"))
        except AssertionError as error:
            return json_response(417, errors.detail(str(error)))
        except (ValueError, TypeError, MockGPTError) as error:
            return json_response(422, fastapi_detail([_value_problem(error)]))
        except Exception:
            error_log.exception("admin %s %s failed", endpoint.method, endpoint.path)
            self.mock.app.failures.append(f"admin {endpoint.name}:\n{traceback.format_exc()}")
            return json_response(500, errors.INTERNAL_ERROR)
        return json_response(endpoint.status if status == 200 else status, document)

    # -- handlers: each calls the controller method of the same meaning -------------------

    def _state(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, self.mock.state()

    def _reset(self, request: AdminRequest) -> tuple[int, Any]:
        settings = dict((request.body or {}).get("settings", {}))
        if isinstance(settings.get("latency"), list):
            settings["latency"] = tuple(settings["latency"])
        if isinstance(settings.get("models"), list):
            settings["models"] = tuple(settings["models"])
        self.mock.reset(self.mock.with_settings(**settings))
        _give_back_freed_memory()
        return 200, self.mock.state()

    def _routes(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, [
            {
                "key": route.key,
                "method": route.method,
                "path": route.path,
                "status": route.status,
                "group": route.group,
                "kind": route.kind,
                "auth": route.auth,
                "description": route.description,
            }
            for route in self.mock.app.catalogue
        ]

    def _pending_scripts(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, {"pending": self.mock.pending_scripts()}

    def _queue_scripts(self, request: AdminRequest) -> tuple[int, Any]:
        scripts = self.mock.load(request.body)
        return 200, {"queued": len(scripts), "pending": self.mock.pending_scripts()}

    def _match_script(self, request: AdminRequest) -> tuple[int, Any]:
        body = request.body
        [script] = load_script(body["script"])
        prompt: str | PromptPattern | None = body.get("prompt")
        if body.get("prompt_pattern") is not None:
            if prompt is not None:
                raise ValueError("give prompt or prompt_pattern, not both")
            try:
                prompt = PromptPattern(body["prompt_pattern"])
            except PatternError as error:
                raise ScriptError(str(error), "prompt_pattern") from None
        self.mock.match(script, prompt=prompt, model=body.get("model"), times=body.get("times"))
        return 200, {"matching": True}

    def _clear_scripts(self, request: AdminRequest) -> tuple[int, Any]:
        self.mock.clear_scripts()
        return 200, {"pending": 0}

    def _overrides(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, self.mock.overrides()

    def _add_override(self, request: AdminRequest) -> tuple[int, Any]:
        body = dict(request.body)
        control = self._control(body.pop("route"))
        sequence = body.pop("sequence", None) or None
        if sequence is not None:
            if body:
                raise ValueError("give the answer's fields or a sequence, not both")
            control.sequence(*sequence)
        else:
            if "json" in body and "text" in body:
                raise ValueError("give json or text, not both")
            control.respond(**body)
        return 200, self.mock.overrides()

    def _add_fault(self, request: AdminRequest) -> tuple[int, Any]:
        body = dict(request.body)
        fault = body.pop("fault")
        if fault not in FAULTS:  # the schema says so too; this keeps mypy's Literal honest
            raise ValueError(f"fault must be one of {', '.join(FAULTS)}")
        self._control(body.pop("route", "*")).fail(fault, **body)
        return 200, self.mock.overrides()

    def _set_latency(self, request: AdminRequest) -> tuple[int, Any]:
        body = request.body
        seconds: float | tuple[float, float] | None
        if "between" in body:
            if "seconds" in body:
                raise ValueError("give seconds or between, not both")
            low, high = sorted(body["between"])
            seconds = (low, high)
        elif "seconds" in body:
            seconds = body["seconds"]
        else:
            raise ValueError("give seconds (null removes the delay) or between")
        control = self._control(body.get("route", "*"))
        control.latency(seconds, spread=body.get("spread", "uniform"))
        return 200, self.mock.overrides()

    def _control(self, route: str) -> RouteControls:
        """The controller's `on(route)`; an unknown route is a value error of the body."""
        try:
            return self.mock.on(route)
        except KeyError as error:
            raise ValueError(error.args[0]) from None

    def _clear_overrides(self, request: AdminRequest) -> tuple[int, Any]:
        self.mock.clear_overrides()
        return 200, []

    def _journal(self, request: AdminRequest) -> tuple[int, Any]:
        query = request.query
        if query.get("unmatched", "").lower() in ("1", "true", "yes"):
            entries = self.mock.unmatched()
        else:
            entries = self.mock.calls(
                query.get("route"),
                method=query.get("method"),
                path=query.get("path"),
                status=_int(query, "status"),
                since=_int(query, "since") or 0,
            )
        reveal = query.get("reveal", "").lower() in ("1", "true", "yes")
        return 200, {
            "entries": [entry.to_json(reveal=reveal) for entry in entries],
            "next": self.mock.app.journal.next_index,
        }

    def _clear_journal(self, request: AdminRequest) -> tuple[int, Any]:
        self.mock.clear_journal()
        return 200, {"entries": [], "next": self.mock.app.journal.next_index}

    def _assert_called(self, request: AdminRequest) -> tuple[int, Any]:
        body = request.body
        found = self.mock.assert_called(body["route"], body.get("times"), json=body.get("json"))
        return 200, {"passed": True, "calls": len(found)}

    def _conversations(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, self.mock.conversations()

    def _conversation(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, self.mock.conversation(request.params["conversation_id"])

    def _responses(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, self.mock.responses()

    def _response(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, self.mock.response(request.params["response_id"])

    def _files(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, self.mock.files()

    def _quotas(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, self.mock.quotas()

    def _turns(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, self.mock.turns()

    def _sockets(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, self.mock.sockets()

    def _tokens(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, self.mock.tokens()

    def _clock(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, self.mock.clock()

    def _advance(self, request: AdminRequest) -> tuple[int, Any]:
        self.mock.advance(request.body["advance"])
        return 200, self.mock.clock()

    def _snapshots(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, self.mock.kept_snapshots()

    def _snapshot(self, request: AdminRequest) -> tuple[int, Any]:
        taken = self.mock.snapshot(request.body["name"])
        return 200, {"name": taken.name, "time": taken.time}

    def _restore(self, request: AdminRequest) -> tuple[int, Any]:
        self.mock.restore(request.params["name"])
        return 200, self.mock.state()

    def _drop_snapshot(self, request: AdminRequest) -> tuple[int, Any]:
        name = request.params["name"]
        if self.mock.snapshots.pop(name, None) is None:
            raise KeyError(f"no snapshot named {name!r}")
        return 200, self.mock.kept_snapshots()

    def _failures(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, {"failures": self.mock.failures()}

    def _openapi(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, admin_document(ENDPOINTS, PREFIX)


def _host_name(host: str) -> str:
    """The name in a `Host` header, without its port or IPv6 brackets, lowercase."""
    host = host.lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, colon, port = host.rpartition(":")
    return name if colon and port.isdigit() and ":" not in name else host


def _json_media(scope: Scope) -> bool:
    for key, value in scope["headers"]:
        if key == b"content-type":
            return _JSON_MEDIA.fullmatch(value.decode("latin-1")) is not None
    return False


def _loopback(host: str) -> bool:
    if host == "testclient":  # starlette's in-process client
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _whole_numbers(value: Any) -> Any:
    """The body with whole floats as ints: for JSON Schema 270.0 is an integer, and the
    controls take it as 270. An override's `json` is served as given, so it is left alone."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    if isinstance(value, dict):
        return {key: item if key == "json" else _whole_numbers(item) for key, item in value.items()}
    return value


class _QueryError(ValueError):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def _int(query: dict[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise _QueryError(name, "value is not a valid integer") from None
    if number < 0:
        raise _QueryError(name, "ensure this value is greater than or equal to 0")
    return number


def _value_problem(error: BaseException) -> Problem:
    if isinstance(error, _QueryError):
        kind = "type_error.integer" if "integer" in str(error) else "value_error.number.not_ge"
        return Problem(("query", error.name), str(error), kind)
    message = str(error) or type(error).__name__
    if isinstance(error, KeyError | TypeError) and error.args:
        message = str(error.args[0])
    return Problem(("body",), message, "value_error")


def _give_back_freed_memory() -> None:
    """Return to the system the memory a reset of a long-running server freed.

    Over a long streaming session the Python heap stays flat (tracemalloc shows
    it), but glibc's allocator keeps freed pages resident, so a server's RSS
    would not drop after the reset that dropped its state. Only the admin API's
    reset does this (a few ms): the pytest fixture's per-test reset does not.
    Elsewhere than glibc (macOS, musl) it does nothing.
    """
    import contextlib
    import ctypes
    import gc

    gc.collect()  # the old app's cycles, so their pages are free to give back
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
