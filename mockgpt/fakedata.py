"""Seeded fake data: one consistent world per seed.

Fixtures are written with one canonical identity (`fixtures/identity.json`).
`Varier` rewrites a fixture for a seed: each canonical value, each UUID, each
prefixed id (`user-…`, `org-…`, `file-…`) and each text listed in the identity
file is replaced by a value drawn from `(seed, original value)` alone, and every
timestamp moves by one offset: the fixtures are written as if it were
`FIXTURE_EPOCH`, and the offset carries that moment to the world's "now" (the
app's clock start), so expiries stay ahead of it and history stays behind.
Because the draw depends on the value and not on the order of calls, the
same seed gives the same bytes whatever order routes are asked in, and the
same object gets the same id on every route.

The identity file's values are replaced through one table
(`Varier._literal_table`), from each literal value to its generator; ids and
times through patterns. A test checks that every value of the identity file varies.
"""

from __future__ import annotations

import importlib._bootstrap
import importlib.util
import random
import re
import string
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from mockgpt._resources import fixtures_dir, read_json
from mockgpt.config import Config, parse_now
from mockgpt.replies import sample_item

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PREFIXED_ID = re.compile(
    r"(?<![A-Za-z0-9])(user|org|file|g-p|g|chatcmpl|modr|call|cus|sub|req|task|conn|asst|proj)"
    r"-([A-Za-z0-9]{12,})(?![A-Za-z0-9])"
)
_ISO = re.compile(
    r"\b(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?(?![\d.])"
)
_EPOCH_KEY = re.compile(r"(^|_)(time|created|timestamp|at|iat|exp|expires|since)$")
_EPOCH_SECONDS = (1.3e9, 2.6e9)
#: Fixtures are written as if "now" were this moment; the world's now replaces it.
FIXTURE_EPOCH = datetime(2025, 11, 3, 18, 0, 0, tzinfo=UTC)
_EPOCH_MILLIS = (1.3e12, 2.6e12)


def _rng(seed: int, kind: str, original: str) -> random.Random:
    return random.Random(f"{seed}\x1f{kind}\x1f{original}")


def seed_moment(seed: int) -> datetime:
    """The seed's own "now", for worlds no clock pins (a virtual clock without `now`)."""
    rng = _rng(seed, "clock", "")
    return FIXTURE_EPOCH + timedelta(
        days=rng.randint(-120, 20),
        seconds=rng.randint(0, 86399),
        microseconds=rng.randint(0, 999999),
    )


@dataclass(frozen=True, slots=True)
class Person:
    """The user mockgpt plays for a seed."""

    name: str
    email: str
    phone_number: str


def _person(seed: int) -> Person:
    """The seed's person, drawn by Faker's en_US person provider alone: the same draws
    as a full `Faker("en_US")` (which sets up every provider), at a fraction of its
    start-up cost, loaded only when a person is first needed."""
    generator, provider_class = _faker_person_classes()
    settings: dict[str, Any] = {"locale": "en_US", "use_weighting": True}
    faker: Any = generator(**settings)
    provider = provider_class(faker)
    provider.__use_weighting__ = True
    faker.add_provider(provider)
    faker.seed_instance(_rng(seed, "person", "").getrandbits(64))
    first, last = faker.first_name(), faker.last_name()
    local = f"{first}.{last}".lower()
    local = "".join(ch for ch in local if ch in string.ascii_lowercase + ".") or "user"
    domain = faker.random_element(("example.com", "example.org", "example.net"))
    number = "+1555555" + "".join(faker.random_choices(string.digits, length=4))
    return Person(name=f"{first} {last}", email=f"{local}@{domain}", phone_number=number)


_FAKER_LOCK = threading.Lock()
_faker_classes: tuple[Any, Any] | None = None


def _faker_person_classes() -> tuple[Any, Any]:
    """Faker's person classes, loaded by one thread at a time: `serve`'s start-up thread
    and the first request that names the user may both ask, and the quick load below
    must not see the other's half-made `faker` package in `sys.modules`."""
    global _faker_classes
    if _faker_classes is None:
        with _FAKER_LOCK:
            if _faker_classes is None:
                _faker_classes = _load_faker_person_classes()
    return _faker_classes


