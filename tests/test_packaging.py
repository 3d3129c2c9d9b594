"""The wheel carries the data the package needs, and works away from the checkout."""

from __future__ import annotations

import os
import re
import shlex
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


def _readme_install_line() -> str:
    """The README's line for installing mockgpt into another project from its repository."""
    readme = (ROOT / "README.md").read_text()
    lines = [line for line in readme.splitlines() if line.startswith('pip install "mockgpt @ git+')]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.slow
def test_the_readme_install_line_and_pytest_examples_work_in_another_project(
    tmp_path: Path,
) -> None:
    # The README's own line, with the repository URL pointing at this checkout: pip
    # clones it afresh (so only what is committed counts, as for any user) and builds
    # the wheel. Dependencies are already installed here, and the network may not be.
    if not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout of mockgpt: the README line installs from its URL")
    line = _readme_install_line()
    assert "<repo URL>" in line
    requirement = shlex.split(line.replace("<repo URL>", f"file://localhost{ROOT}"))[2]
    site = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    install += ["--no-build-isolation", "--target", str(site), requirement]
    subprocess.run(install, check=True, capture_output=True, text=True, cwd=tmp_path)
    # A throwaway project: no conftest, no checkout on the path, just the README's tests.
    project = tmp_path / "project"
    project.mkdir()
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### 4. Test your client with pytest", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    (project / "test_readme.py").write_text(example)
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import mockgpt; print(mockgpt.__file__)"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(str(site))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_readme.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    tests = re.findall(r"^(?:async )?def test_", example, re.MULTILINE)
    assert len(tests) == 6
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"{len(tests)} passed" in run.stdout
