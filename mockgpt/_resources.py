"""Where the data that ships with mockgpt lives.

In a wheel, `schemas/` and `fixtures/` are copied into `mockgpt/_data/`; in a
source checkout (editable install) they stay at the top of the repository.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent


def _locate(name: str) -> Path:
    bundled = _PACKAGE / "_data" / name
    if bundled.is_dir():
        return bundled
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"mockgpt data folder {name!r} not found beside the package")


@cache
def schemas_dir() -> Path:
    return _locate("schemas")


@cache
def fixtures_dir() -> Path:
    return _locate("fixtures")


def catalogue_path() -> Path:
    return _PACKAGE / "catalogue.json"


def read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def fixture_path(relative: str, directory: str | Path | None = None) -> Path:
    """The fixture file `relative`: from `directory` when it holds one, else the built-in one.

    A user's folder is read without leaving it: a file whose resolved path (symlinks
    followed) lies outside `directory` is ignored, so a link in an imported or shared
    folder cannot serve `~/.ssh/id_rsa` as a fixture.
    """
    if directory is not None:
        found = inside(Path(directory), relative)
        if found is not None and found.is_file():
            return found
    return fixtures_dir() / relative


def inside(root: Path, relative: str) -> Path | None:
    """`root / relative` resolved (links followed), or None when that leaves `root`."""
    try:
        base = root.resolve(strict=True)
        target = (base / relative).resolve()
    except (OSError, RuntimeError):  # a missing root, a link loop
        return None
    return target if target.is_relative_to(base) else None
