"""The package's imports point down the layers of ARCHITECTURE.md and form no ring.

The checker reads source with `ast` (nothing is imported), so an import inside
a function or under `TYPE_CHECKING` counts as much as one at the top. The layer
table is read from ARCHITECTURE.md itself, so the page and the tree cannot part.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mockgpt"
ARCHITECTURE = ROOT / "ARCHITECTURE.md"

_LAYER_LINE = re.compile(r"^\d+\. \*\*(\w+)\*\*")
_NAME = re.compile(r"`([\w.]+)`")
_LAZY = re.compile(r"#\s*lazy:\s*\S")
LONGEST_MODULE_LINES = 600


@dataclass(frozen=True, slots=True)
class Import:
    """One import of a package module, where it stands."""

    source: str  # the importing module
    target: str  # the imported module
    line: int
    in_function: bool
    marked_lazy: bool


def read_layers(text: str) -> list[tuple[str, list[str]]]:
    """The numbered layer lines of an architecture page, bottom first, with their names."""
    layers: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        found = _LAYER_LINE.match(line)
        if found is not None:
            names = _NAME.findall(line.partition(":")[2])
            layers.append((found.group(1), names))
    return layers


def module_names(package: Path) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def layer_of(module: str, root: str, layers: list[tuple[str, list[str]]]) -> int | None:
    """The index of the layer claiming `module`: the longest listed name that is the
    module or a package holding it; the root package is listed by its own name."""
    best: tuple[int, int] | None = None
    for index, (_, names) in enumerate(layers):
        for name in names:
            full = root if name == root else f"{root}.{name}"
            holds = module == full or (full != root and module.startswith(full + "."))
            if holds and (best is None or len(full) > best[0]):
                best = (len(full), index)
    return None if best is None else best[1]


def _resolve(
    node: ast.ImportFrom, module: str, is_package: bool, modules: set[str]
) -> Iterator[str]:
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        stem = ".".join([*base, node.module] if node.module else base)
    else:
        stem = node.module or ""
    for alias in node.names:
        child = f"{stem}.{alias.name}"
        yield child if child in modules else stem


def _module_imports(module: str, path: Path, names: set[str], root: str) -> Iterator[Import]:
    source = path.read_text()
    lines = source.splitlines()
    is_package = path.name == "__init__.py"
    pending: list[tuple[ast.AST, bool]] = [(ast.parse(source, str(path)), False)]
    while pending:
        node, in_function = pending.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                if isinstance(child, ast.Import):
                    targets = [alias.name for alias in child.names]
                else:
                    targets = list(_resolve(child, module, is_package, names))
                marked = bool(_LAZY.search(lines[child.lineno - 1]))
                for target in targets:
                    if target == root or target.startswith(root + "."):
                        yield Import(module, target, child.lineno, in_function, marked)
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            pending.append((child, inner))


def read_imports(package: Path) -> list[Import]:
    """Every import of one of the package's modules by another, anywhere in the code."""
    modules = module_names(package)
    found: list[Import] = []
    for module, path in modules.items():
        found += _module_imports(module, path, set(modules), package.name)
    return sorted(found, key=lambda item: (item.source, item.line))


def upward(imports: list[Import], root: str, layers: list[tuple[str, list[str]]]) -> list[str]:
    """Imports from a lower layer of a module in a higher one."""
    wrong = []
    for item in imports:
        low, high = layer_of(item.source, root, layers), layer_of(item.target, root, layers)
        if low is not None and high is not None and high > low:
            wrong.append(
                f"{item.source}:{item.line} ({layers[low][0]}) imports "
                f"{item.target} ({layers[high][0]})"
            )
    return wrong


def unplaced(package: Path, layers: list[tuple[str, list[str]]]) -> list[str]:
    return [m for m in module_names(package) if layer_of(m, package.name, layers) is None]


