"""The sanitiser: every credential and personal value of a capture swapped for a consistent fake."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import random
import re
import string
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote, unquote

from faker import Faker

from mockgpt.errors import MockGPTError
from mockgpt.fakedata import same_shape
from mockgpt.har.reading import NOT_JSON, Exchange, event_json, parse_sse

_JWT = r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
_EMAIL = (
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*(?:@|%40|\\u0040)"
    r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
#: How an email's `@` may be written: plain, URL-encoded, JSON-escaped.
_AT_SIGNS = ("%40", "\\u0040", "@")
_UUID = (
    r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}"
    r"-[0-9A-Fa-f]{12}(?![0-9A-Fa-f])"
)
_PREFIXED = (
    r"(?<![A-Za-z0-9])(?:user|org|acct|account|sess|cus|sub|proj|file|device|ws)"
    r"-[A-Za-z0-9]{12,}(?![A-Za-z0-9])"
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)"
_IPV6 = r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"
_STRUCTURED = re.compile(rf"{_JWT}|{_EMAIL}|{_UUID}|{_PREFIXED}|{_IPV4}|{_IPV6}")
#: A PEM private key, whole or cut short, with real or JSON-escaped line breaks.
_PEM = (
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[A-Za-z0-9+/=\s]|\\[nr])*"
    r"(?:-----END [A-Z0-9 ]*PRIVATE KEY-----)?"
)
#: A fragment of a DER key or certificate in base64 (they all start `MII`).
_DER = r"(?<![A-Za-z0-9+/])MII[A-Za-z0-9+/]{40,}={0,2}"
#: Query parameters of signed URLs and one-time-password URIs whose values are secrets:
#: Azure SAS (`sig`, `se`, `skoid`...), AWS and Google (`X-Amz-Signature`...), CloudFront
#: (`Signature`, `Policy`, `Key-Pair-Id`), `otpauth://` (`secret`), OAuth leftovers.
_SIGNED_PARAM = (
    r"(?:(?<=[?&;])|(?<=\\u0026))(?i:sig|signature|se|st|skoid|sktid|skt|ske|sks|sdd"
    r"|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature"
    r"|x-goog-credential|key-pair-id|policy|secret|token|access_token|refresh_token"
    r"|id_token|code|state|client_secret|password)=[^&\s\"'<>\\#]+"
)
#: Stripe object ids (customers, subscriptions, payments, cards, keys...): mixed case
#: with a digit, so words like `in_progress` are spared.
_STRIPE = (
    r"(?<![A-Za-z0-9_])(?:cus|sub|sub_sched|pi|pm|ch|in|ii|il|seti|si|src|card|ba|acct"
    r"|evt|txn|re|py|po|cs_live|cs_test|bps|plink|tok|sk_live|pk_live|rk_live|sk_test"
    r"|pk_test|rk_test|whsec|cn|dp|du|sli|si|ss|ipi|prod|price|promo)_"
    r"(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Z])[A-Za-z0-9]{8,}(?![A-Za-z0-9])"
)
#: A Google account's profile-picture id (lh3.googleusercontent.com/a/<id>).
_GOOGLE_PICTURE = (
    r"(?:(?<=googleusercontent\.com/a/)|(?<=googleusercontent\.com/a-/)"
    r"|(?<=googleusercontent\.com\\/a\\/)|(?<=googleusercontent\.com%2Fa%2F))[A-Za-z0-9_-]{10,}"
)
#: The last four digits of a card, after the words or dots that introduce them.
_CARD_LAST4 = (
    r"(?:(?<=ending in )|(?<=ending with )|(?<=ending )|(?<=Ending in )|(?<=•••• )"
    r"|(?<=\*\*\*\* )|(?<=XXXX )|(?<=xxxx )|(?<=····)|(?<=•••)|(?<=last 4: )|(?<=last4: ))"
    r"\d{4}(?!\d)"
)
#: A street address: a house number, up to four capitalised words and a street kind.
_STREET = (
    r"(?<![\w-])\d{1,6}[A-Za-z]?(?:\s+[A-Z][A-Za-z'.-]*){1,4}\s+"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Parkway"
    r"|Pkwy|Place|Pl|Terrace|Square|Sq|Highway|Hwy|Circle|Cir|Close|Crescent|Row)\b\.?"
)
#: Object keys whose whole string values are secrets or personal, whatever their length.
_WHOLE_VALUE_KEY = re.compile(
    r"(?i)token$|secret|password|passwd|api_?key|authori[sz]ation|signature|credential"
    r"|recovery_?codes?|backup_?codes?|(?:^|_)(?:otp|totp|mfa)_?(?:secret|seed|codes?|uri|url)?$"
    r"|last_?4|last_?four|^line[12]$|address_?line|street|postal_?code|^zip(?:_?code)?$"
)

#: Object keys whose string values identify a person, an account or a session.
_ID_KEY = re.compile(
    r"(?i)(?:^|_|-)(?:account|user|org|organization|workspace|device|customer|member|session"
    r"|poid|chatgpt_account|chatgpt_user)[_-]?(?:id|uuid)$|^(?:sub|sid|jti|username|handle)$"
    r"|(?<=[a-z])(?:AccountId|UserId|DeviceId|SessionId|OrgId)$"
)
#: Object keys and query parameters whose values are credentials.
_SECRET_KEY = re.compile(
    r"(?i)token$|secret|password|passwd|cookie|api_?key|authori[sz]ation|signature|credential"
    r"|hash$"
)
#: Header names whose values are credentials or identify the user, device or session.
_SECRET_HEADER = re.compile(
    r"(?i)token$|secret|api-key|session|signature|credential|(?:account|device|user|org)-id$"
)
#: Keys that hold a person's name wherever they appear.
_PERSON_KEYS = frozenset(
    {"user_name", "full_name", "first_name", "last_name", "given_name", "family_name", "nickname"}
)
#: Keys that hold a person's name in an object about a person.
_NAME_KEYS = frozenset({"name", "display_name", "preferred_username"})
#: Keys that make an object be about a person.
_PERSON_HINTS = frozenset(
    {"email", "picture", "avatar", "avatar_url", "phone_number", "profile_picture_url", "user_id"}
)
_PICTURE_KEYS = frozenset({"picture", "avatar", "avatar_url", "image", "profile_picture_url"})
_AVATAR_HASH = re.compile(r"/avatar/([0-9a-fA-F]{32,64})")
#: What a person's name looks like: up to five words of letters (any script).
_PERSON_NAME = re.compile(r"[^\W\d_][^\W\d_.'-]*(?:[ .'-]+[^\W\d_][^\W\d_.'-]*){0,4}\.?")
#: Authors the service itself signs as, which are no one's name.
_SERVICE_NAMES = frozenset({"chatgpt", "openai", "gpt", "assistant", "system", "user", "tool"})
_PERSON_PARENTS = frozenset({"user", "owner", "creator", "member", "profile", "author_profile"})
_ORG_PARENTS = frozenset({"account", "organization", "org", "workspace", "team"})
_PHONE_KEYS = frozenset({"phone", "phone_number", "mobile"})
_TEST_NETS = ("192.0.2.", "198.51.100.", "203.0.113.")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sanitiser:
    """Replaces credentials and personal values by fake ones, the same fake for the same value.

    Learn first (`learn_exchange`, `learn_json`): values found by the name of
    their key or header (names, account and user ids, cookies, tokens) are
    recorded. Then `text` and `json` replace, in one pass over each string,
    JWTs (rebuilt around sanitised claims), emails, UUIDs, prefixed ids,
    IPv4/IPv6 addresses and every learned value. Fakes are drawn from one
    generator seeded with `seed` in the order values are met, so one capture
    gives the same output for the same seed, and no fake is derived from the
    real value it replaces.
    """

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(f"mockgpt har import\x1f{seed}")
        self._faker = Faker("en_US")
        self._fakes: dict[str, str] = {}
        self._names: dict[str, str] = {}  # lowercased real name -> fake
        self._literals: dict[str, str] = {}  # real token/id -> kind
        self._shorts: set[str] = set()  # short credentials, replaced as whole words
        self._used: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    # -- fakes ---------------------------------------------------------------------

    @property
    def replaced(self) -> int:
        """How many distinct real values have a fake."""
        return len(self._fakes) + len(self._names)

    def _unique(self, make: Callable[[], str]) -> str:
        for _ in range(100):
            candidate: str = make()
            if candidate not in self._used and candidate not in self._fakes:
                self._used.add(candidate)
                return candidate
        raise MockGPTError("could not draw a fresh fake value")

    def _fake_name(self) -> tuple[str, str]:
        self._faker.seed_instance(self._rng.getrandbits(64))
        return self._faker.first_name(), self._faker.last_name()

    def _fake(self, real: str, kind: str) -> str:
        found = self._fakes.get(real)
        if found is not None:
            return found
        rng = self._rng
        if kind == "jwt":
            fake = self._jwt(real)
        elif kind == "email":
            fake = self._unique(lambda: self._email(real))
        elif kind == "uuid":
            text = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            fake = text.upper() if real.isupper() else text
        elif kind == "ipv4":
            fake = self._unique(lambda: rng.choice(_TEST_NETS) + str(rng.randint(1, 254)))
        elif kind == "ipv6":
            fake = self._unique(
                lambda: str(ipaddress.IPv6Address((0x20010DB8 << 96) | rng.getrandbits(96)))
            )
        elif kind == "phone":
            fake = self._unique(lambda: "+1555555" + "".join(rng.choices(string.digits, k=4)))
        elif kind == "street":
            self._faker.seed_instance(rng.getrandbits(64))
            fake = self._unique(self._faker.street_address)
        elif kind == "digits":
            fake = self._unique(lambda: "".join(rng.choices(string.digits, k=len(real))))
        elif kind == "org":
            self._faker.seed_instance(rng.getrandbits(64))
            fake = self._unique(self._faker.company)
        else:
            fake = self._unique(lambda: same_shape(rng, real))
        self._fakes[real] = fake
        self._used.add(fake)
        return fake

    def _email(self, real: str) -> str:
        """A fake address at a reserved domain; when the real one is made of a learned
        name (`ada.lovelace@...`), made of that name's fake the same way."""
        domain = self._rng.choice(("example.com", "example.org", "example.net"))
        local = real.rsplit("@", 1)[0].lower()
        pieces = re.split(r"([._+-])", local)
        words = pieces[::2]
        if all(word in self._names and " " not in self._names[word] for word in words):
            pieces[::2] = [self._names[word].lower() for word in words]
            made = "".join(ch for ch in "".join(pieces) if ch.isalnum() or ch in "._+-")
            if f"{made}@{domain}" not in self._used:
                return f"{made}@{domain}"
        first, last = self._fake_name()
        made = "".join(ch for ch in f"{first}.{last}".lower() if ch.isalnum() or ch == ".")
        if self._rng.random() < 0.5:
            made += str(self._rng.randint(1, 99))
        return f"{made}@{domain}"

    def _jwt(self, real: str) -> str:
        head, body, signature = real.split(".")
        parts = []
        for segment in (head, body):
            try:
                claims = json.loads(_unb64url(segment))
            except (ValueError, binascii.Error, RecursionError):
                parts.append(same_shape(self._rng, segment))
                continue
            parts.append(_b64url(json.dumps(self.json(claims), separators=(",", ":")).encode()))
        parts.append(same_shape(self._rng, signature))
        return ".".join(parts)

    # -- learning --------------------------------------------------------------------

    def _literal(self, value: str, kind: str = "token", *, minimum: int = 8) -> None:
        """Replace `value` wherever it appears (values the patterns find need no entry)."""
        value = value.strip()
        if value.startswith("eyJ"):
            self.learn_text(value)
        if len(value) < minimum or value in self._literals:
            return
        if len(re.sub(r"[^A-Za-z0-9]", "", _STRUCTURED.sub("", value))) < 4:
            return  # made of emails, ids and addresses, which the patterns replace
        if kind == "token" and " " in value:
            return  # prose, not a credential
        self._literals[value] = kind
        self._pattern = None

    def _short(self, value: str) -> None:
        """Replace a credential too short for `_literal` (a 5-character bearer token, a
        recovery code) wherever it stands as a whole word; under 3 characters it could
        be anything, so it is only replaced where its key says what it is."""
        value = value.strip()
        if len(value) < 3 or value in self._literals or value in self._shorts or " " in value:
            return
        if not re.search(r"\d", value) and (value.islower() or value.isupper()):
            return  # a word (`true`, `none`, `Bearer`), not a credential
        if len(value) > 16 or not re.fullmatch(r"[A-Za-z0-9._~+/=-]+", value):
            return  # a longer or structured value: `_literal` and the patterns see to it
        self._shorts.add(value)
        self._pattern = None

    def learn_name(self, name: str) -> None:
        """Record a person's full name (and its parts) to be replaced everywhere."""
        name = " ".join(name.split())
        lowered = name.lower()
        if len(name) < 2 or lowered in self._names or lowered in _SERVICE_NAMES:
            return
        if not _PERSON_NAME.fullmatch(name) or _STRUCTURED.search(name):
            return  # an id, an address or a label, not a person's name
        words = name.split(" ")
        first, last = self._fake_name()
        fakes = [first, last, *(self._fake_name()[1] for _ in words[2:])]
        self._names[name.lower()] = " ".join(fakes[: len(words)]) if len(words) > 1 else first
        if len(words) > 1:
            for word, fake in zip(words, fakes, strict=False):
                if len(word) >= 3 and word[0].isupper() and word.lower() not in self._names:
                    self._names[word.lower()] = fake
        self._pattern = None

    def learn_text(self, text: str) -> None:
        """Record what the claims of the JWTs inside `text` say about a person."""
        for match in re.finditer(_JWT, text):
            try:
                claims = json.loads(_unb64url(match.group(0).split(".")[1]))
            except (ValueError, binascii.Error, RecursionError):
                continue
            self.learn_json(claims)

    def learn_json(self, value: Any, parent: str = "") -> None:
        """Record the names, ids and tokens a JSON value holds, by the keys they are under."""
        if isinstance(value, list):
            for item in value:
                self.learn_json(item, parent)
            return
        if isinstance(value, str):
            if "eyJ" in value:
                self.learn_text(value)
            return
        if not isinstance(value, dict):
            return
        identified = value.get("id")
        personal = any(hint in value for hint in _PERSON_HINTS) or (
            isinstance(identified, str) and identified.startswith("user-")
        )
        for key, item in value.items():
            lowered = key.lower()
            if isinstance(item, str) and item:
                if lowered in _PERSON_KEYS or (
                    lowered in _NAME_KEYS and (personal or parent in _PERSON_PARENTS)
                ):
                    self.learn_name(item)
                elif lowered in _NAME_KEYS and parent in _ORG_PARENTS:
                    if not _STRUCTURED.search(item):
                        self._fake(item, "org")
                        self._literal(item, "org", minimum=2)
                elif lowered in _PHONE_KEYS:
                    self._fake(item, "phone")
                    self._literal(item, "phone", minimum=4)
                elif lowered in _PICTURE_KEYS:
                    for found in _AVATAR_HASH.finditer(item):
                        self._literal(found.group(1))
                elif _ID_KEY.search(key) or _SECRET_KEY.search(key):
                    self._literal(item, minimum=4)
                elif _WHOLE_VALUE_KEY.search(key):
                    self._short(item)
            elif isinstance(item, list) and _WHOLE_VALUE_KEY.search(key):
                for code in item:
                    if isinstance(code, str):
                        self._short(code)
            self.learn_json(item, lowered)

    def learn_headers(self, headers: Iterable[tuple[str, str]]) -> None:
        for name, value in headers:
            lowered = name.lower()
            if lowered == "authorization":
                scheme, _, token = value.partition(" ")
                self._literal(token if token else scheme)
                self._short(token.strip() if token else scheme)
            elif lowered in ("cookie", "set-cookie"):
                pieces = value.split(";") if lowered == "cookie" else value.split(";", 1)[:1]
                for piece in pieces:
                    self._literal(piece.partition("=")[2], minimum=6)
            elif _SECRET_HEADER.search(lowered):
                self._literal(value, minimum=6)

    def learn_exchange(self, exchange: Exchange) -> None:
        """Learn from everything an entry holds: headers, cookies, query, bodies and streams."""
        self.learn_headers(exchange.request_headers)
        self.learn_headers(exchange.response_headers)
        for _, value in (*exchange.request_cookies, *exchange.response_cookies):
            self._literal(value, minimum=6)
        for name, value in exchange.query:
            if _ID_KEY.search(name) or _SECRET_KEY.search(name):
                self._literal(value, minimum=4)
        for text in (exchange.request_text, exchange.response_text):
            if not text:
                continue
            for value in _json_values(text):
                self.learn_json(value)
            self.learn_text(text)

    # -- replacing -------------------------------------------------------------------

    def _compiled(self) -> re.Pattern[str]:
        if self._pattern is None:
            literals = sorted(self._literals, key=len, reverse=True)
            names = sorted(self._names, key=len, reverse=True)
            shorts = sorted(self._shorts, key=len, reverse=True)
            alternatives = [
                f"(?P<pem>{_PEM})",
                f"(?P<jwt>{_JWT})",
                f"(?P<param>{_SIGNED_PARAM})",
                f"(?P<email>{_EMAIL})",
                f"(?P<picture>{_GOOGLE_PICTURE})",
                f"(?P<stripe>{_STRIPE})",
                f"(?P<der>{_DER})",
                f"(?P<card>{_CARD_LAST4})",
                f"(?P<street>{_STREET})",
                *(
                    [f"(?P<literal>{'|'.join(re.escape(value) for value in literals)})"]
                    if literals
                    else []
                ),
                *(
                    [
                        "(?P<name>(?<!\\w)(?:"
                        + "|".join(_name_regex(name) for name in names)
                        + ")(?!\\w))"
                    ]
                    if names
                    else []
                ),
                *(
                    [
                        "(?P<short>(?<![A-Za-z0-9_-])(?:"
                        + "|".join(re.escape(value) for value in shorts)
                        + ")(?![A-Za-z0-9_-]))"
                    ]
                    if shorts
                    else []
                ),
                f"(?P<uuid>{_UUID})",
                f"(?P<prefixed>{_PREFIXED})",
                f"(?P<ipv4>{_IPV4})",
                f"(?P<ipv6>{_IPV6})",
            ]
            self._pattern = re.compile("|".join(alternatives))
        return self._pattern

    def _replace(self, match: re.Match[str]) -> str:
        kind = match.lastgroup or ""
        real = match.group(0)
        if kind == "name":
            space = next((sep for sep in _NAME_SPACES if sep in real), " ")
            words = real.replace(space, " ").split() if space != " " else real.split()
            fake = self._names[" ".join(words).lower()]
            if real.isupper():
                fake = fake.upper()
            elif real.islower():
                fake = fake.lower()
            return fake.replace(" ", space)
        if kind == "literal":
            return self._fake(real, self._literals[real])
        if kind == "email":
            at = next(sign for sign in _AT_SIGNS if sign in real)
            return self._fake(real.replace(at, "@"), "email").replace("@", at)
        if kind == "param":
            name, _, secret = real.partition("=")
            if "%" not in secret:
                return f"{name}={self._fake(secret, 'token')}"
            return f"{name}={quote(self._fake(unquote(secret), 'token'), safe='')}"
        if kind == "pem":
            return self._pem(real)
        if kind == "card":
            return self._fake(real, "digits")
        if kind == "street":
            return self._fake(real, "street")
        if kind in ("ipv4", "ipv6"):
            try:
                address = ipaddress.ip_address(real)
            except ValueError:
                return real
            if address.is_loopback or address.is_unspecified:
                return real
        if kind == "prefixed":
            kind = "token"
        return self._fake(real, kind)

    def _pem(self, real: str) -> str:
        """A PEM key with its base64 lines drawn anew, and armour that no secret scanner
        (or reader) takes for a real key: `-----BEGIN FAKE KEY-----`."""
        real = re.sub(r"(-----(?:BEGIN|END) )[A-Z0-9 ]*PRIVATE KEY-----", r"\1FAKE KEY-----", real)
        pieces = re.split(r"(-----[A-Z0-9 ]+-----|\s+|\\[nr])", real)
        return "".join(
            piece
            if not piece or piece.startswith("-----") or not re.fullmatch(r"[A-Za-z0-9+/=]+", piece)
            else "".join(self._rng.choice(string.ascii_letters + string.digits) for _ in piece)
            for piece in pieces
        )

    def text(self, value: str) -> str:
        """`value` with every secret and personal value replaced."""
        return self._compiled().sub(self._replace, value)

    def json(self, value: Any, key: str = "") -> Any:
        """A copy of a JSON value with every string (keys too) sanitised; a string under a
        key that names a secret (`password`, `recovery_codes`, `last4`...) is replaced whole."""
        if isinstance(value, str):
            if value and key and _WHOLE_VALUE_KEY.search(key):
                return self._whole(value, key)
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(name): self.json(item, name) for name, item in value.items()}
        if isinstance(value, list):
            return [self.json(item, key) for item in value]
        return value

    def _whole(self, value: str, key: str) -> str:
        found = self.text(value)
        if found != value:
            return found  # a JWT or an email keeps its form, with sanitised contents
        lowered = key.lower()
        if re.search(r"last_?4|last_?four", lowered) and value.isdigit():
            return self._fake(value, "digits")
        if re.search(r"line[12]|address_?line|street", lowered):
            return self._fake(value, "street")
        return self._fake(value, "token")


def _name_regex(name: str) -> str:
    """A learned name as a regex: any case for full names; a single word only capitalised
    or in capitals (so a surname like "Rose" spares the flower)."""
    words = name.split(" ")
    if len(words) == 1:
        forms = dict.fromkeys((name.capitalize(), name.upper()))
        return "(?:" + "|".join(re.escape(form) for form in forms) + ")"
    return "(?i:" + r"(?:\s+|%20|\+)".join(re.escape(word) for word in words) + ")"


#: How a space between a name's words may be written in a URL (plain space last).
_NAME_SPACES = ("%20", "+")


def _json_values(text: str) -> Iterator[Any]:
    """The JSON value of a body, or of each data event of an event stream."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            yield json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            return
        return
    if stripped.startswith(("data:", "event:", ":")):
        for event in parse_sse(text).events:
            data = event_json(event)
            if data is not NOT_JSON:
                yield data
