"""`python -m mockgpt.scripts`: rewrite the script format's schema files.

`schemas/admin/script.json`, `fault_in_stream.json` and `http_error.json` are
written from the shapes in `mockgpt.scripts.format`, and never by hand; a test
fails when the committed files differ from what this writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import cast

from mockgpt._resources import schemas_dir
from mockgpt.scripts.format import FAULT, HTTP_ERROR, SCRIPT
from mockgpt.scripts.keys import Shape

#: The shapes with a schema file of their own.
FILED: tuple[Shape, ...] = (SCRIPT, FAULT, HTTP_ERROR)


def schema_text(shape: Shape) -> str:
    """A shape's schema file as it is committed."""
    return json.dumps(shape.schema(), indent=2) + "\n"


def write_schema_files(root: Path) -> list[Path]:
    """Write the filed shapes' schemas under `root`; the paths written."""
    written = []
    for shape in FILED:
        path = root / cast(str, shape.file)
        path.write_text(schema_text(shape), encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    for path in write_schema_files(schemas_dir()):
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