def cycles(imports: list[Import]) -> list[list[str]]:
    """The groups of modules that reach each other through imports (Tarjan's components
    of more than one module, or a module importing itself), each sorted."""
    graph: dict[str, set[str]] = {}
    for item in imports:
        graph.setdefault(item.source, set()).add(item.target)
        graph.setdefault(item.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph[node]:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(groups)


def unmarked_lazy(imports: list[Import]) -> list[str]:
    return [
        f"{item.source}:{item.line} imports {item.target} inside a function"
        for item in imports
        if item.in_function and not item.marked_lazy
    ]


def long_modules(package: Path, limit: int) -> list[str]:
    return [
        f"{name}: {len(path.read_text().splitlines())} lines"
        for name, path in module_names(package).items()
        if len(path.read_text().splitlines()) > limit
    ]


# -- the package -------------------------------------------------------------------

LAYERS = read_layers(ARCHITECTURE.read_text())
IMPORTS = read_imports(PACKAGE)


def test_the_architecture_page_lists_the_six_layers_bottom_first() -> None:
    assert [name for name, _ in LAYERS] == ["data", "world", "wire", "http", "control", "tools"]


def test_every_module_has_a_layer_on_the_architecture_page() -> None:
    assert unplaced(PACKAGE, LAYERS) == []


def test_every_name_on_the_architecture_page_is_a_module() -> None:
    modules = module_names(PACKAGE)
    listed = [name for _, names in LAYERS for name in names]
    assert [n for n in listed if n != "mockgpt" and f"mockgpt.{n}" not in modules] == []


def test_no_import_points_up_a_layer() -> None:
    assert upward(IMPORTS, "mockgpt", LAYERS) == []


def test_no_modules_import_each_other() -> None:
    assert cycles(IMPORTS) == []


def test_imports_inside_functions_say_why() -> None:
    assert unmarked_lazy(IMPORTS) == []


def test_the_lazy_imports_are_few_and_listed() -> None:
    """The list a reviewer reads: each is there for start-up time or an optional extra."""
    lazy = sorted({f"{i.source} -> {i.target}" for i in IMPORTS if i.in_function})
    assert lazy, "expected the command line's deferred imports"
    assert all(i.marked_lazy for i in IMPORTS if i.in_function)
    # 14 for the command line and optional extras; 5 for start-up, so that a GET loads
    # no stream engine: a streamed chat completion (platform), the first web turn and
    # a handed-off one (service), the Responses API (app); and a recording's reader
    # only with a fixtures folder (app).
    assert len(lazy) <= 19, lazy


def test_no_module_is_over_600_lines() -> None:
    assert long_modules(PACKAGE, LONGEST_MODULE_LINES) == []


# -- the checker, on a planted package ---------------------------------------------

_PLANTED_PAGE = """
1. **base**: `low`, `util`
2. **top**: `high`, `pkg`
"""


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return package


def test_the_checker_finds_an_upward_import_even_one_only_for_types(tmp_path: Path) -> None:
    package = _plant(
        tmp_path,
        {
            "low.py": """
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from pkg.high import Thing
            """,
            "high.py": "from pkg import low\n",
            "util.py": "",
        },
    )
    layers = read_layers(_PLANTED_PAGE)
    found = upward(read_imports(package), "pkg", layers)
    assert found == ["pkg.low:4 (base) imports pkg.high (top)"]


def test_the_checker_finds_a_ring_through_a_function_level_import(tmp_path: Path) -> None:
    package = _plant(
        tmp_path,
        {
            "low.py": "from pkg.util import helper\n",
            "util.py": """
                def helper():
                    from pkg.low import thing  # lazy: planted
                    return thing
            """,
            "high.py": "import pkg.low\n",
        },
    )
    assert cycles(read_imports(package)) == [["pkg.low", "pkg.util"]]


def test_the_checker_finds_a_relative_import_and_a_module_named_in_from(tmp_path: Path) -> None:
    package = _plant(
        tmp_path,
        {"low.py": "from . import high\n", "high.py": "from pkg import low\n", "util.py": ""},
    )
    imports = read_imports(package)
    assert {(i.source, i.target) for i in imports} == {
        ("pkg.low", "pkg.high"),
        ("pkg.high", "pkg.low"),
    }
    assert cycles(imports) == [["pkg.high", "pkg.low"]]


def test_the_checker_wants_a_reason_on_an_import_inside_a_function(tmp_path: Path) -> None:
    package = _plant(
        tmp_path,
        {
            "high.py": """
                def late():
                    from pkg import low
                    from pkg import util  # lazy: only the slow path needs it
                    import json
                    return low, util, json
            """,
            "low.py": "",
            "util.py": "",
        },
    )
    assert unmarked_lazy(read_imports(package)) == ["pkg.high:3 imports pkg.low inside a function"]


def test_the_checker_finds_an_unplaced_module_and_a_long_one(tmp_path: Path) -> None:
    package = _plant(
        tmp_path,
        {"low.py": "", "high.py": "", "util.py": "", "extra.py": "x = 1\n" * 601},
    )
    assert unplaced(package, read_layers(_PLANTED_PAGE)) == ["pkg.extra"]
    assert long_modules(package, 600) == ["pkg.extra: 601 lines"]


@pytest.mark.parametrize(
    ("module", "layer"),
    [("pkg", 1), ("pkg.low", 0), ("pkg.high", 1), ("pkg.lowly", None)],
)
def test_a_layer_claims_a_module_by_its_name_not_by_a_prefix_of_it(
    module: str, layer: int | None
) -> None:
    assert layer_of(module, "pkg", read_layers(_PLANTED_PAGE)) == layer
