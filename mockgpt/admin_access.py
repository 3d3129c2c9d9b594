"""Who may call the admin API: the rules every admin request passes before dispatch.

The admin API changes and reveals state, and a dev server runs beside a browser,
so every request must name the server by a loopback name or the address it
listens on in `Host` (else a DNS-rebound page could call it), must not come from
another origin (`Origin`, `Sec-Fetch-Site`), and must send a body, if any, as
`application/json` (else a cross-site `text/plain` form could post one; 415).
Without a token only loopback clients are served; with one (`mockgpt serve
--admin-token`, or a random one printed when it listens beyond loopback) every
client must send `Authorization: Bearer <token>`.
Refusals are 403 with a `detail` that says which rule failed. Credentials in the
journal are masked unless `?reveal=true` (see `mockgpt.masking`).
"""

from __future__ import annotations

import hmac
import ipaddress
import re

from starlette.types import Scope

from mockgpt import errors
from mockgpt.responses import Prepared, json_response

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


class AdminAccess:
    """The access rules of one admin API: its token and the host names that mean it."""

    def __init__(self, token: str | None = None) -> None:
        if token is not None and not token.strip():
            raise ValueError("the admin token must not be empty")
        self.token = token
        #: Host names besides the loopback ones that mean this server (the host it
        #: was told to listen on); the address a connection arrived at counts too.
        self.hosts: set[str] = set()

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


def _host_name(host: str) -> str:
    """The name in a `Host` header, without its port or IPv6 brackets, lowercase."""
    host = host.lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, colon, port = host.rpartition(":")
    return name if colon and port.isdigit() and ":" not in name else host


def json_media(scope: Scope) -> bool:
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
