"""The one line per request, made and written cheaply.

A request to the mock costs tens of microseconds, and going through `logging`
(a `LogRecord`, the logger's handlers, a formatter, a lock) costs about half as
much again. So `mockgpt serve` installs an `AccessWriter`: the line is built
with one f-string and appended to a queue, and a thread of its own writes the
queue out in batches every `LineWriter.INTERVAL` seconds and at exit. The event
loop never waits on the terminal or a full pipe; if the output stays blocked,
lines past `LineWriter.LIMIT` are counted and dropped rather than kept.

Without an installed writer (the library, the pytest fixture) the line goes to
the `mockgpt.access` logger as a lean `LogRecord`, so `caplog` and any handler
a user sets see the usual fields.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from typing import Literal, TextIO

access_log = logging.getLogger("mockgpt.access")

_FORMAT = "%s %s %s %.1fms"
_PROCESS = os.getpid()
_LOGGING_STARTED: float = getattr(logging, "_startTime", time.time())


class AccessRecord(logging.LogRecord):
    """A `LogRecord` for one access line, without the per-line look-ups of the base class."""

    def __init__(self, method: str, target: str, status: int, elapsed_ms: float) -> None:
        # Deliberately not calling LogRecord.__init__: it computes what is set here by hand.
        now = time.time()
        self.name = access_log.name
        self.msg = _FORMAT
        self.args = (method, target, status, elapsed_ms)
        self.levelname = "INFO"
        self.levelno = logging.INFO
        self.pathname = __file__
        self.filename = "accesslog.py"
        self.module = "accesslog"
        self.exc_info = None
        self.exc_text = None
        self.stack_info = None
        self.lineno = 0
        self.funcName = "log_access"
        self.created = now
        self.msecs = int(now * 1000) % 1000 + 0.0
        self.relativeCreated = (now - _LOGGING_STARTED) * 1000
        self.thread = threading.get_ident()
        self.threadName = "mockgpt-server"
        self.processName = "MainProcess"
        self.process = _PROCESS
        self.taskName = None
        # the fields `--log-format json` and `extra=` readers look for
        self.method = method
        self.path = target
        self.status = status
        self.duration_ms = round(elapsed_ms, 2)


class LineWriter:
    """Lines for a text stream, written by a thread of their own in batches.

    `put` is all the caller pays: a length check and a deque append (both safe
    across threads without a lock). The writer thread wakes every `INTERVAL`
    seconds and writes what has queued in one call; `close` writes the rest.
    """

    INTERVAL = 0.1
    #: Lines waiting at most; more are dropped (and counted) while the output is blocked.
    LIMIT = 100_000

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.dropped = 0
        self._reported = 0
        self._lines: deque[str] = deque()
        self._writing = threading.Lock()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mockgpt-log", daemon=True)
        self._thread.start()

    def put(self, line: str) -> None:
        """Queue one line (without its newline)."""
        if len(self._lines) < self.LIMIT:
            self._lines.append(line)
        else:
            self.dropped += 1

    def _run(self) -> None:
        while not self._closing.wait(self.INTERVAL):
            self.flush()
        self.flush()

    def flush(self) -> None:
        """Write every queued line now (from any thread)."""
        with self._writing:
            lines = self._lines
            batch: list[str] = []
            try:
                while True:
                    batch.append(lines.popleft())
            except IndexError:
                pass
            dropped = self.dropped - self._reported
            if dropped:
                self._reported += dropped
                batch.append(f"mockgpt: {dropped} log lines dropped while the output was blocked")
            if batch:
                self._write("\n".join(batch) + "\n")

    def _write(self, text: str) -> None:
        try:
            try:
                self.stream.write(text)
            except UnicodeEncodeError:  # a path with lone surrogates, or a narrow console
                encoding = getattr(self.stream, "encoding", None) or "utf-8"
                self.stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
            self.stream.flush()
        except (OSError, ValueError):
            pass  # the output is gone (closed pipe, closed file): nothing to tell it

    def close(self, timeout: float = 2.0) -> None:
        """Write what is queued and stop the thread (waiting at most `timeout` seconds
        for an output that is blocked)."""
        self._closing.set()
        self._thread.join(timeout)


class AccessWriter:
    """Formats access lines, in mockgpt's text or JSON log format, onto a `LineWriter`.

    The bytes are those `logging` with `--log-format`'s formatter would write:
    text is the message alone; JSON is the same object, with the same keys in the
    same order, as `JsonLogFormatter` makes of an access record.
    """

    def __init__(self, lines: LineWriter, form: Literal["text", "json"] = "text") -> None:
        self.lines = lines
        self.json = form == "json"
        self._second = -1
        self._stamp = ""

    def __call__(self, method: str, target: str, status: int, elapsed_ms: float) -> None:
        message = f"{method} {target} {status} {elapsed_ms:.1f}ms"
        if not self.json:
            self.lines.put(message)
            return
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now))
        if _plain(method) and _plain(target):
            quoted_message, quoted_method, quoted_target = (
                f'"{message}"',
                f'"{method}"',
                f'"{target}"',
            )
        else:
            quoted_message, quoted_method, quoted_target = (
                _quote(message),
                _quote(method),
                _quote(target),
            )
        self.lines.put(
            f'{{"time": "{self._stamp}", "level": "info", "logger": "mockgpt.access", '
            f'"message": {quoted_message}, "method": {quoted_method}, "path": {quoted_target}, '
            f'"status": {status}, "duration_ms": {round(elapsed_ms, 2)!r}}}'
        )


def _plain(text: str) -> bool:
    """Whether JSON writes `text` as it is between quotes (no escapes needed)."""
    return text.isprintable() and '"' not in text and "\\" not in text


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


#: Where access lines go instead of the logger, while `mockgpt serve` runs.
_writer: AccessWriter | None = None


def install(writer: AccessWriter | None) -> AccessWriter | None:
    """Send access lines to `writer` (None: back to the `mockgpt.access` logger);
    the writer it replaces."""
    global _writer
    previous, _writer = _writer, writer
    return previous


def log_access(method: str, target: str, status: int, elapsed_ms: float) -> None:
    """One access line: to the installed writer, else to the `mockgpt.access` logger's
    handlers if that logs INFO."""
    writer = _writer
    if writer is not None:
        writer(method, target, status, elapsed_ms)
    elif access_log.isEnabledFor(logging.INFO):
        access_log.handle(AccessRecord(method, target, status, elapsed_ms))
