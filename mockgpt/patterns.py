"""Prompt patterns that cannot stall the server.

A matcher's `prompt_pattern` comes from a test, a script file or the admin API,
and runs against every prompt. Python's `re` backtracks: `^(a+)+$` against 30
`a`s and a `b` takes minutes, holding the event loop. RE2 matches in time linear
in the prompt by construction, so patterns are compiled with it. What RE2 does
not support (backreferences, look-around, possessive quantifiers) is refused up
front with a `ScriptError` naming the construct, rather than matched slowly.
"""

from __future__ import annotations

import re
from typing import Any

from mockgpt.errors import MockGPTError

#: `re` flags RE2 takes as inline flags; any other flag is refused.
_INLINE = {re.IGNORECASE: "i", re.MULTILINE: "m", re.DOTALL: "s"}
#: Memory one compiled pattern may use (RE2 refuses bigger automata).
_MAX_MEMORY = 8 << 20


class PatternError(MockGPTError, ValueError):
    """A prompt pattern that RE2 cannot run."""


class PromptPattern:
    """A regular expression searched for in prompts, in linear time.

    Built from a pattern string or a compiled `re.Pattern` (its `IGNORECASE`,
    `MULTILINE` and `DOTALL` flags carry over). `pattern` and `flags` are those given.
    """

    __slots__ = ("_regex", "flags", "pattern")

    def __init__(self, pattern: str | re.Pattern[str]) -> None:
        flags = 0
        if isinstance(pattern, re.Pattern):
            source, flags = pattern.pattern, int(pattern.flags & ~re.UNICODE)
        else:
            source = pattern
        if not isinstance(source, str):
            raise PatternError("a prompt pattern must be text, not bytes")
        unsupported = flags & ~sum(_INLINE)
        if unsupported:
            names = re.RegexFlag(unsupported).name or str(unsupported)
            raise PatternError(f"prompt pattern flag {names} is not supported (RE2 engine)")
        inline = "".join(letter for flag, letter in _INLINE.items() if flags & flag)
        import re2  # lazy: start-up

        options = re2.Options()
        options.log_errors = False
        options.max_mem = _MAX_MEMORY
        try:
            self._regex: Any = re2.compile(f"(?{inline}){source}" if inline else source, options)
        except re2.error as error:
            reason = error.args[0] if error.args else error
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            raise PatternError(
                f"prompt pattern {source!r} is not supported by the RE2 engine "
                f"(no backreferences or look-around; write \\z for \\Z): {reason}"
            ) from None
        self.pattern = source
        self.flags = flags

    def search(self, prompt: str) -> bool:
        """Whether the pattern occurs in `prompt` (lone surrogates and all)."""
        return self._regex.search(prompt.encode("utf-8", "surrogatepass")) is not None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PromptPattern):
            return NotImplemented
        return (self.pattern, self.flags) == (other.pattern, other.flags)

    def __hash__(self) -> int:
        return hash((self.pattern, self.flags))

    def __repr__(self) -> str:
        return f"PromptPattern({self.pattern!r})"
