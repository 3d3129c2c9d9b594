"""The book of scripts an app keeps, and which one answers a turn."""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from mockgpt.patterns import PatternError, PromptPattern
from mockgpt.scripts.checks import ScriptError, check_int
from mockgpt.scripts.script import Script
from mockgpt.stubs import UNTIL_RESET, Lifetime


@dataclass(frozen=True, slots=True)
class Matcher:
    """A script answering the turns whose prompt and model fit, for its lifetime."""

    script: Script
    prompt: str | PromptPattern | None = None
    model: str | None = None
    lifetime: Lifetime = UNTIL_RESET

    def matches(self, prompt: str, model: str) -> bool:
        """Whether a turn with this prompt and model is answered by this matcher."""
        if self.model is not None and model != self.model:
            return False
        if isinstance(self.prompt, PromptPattern):
            return self.prompt.search(prompt)
        return self.prompt is None or self.prompt in prompt


@dataclass(frozen=True, slots=True)
class BookState:
    """An immutable copy of a `ScriptBook`, for `ScriptBook.restore`."""

    queued: tuple[Script, ...] = ()
    matchers: tuple[Matcher, ...] = ()
    fixed: Script | None = None


class ScriptBook:
    """Where the app keeps scripts, and which one answers a turn.

    Order of `pick`: queued scripts first (FIFO, each used once), then
    matchers in the order they were registered (each for its `Lifetime`, the
    rule route overrides follow too: see `mockgpt.stubs`), then the fixed
    script; None means "generate the answer".
    Thread-safe, since the app may serve turns from several threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: deque[Script] = deque()
        self._matchers: list[Matcher] = []
        self._fixed: Script | None = None

    def queue(self, *scripts: Script) -> None:
        """Answer the next turns with these scripts, in order."""
        for script in scripts:
            if not isinstance(script, Script):
                raise TypeError(f"expected a Script, got {type(script).__name__}")
        with self._lock:
            self._queued.extend(scripts)

    def match(
        self,
        script: Script,
        *,
        prompt: str | re.Pattern[str] | PromptPattern | None = None,
        model: str | None = None,
        times: int | None = None,
    ) -> None:
        """Answer turns whose prompt contains `prompt` (or matches the pattern) and
        whose model is `model`; at most `times` times (None: no limit). A pattern runs
        on RE2 (`mockgpt.patterns`), so one it cannot run is a `ScriptError` here."""
        if not isinstance(script, Script):
            raise TypeError(f"expected a Script, got {type(script).__name__}")
        if times is not None:
            check_int("times", times, minimum=1)
        if isinstance(prompt, re.Pattern):
            try:
                prompt = PromptPattern(prompt)
            except PatternError as error:
                raise ScriptError(str(error), "prompt") from None
        with self._lock:
            self._matchers.append(Matcher(script, prompt, model, Lifetime(times)))

    def fixed(self, script: Script | None) -> None:
        """Answer every other turn of the run with `script` (None: generate)."""
        if script is not None and not isinstance(script, Script):
            raise TypeError(f"expected a Script, got {type(script).__name__}")
        with self._lock:
            self._fixed = script

    def pick(self, prompt: str, model: str) -> Script | None:
        """The script for a turn, consuming a queued script or one use of a matcher."""
        with self._lock:
            if self._queued:
                return self._queued.popleft()
            for i, matcher in enumerate(self._matchers):
                if not matcher.matches(prompt, model):
                    continue
                left = matcher.lifetime.spend()
                if left is None:
                    del self._matchers[i]
                elif left is not matcher.lifetime:
                    self._matchers[i] = replace(matcher, lifetime=left)
                return matcher.script
            return self._fixed

    def reset(self) -> None:
        """Forget every script."""
        with self._lock:
            self._queued.clear()
            self._matchers.clear()
            self._fixed = None

    @property
    def pending(self) -> int:
        """How many queued scripts are still waiting for a turn."""
        with self._lock:
            return len(self._queued)

    def snapshot(self) -> BookState:
        """The current state, to put back later with `restore`."""
        with self._lock:
            return BookState(tuple(self._queued), tuple(self._matchers), self._fixed)

    def restore(self, state: BookState) -> None:
        """Go back to a state taken by `snapshot`."""
        with self._lock:
            self._queued = deque(state.queued)
            self._matchers = list(state.matchers)
            self._fixed = state.fixed

    def __deepcopy__(self, memo: dict[int, Any]) -> ScriptBook:
        # Scripts are immutable, so a copy of the book needs only its own lock and lists.
        book = ScriptBook()
        book.restore(self.snapshot())
        return book
