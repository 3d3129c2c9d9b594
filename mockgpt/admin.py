"""The admin API: the controller's methods over HTTP, under `/__mockgpt__/`.

Every endpoint calls the `MockGPT` method of the same name, so a test written
in any language gets exactly what a Python test gets. Bodies are JSON, checked
against `schemas/admin/*.json`; errors are FastAPI-shaped (`{"detail": ...}`):
422 for a body that breaks its schema or a value the mock refuses, 404 for an
unknown conversation or snapshot, 417 for a failed journal assertion.

Access: a request from a loopback address (or from in-process, with no socket)
is always served. When the server listens elsewhere it is given a token
(printed by `mockgpt serve`), and other clients must send
`Authorization: Bearer <token>`; without a token they get 403.
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
from mockgpt.journal import FAULTS
from mockgpt.responses import Prepared, json_response
from mockgpt.scripts import load_script
from mockgpt.validation import Problem, body_problems, fastapi_detail

if TYPE_CHECKING:
    from mockgpt.controller import MockGPT, RouteControl

PREFIX = "/__mockgpt__"
error_log = logging.getLogger("mockgpt.error")
#: Admin bodies are small; anything bigger is a mistake.
MAX_BODY = 4 * 1024 * 1024
_FORBIDDEN = json_response(
    403,
    errors.detail(
        "The admin API answers loopback clients, or requests that carry the admin token "
        "mockgpt serve printed at start (Authorization: Bearer <token>)."
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
        query=("route", "method", "path", "status", "since", "unmatched"),
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
    Endpoint("GET", "/quotas", "quotas", "Feature quotas and the model message cap."),
    Endpoint("GET", "/tokens", "tokens", "Access and sentinel tokens the mock issued."),
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
)


class AdminAPI:
    """Serves `ENDPOINTS` for one controller."""

    def __init__(self, mock: MockGPT, *, token: str | None = None) -> None:
        self.mock = mock
        self.token = token
        self._table = [(endpoint, endpoint.pattern) for endpoint in ENDPOINTS]

    # -- access and dispatch ---------------------------------------------------------

    def allowed(self, scope: Scope) -> bool:
        client = scope.get("client")
        if client is None or _loopback(client[0]):
            return True
        if self.token is None:
            return False
        for key, value in scope["headers"]:
            if key == b"authorization":
                offered = value.decode("latin-1").removeprefix("Bearer ").strip()
                return hmac.compare_digest(offered.encode(), self.token.encode())
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._respond(scope, receive)
        await response(scope, receive, send)

    async def _respond(self, scope: Scope, receive: Receive) -> Prepared:
        if not self.allowed(scope):
            return _FORBIDDEN
        path = scope["path"][len(PREFIX) :] or "/"
        method = scope["method"]
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
            from mockgpt.inspector import inspector_page

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
        prompt: str | re.Pattern[str] | None = body.get("prompt")
        if body.get("prompt_pattern") is not None:
            if prompt is not None:
                raise ValueError("give prompt or prompt_pattern, not both")
            prompt = re.compile(body["prompt_pattern"])
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

    def _control(self, route: str) -> RouteControl:
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
        return 200, {
            "entries": [entry.to_json() for entry in entries],
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

    def _quotas(self, request: AdminRequest) -> tuple[int, Any]:
        return 200, self.mock.quotas()

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
