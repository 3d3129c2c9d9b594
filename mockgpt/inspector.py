"""The inspector: one HTML page, shipped in the package, that reads the admin API."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from mockgpt.responses import Prepared

PAGE = Path(__file__).resolve().parent / "inspector.html"


@cache
def inspector_page() -> Prepared:
    body = PAGE.read_bytes()
    return Prepared(
        200,
        body,
        "text/html; charset=utf-8",
        [("cache-control", "no-store"), ("x-content-type-options", "nosniff")],
    )
