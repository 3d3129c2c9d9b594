"""Real traffic against the catalogue: drift checks and fixture imports from HAR captures.

A HAR file (what a browser's developer tools save) holds requests and answers
as they really went. Two things are done with one:

* `check_har` matches each entry to a catalogue route (method and path
  template; host and query ignored) and compares its bodies with the route's
  schemas: the request body with the request schema, the answer with the
  schema of its status and, for event streams, every event's JSON data with
  the stream's event schema. It reports per route what drifted: required
  fields gone, fields nobody declared, changed types, values the schema
  refuses, new typed frames and `event:` names, undocumented statuses, and
  entries no route matches. A field counts as new when neither the schema nor
  mockgpt's own answers (its fixtures and the streams it sends) carry it at
  that place, so a capture of mockgpt itself shows no drift.
* `import_har` turns the entries it can match into fixtures laid out like the
  package's `fixtures/` tree, and conversation streams into script files, with
  every credential and personal value replaced by a fake one (`Sanitiser`).
  `Config(fixtures=DIR)` / `mockgpt serve --fixtures DIR` serves them.

The modules, bottom first: `reading` (HAR entries and event streams), `walker`
(a value against its schema), `drift` (the check and its report), `sanitise`,
`streams` (scripts from captured streams) and `importing`.
"""

from __future__ import annotations

from mockgpt.har.drift import Report, RouteReport, check_exchanges, check_har
from mockgpt.har.importing import ImportResult, import_exchanges, import_har
from mockgpt.har.reading import Exchange, HarError, SseEvent, parse_sse, read_har
from mockgpt.har.sanitise import Sanitiser
from mockgpt.har.streams import script_from_stream
from mockgpt.har.walker import Drift

__all__ = [
    "Drift",
    "Exchange",
    "HarError",
    "ImportResult",
    "Report",
    "RouteReport",
    "Sanitiser",
    "SseEvent",
    "check_exchanges",
    "check_har",
    "import_exchanges",
    "import_har",
    "parse_sse",
    "read_har",
    "script_from_stream",
]
