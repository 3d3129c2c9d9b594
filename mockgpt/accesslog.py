"""The one line per request on the `mockgpt.access` logger, made cheaply.

A request to the mock costs tens of microseconds, and `Logger.info` alone costs
about as much again: most of it is `LogRecord.__init__` looking up the caller's
file, thread, process and task names for every line. An access line knows all
it needs (the request's method, path, status and time), so it is built as a
lean `LogRecord` that fills those attributes with fixed values and goes through
the logger's handlers as any record does: formatters, filters, pytest's
`caplog` and `--log-format json` see the same fields as before.
"""

from __future__ import annotations

import logging
import os
import threading
import time

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


def log_access(method: str, target: str, status: int, elapsed_ms: float) -> None:
    """Hand one access line to the `mockgpt.access` logger's handlers, if it logs INFO."""
    if access_log.isEnabledFor(logging.INFO):
        access_log.handle(AccessRecord(method, target, status, elapsed_ms))
