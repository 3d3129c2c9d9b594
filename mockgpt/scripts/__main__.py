"""`python -m mockgpt.scripts`: rewrite the script format's schema files.

`schemas/admin/script.json`, `fault_in_stream.json` and `http_error.json` are
written from the shapes in `mockgpt.scripts.format`, never by hand; a test
fails when the committed files differ from what this writes.
"""

from __future__ import annotations

import sys

from mockgpt._resources import schemas_dir
from mockgpt.scripts.format import write_schema_files


def main() -> None:
    for path in write_schema_files(schemas_dir()):
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