def _load_faker_person_classes() -> tuple[Any, Any]:
    """Faker's `Generator` and its en_US person `Provider`, loaded once per process.

    `import faker` runs the package's `__init__`, which imports all of Faker's provider
    packages to list every locale (85 ms on a quiet machine, 180 to 440 ms in a
    server starting on a busy one) before anything is drawn; a person needs two small
    modules. Unless Faker is loaded already, those are imported under a stand-in for
    the package (its path, without running `__init__`), holding the package's import
    lock as an ordinary import would, and every `faker` module this added leaves
    `sys.modules` again: a later `import faker` loads the whole library as if this had
    not happened, and these classes stay mockgpt's own copy.
    """
    spec = importlib.util.find_spec("faker")
    if spec is None or spec.submodule_search_locations is None:
        raise ModuleNotFoundError("mockgpt needs Faker: pip install faker", name="faker")
    locked = _import_lock()
    if "faker" in sys.modules or locked is None:
        from faker.generator import Generator
        from faker.providers.person.en_US import Provider

        return Generator, Provider
    before = set(sys.modules)
    with locked("faker"):
        package = importlib.util.module_from_spec(spec)
        spec._initializing = True  # type: ignore[attr-defined]  # others wait for the lock
        sys.modules["faker"] = package
        try:
            generator = importlib.import_module("faker.generator")
            person = importlib.import_module("faker.providers.person.en_US")
        finally:
            for name in set(sys.modules) - before:
                if name == "faker" or name.startswith("faker."):
                    del sys.modules[name]
    return generator.Generator, person.Provider


def _import_lock() -> Any:
    """CPython's per-module import lock (3.11 to 3.13 at least), or None where a Python
    has none by that name: the person then comes from the ordinary import, slower to
    start but the same draws."""
    return getattr(importlib._bootstrap, "_ModuleLockManager", None)


_TOKEN_PREFIX = re.compile(r"^(?:[a-z]{1,8}[-_])+")
_HEX = "0123456789abcdef"


def same_shape(rng: random.Random, text: str) -> str:
    """Random characters in the shape of `text`, so a stand-in passes for the real value.

    A short lowercase prefix (`sess-`, `user_`) and all punctuation are kept; each
    run of letters and digits keeps its kind: digits stay digits, lowercase hex
    stays hex, and in other runs each letter keeps its case. The seeded world's ids
    and the HAR sanitiser's fakes are both made by this one function.
    """
    prefix = _TOKEN_PREFIX.match(text)
    kept = prefix.group(0) if prefix and len(prefix.group(0)) < len(text) // 2 else ""
    out = [kept]
    for run in re.split(r"([^A-Za-z0-9]+)", text[len(kept) :]):
        if not run or not run[0].isalnum():
            out.append(run)
        elif run.isdigit():
            out.append("".join(rng.choice(string.digits) for _ in run))
        elif all(ch in _HEX for ch in run):
            out.append("".join(rng.choice(_HEX) for _ in run))
        else:
            out.append("".join(_like(rng, ch) for ch in run))
    return "".join(out)


def _like(rng: random.Random, ch: str) -> str:
    if ch.isdigit():
        return rng.choice(string.digits)
    return rng.choice(string.ascii_lowercase if ch.islower() else string.ascii_uppercase)


