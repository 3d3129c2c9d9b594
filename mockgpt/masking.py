"""Credentials masked for display: the journal's HTTP view, the inspector and logs.

A dev server's journal holds what real clients sent: bearer tokens, session
cookies, sentinel tokens, passwords. Anything that shows it to a browser page
or a log shows it masked, keeping what helps debugging (the scheme, the first
few characters, the length) and dropping what would let someone replay it:
`Bearer eyJh…(812 chars)`. The Python API (`MockGPT.calls`) and the admin
journal with `?reveal=true` keep the full values.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any
from urllib.parse import unquote_plus

#: Headers whose whole value is a credential (`openai-sentinel-*` is matched by prefix).
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-conduit-token",
        "x-api-key",
        "api-key",
        "x-csrf-token",
    }
)
#: Headers that hold `name=value` pairs whose values are masked one by one.
COOKIE_HEADERS = frozenset({"cookie", "set-cookie"})
SENTINEL_PREFIX = "openai-sentinel-"
#: Body and query fields whose string values are credentials (compared without case,
#: `_` or `-`, so `accessToken`, `access_token` and `access-token` are one name).
SECRET_FIELDS = frozenset(
    {
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "sessiontoken",
        "token",
        "preparetoken",
        "proofofwork",
        "prooftoken",
        "turnstile",
        "turnstiletoken",
        "p",
        "password",
        "newpassword",
        "clientsecret",
        "apikey",
        "otp",
        "secret",
    }
)
#: How many leading characters of a secret stay visible, and from what length on.
_SHOWN = 4
_SHOWN_FROM = 16
_PLAIN = re.compile(r"[A-Za-z0-9._~+/=-]*")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9._~+-]*)(\s+)(\S.*)$", re.DOTALL)
_JSON_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:\s*)"((?:[^"\\]|\\.)*)"')
_FORM_PAIR = re.compile(r"(^|[&;?])([^=&;?\s\"',{\[]+)=([^&;\s\"'\\<>,}\]]*)")


def _normal(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def secret_field(name: str) -> bool:
    """Whether a body or query field of this name holds a credential."""
    return _normal(name) in SECRET_FIELDS


def mask(secret: str) -> str:
    """`secret` as its kind and length only: the first characters of a long value,
    then `…(N chars)`. Short values show nothing but their length."""
    shown = secret[:_SHOWN] if len(secret) >= _SHOWN_FROM else ""
    if not _PLAIN.fullmatch(shown):
        shown = ""  # never half an escape sequence or a quote
    return f"{shown}…({len(secret)} chars)"


def mask_credential(value: str) -> str:
    """A header credential: the scheme (`Bearer`, `Basic`) stays, the rest is masked."""
    found = _SCHEME.match(value)
    if found is None:
        return mask(value) if value else value
    scheme, space, rest = found.groups()
    return f"{scheme}{space}{mask(rest)}"


def mask_cookies(value: str) -> str:
    """A `Cookie` or `Set-Cookie` value: names (and cookie attributes) stay, values go."""
    parts = []
    for index, part in enumerate(value.split(";")):
        name, equals, rest = part.partition("=")
        attribute = index > 0 and _normal(name.strip()) in {
            "path",
            "domain",
            "expires",
            "maxage",
            "samesite",
        }
        parts.append(part if not equals or attribute else f"{name}={mask(rest)}")
    return ";".join(parts)


def mask_header(name: str, value: str) -> str:
    """One header's value as the journal view shows it."""
    lowered = name.lower()
    if lowered in COOKIE_HEADERS:
        return mask_cookies(value)
    if lowered in SECRET_HEADERS or lowered.startswith(SENTINEL_PREFIX):
        return mask_credential(value)
    return value


def mask_headers(headers: dict[str, str]) -> dict[str, str]:
    return {name: mask_header(name, value) for name, value in headers.items()}


def mask_json(value: Any) -> Any:
    """A parsed JSON document with every credential field's string value masked."""
    if isinstance(value, dict):
        return {
            key: mask(item)
            if isinstance(item, str) and isinstance(key, str) and secret_field(key)
            else mask_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_json(item) for item in value]
    return value


def _json_pair(found: re.Match[str]) -> str:
    key, colon, value = found.groups()
    if not secret_field(key):
        return found.group(0)
    with contextlib.suppress(ValueError):
        value = json.loads(f'"{value}"')  # the length of the string, not of its escapes
    return f'"{key}"{colon}"{mask(value)}"'


def _form_pair(found: re.Match[str]) -> str:
    start, key, value = found.groups()
    if not secret_field(unquote_plus(key)) or not value:
        return found.group(0)
    return f"{start}{key}={mask(unquote_plus(value))}"


def mask_text(text: str) -> str:
    """A body as text (JSON, a form, anything): credential fields' values masked in place,
    the rest left byte for byte."""
    return _FORM_PAIR.sub(_form_pair, _JSON_PAIR.sub(_json_pair, text))


def mask_query(query: str) -> str:
    """A query string with credential parameters masked (`access_token=…(40 chars)`)."""
    return _FORM_PAIR.sub(_form_pair, query)
