"""The wheel carries the data the package needs, and works away from the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mockgpt import load_catalogue
from mockgpt._resources import fixtures_dir, schemas_dir

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    [built] = out.glob("mockgpt-*.whl")
    return built


def test_wheel_carries_schemas_fixtures_and_catalogue(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "mockgpt/py.typed" in names
    assert "mockgpt/catalogue.json" in names
    for folder, root in (("schemas", schemas_dir()), ("fixtures", fixtures_dir())):
        for path in root.rglob("*"):
            if path.is_file():
                relative = path.relative_to(root).as_posix()
                assert f"mockgpt/_data/{folder}/{relative}" in names, relative
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "mockgpt = mockgpt.cli:main" in text


def test_installed_wheel_serves_from_its_own_data(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    script = (
        "import mockgpt, mockgpt._resources as r;"
        "print(mockgpt.__file__); print(r.schemas_dir()); print(len(mockgpt.load_catalogue()))"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    module, schemas, count = result.stdout.split()
    assert module.startswith(str(target))
    assert schemas.startswith(str(target))
    assert int(count) == len(load_catalogue())