class Varier:
    """Rewrites canonical fixture values into the values of one seed's world."""

    def __init__(
        self, seed: int, identity: dict[str, Any] | None = None, now: datetime | None = None
    ) -> None:
        self.seed = seed
        self.identity = identity if identity is not None else load_identity()
        self.shift = (now if now is not None else seed_moment(seed)) - FIXTURE_EPOCH
        self._memo: dict[tuple[str, str], str] = {}
        self._literals = self._literal_table()
        self._literal_pattern = re.compile(
            "|".join(re.escape(value) for value in sorted(self._literals, key=len, reverse=True))
        )

    @cached_property
    def person(self) -> Person:
        """The seed's user: drawn on first use, as Faker costs start-up time."""
        return _person(self.seed)

    # -- the rule table -------------------------------------------------------

    def _literal_table(self) -> dict[str, Callable[[str], str]]:
        ident = self.identity
        table: dict[str, Callable[[str], str]] = {
            ident["user_name"]: lambda _: self.person.name,
            ident["email"]: lambda _: self.person.email,
            ident["phone_number"]: lambda _: self.person.phone_number,
            ident["picture"]: lambda value: self._picture(value),
        }
        for title in ident["titles"]:
            table[title] = lambda value: self._memoised("title", value, self._title)
        for text in ident["texts"]:
            table[text] = lambda value: self._memoised("text", value, self._text)
        return table

    def _memoised(self, kind: str, original: str, make: Callable[[str], str]) -> str:
        key = (kind, original)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = make(original)
        return found

    def _picture(self, original: str) -> str:
        digest = same_shape(_rng(self.seed, "picture", original), "0" * 32)
        initials = "".join(word[0] for word in self.person.name.split()[:2]).lower()
        return original.replace("0" * 32, digest).replace("/jr.png", f"/{initials}.png")

    def _title(self, original: str) -> str:
        """The seed's sample conversation standing in for the fixture's `index`-th title."""
        return sample_item(self.seed, self.identity["titles"].index(original))[0]

    def _text(self, original: str) -> str:
        """Texts come in (prompt, answer) pairs, one pair per fixture title."""
        index = self.identity["texts"].index(original)
        _, prompt, answer = sample_item(self.seed, index // 2)
        return answer if index % 2 else prompt

    def uuid_for(self, original: str) -> str:
        """The seed's UUID standing for a canonical UUID."""
        return self._memoised(
            "uuid",
            original,
            lambda value: str(
                uuid.UUID(int=_rng(self.seed, "uuid", value).getrandbits(128), version=4)
            ),
        )

    def _prefixed(self, match: re.Match[str]) -> str:
        prefix, body = match.group(1), match.group(2)
        return self._memoised(
            "id",
            match.group(0),
            lambda value: f"{prefix}-{same_shape(_rng(self.seed, 'id', value), body)}",
        )

    def _iso(self, match: re.Match[str]) -> str:
        date, clock, fraction, zone = match.groups()
        moment = datetime.fromisoformat(f"{date}T{clock}") + self.shift
        text = moment.strftime("%Y-%m-%dT%H:%M:%S")
        if fraction:
            digits = len(fraction) - 1
            text += "." + f"{moment.microsecond:06d}"[:digits]
        return text + (zone or "")

    # -- walking a document ---------------------------------------------------

    def text(self, value: str) -> str:
        """Rewrite one string: literals, prefixed ids, UUIDs and ISO times inside it."""
        literal = self._literals.get(value)
        if literal is not None:
            return literal(value)
        if self._literal_pattern.search(value):
            value = self._literal_pattern.sub(
                lambda m: self._literals[m.group(0)](m.group(0)), value
            )
        if "-" in value:
            value = _PREFIXED_ID.sub(self._prefixed, value)
            value = _UUID.sub(lambda m: self.uuid_for(m.group(0)), value)
            value = _ISO.sub(self._iso, value)
        return value

    def number(self, key: str, value: float) -> float:
        if not _EPOCH_KEY.search(key):
            return value
        seconds = self.shift.total_seconds()
        if _EPOCH_SECONDS[0] <= value <= _EPOCH_SECONDS[1]:
            return int(value + seconds) if isinstance(value, int) else round(value + seconds, 6)
        if _EPOCH_MILLIS[0] <= value <= _EPOCH_MILLIS[1]:
            shifted = value + seconds * 1000
            return int(shifted) if isinstance(value, int) else round(shifted, 3)
        return value

    def vary(self, document: Any, key: str = "") -> Any:
        """A copy of `document` in this seed's world."""
        if isinstance(document, str):
            return self.text(document)
        if isinstance(document, dict):
            return {self.text(k): self.vary(v, k) for k, v in document.items()}
        if isinstance(document, list):
            return [self.vary(item, key) for item in document]
        if isinstance(document, bool) or document is None:
            return document
        if isinstance(document, int | float):
            return self.number(key, document)
        return document

    def shifted(self, moment: datetime) -> datetime:
        return moment + self.shift

    def now(self) -> datetime:
        """The moment the world starts at (fixtures are written around it)."""
        return self.shifted(FIXTURE_EPOCH)


def load_identity() -> dict[str, Any]:
    identity: dict[str, Any] = read_json(fixtures_dir() / "identity.json")
    return identity


def world_now(config: Config) -> datetime | None:
    """Where a config's world stands: `Config.now`, else wall time on a system clock.

    None means the seed's own moment (a virtual clock without `now`), so tests
    on a virtual clock see the same dates on every run.
    """
    if config.now is not None:
        return parse_now(config.now)
    if config.clock == "system":
        return datetime.now(UTC)
    return None
