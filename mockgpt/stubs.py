"""How long a stub lasts: one rule for route overrides and turn scripts.

A stub is an answer a test registers ahead of the requests: an override for a
route (`mock.on(key).respond(...)`, `.fail(...)`) or a script for a turn
(`mock.reply`, `mock.queue`, `mock.match`). Every stub has a `Lifetime`:

- once (`Lifetime(1)`, the default of `respond`, `fail`, `reply` and `queue`),
- n times (`Lifetime(n)`),
- until reset (`Lifetime(None)`, the default of `match`).

Stubs registered for the same place form a queue and answer in the order they
were registered: the first answers until its lifetime is spent, then the next
takes over (so `sequence(a, b)` answers a, then b). A spent stub is dropped; a
reset drops them all.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from mockgpt.errors import InvalidValue

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Lifetime:
    """How many more requests (or turns) a stub answers; None: until reset."""

    uses: int | None = 1

    def __post_init__(self) -> None:
        if self.uses is not None and (
            isinstance(self.uses, bool) or not isinstance(self.uses, int) or self.uses < 1
        ):
            raise InvalidValue("times must be at least 1 (or None for always)")

    def spend(self) -> Lifetime | None:
        """The lifetime left after one more use, or None when this was the last."""
        if self.uses is None:
            return self
        return None if self.uses == 1 else Lifetime(self.uses - 1)


#: The lifetime of a stub that answers until reset.
UNTIL_RESET = Lifetime(None)


@dataclass(frozen=True, slots=True)
class Stub(Generic[T]):
    """An answer and how long it lasts."""

    answer: T
    lifetime: Lifetime


class StubQueue(Generic[T]):
    """Stubs in the order they were registered; `take` spends one use of the first that fits."""

    __slots__ = ("_stubs",)

    def __init__(self, stubs: tuple[Stub[T], ...] = ()) -> None:
        self._stubs: deque[Stub[T]] = deque(stubs)

    def add(self, answer: T, lifetime: Lifetime) -> None:
        self._stubs.append(Stub(answer, lifetime))

    def take(self, fits: Callable[[T], bool] | None = None) -> T | None:
        """The answer of the first stub that fits (all fit when `fits` is None), spending
        one use of it; None when no stub fits."""
        for index, stub in enumerate(self._stubs):
            if fits is not None and not fits(stub.answer):
                continue
            left = stub.lifetime.spend()
            if left is None:
                del self._stubs[index]
            elif left is not stub.lifetime:
                self._stubs[index] = Stub(stub.answer, left)
            return stub.answer
        return None

    def stubs(self) -> tuple[Stub[T], ...]:
        """The stubs still queued, oldest first (immutable, for listings and snapshots)."""
        return tuple(self._stubs)

    def __iter__(self) -> Iterator[Stub[T]]:
        return iter(self.stubs())

    def __len__(self) -> int:
        return len(self._stubs)

    def __bool__(self) -> bool:
        return bool(self._stubs)

    def clear(self) -> None:
        self._stubs.clear()
