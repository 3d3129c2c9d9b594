"""Cutting an answer into the pieces it streams in, as the real service does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from mockgpt.scripts.checks import check_int

# Scripts written without spaces between words: each character is a token.
NO_SPACE_CHARS = (
    "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\u0e00-\u0e7f\U00020000-\U0003134f"
)
# Combining marks stay with the character they modify.
_MARKS = "\u0300-\u036f\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u3099\u309a\ufe00-\ufe0f\u200d"
_LEADING_SPACE = re.compile(r"\s*")


@cache
def _token() -> re.Pattern[str]:
    """Compiled at first use: the character classes take milliseconds to compile, which a
    server's start-up need not pay before its first answer."""
    return re.compile(rf"(?:[{NO_SPACE_CHARS}][{_MARKS}]*|[^\s{NO_SPACE_CHARS}]+)\s*")


def chunk_text(text: str, words: int = 1) -> list[str]:
    """Split `text` into chunks of `words` words that join back to it exactly.

    A word keeps the whitespace after it (leading whitespace goes with the
    first word). In Chinese, Japanese and Thai, which do not separate words
    with spaces, each character counts as a word, the way the real model
    streams them a token at a time.
    """
    check_int("chunk_words", words, minimum=1)
    return list(iter_chunks(text, words))


def iter_chunks(text: str, words: int = 1) -> Iterator[str]:
    """`chunk_text`, one chunk at a time: a stream starts before the text is all cut."""
    if not text:
        return
    lead = _LEADING_SPACE.match(text)
    head = lead.group() if lead else ""
    pending: list[str] = []
    found = False
    for match in _token().finditer(text):
        token = match.group()
        if not found:
            found = True
            token = head + token
        if words == 1:
            yield token
            continue
        pending.append(token)
        if len(pending) == words:
            yield "".join(pending)
            pending = []
    if pending:
        yield "".join(pending)
    elif not found:
        yield text
