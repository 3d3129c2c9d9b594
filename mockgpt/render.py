"""Fixtures rendered for one seed: each fixture varied once, each answer kept as bytes.

The renderer sits below the handlers and services so that every part that
answers from a fixture (routes, `/v1`, the Responses API) shares one cache.
"""

from __future__ import annotations

import copy
from typing import Any

from mockgpt import errors
from mockgpt._resources import fixture_path, read_json
from mockgpt.catalogue import Route
from mockgpt.fakedata import Varier
from mockgpt.responses import Prepared, json_response
from mockgpt.schemas import schema_errors


class ResponseMismatch(errors.MockGPTError):
    """An answer mockgpt was about to send does not match its own schema."""


class Renderer:
    """The seed's version of every fixture, rendered once."""

    def __init__(self, varier: Varier, *, validate: bool, fixtures: str | None = None) -> None:
        self.varier = varier
        self.validate = validate
        #: A folder whose files replace the built-in fixtures of the same names.
        self.fixtures = fixtures
        self._documents: dict[str, Any] = {}
        self._prepared: dict[tuple[str, int], Prepared] = {}

    def document(self, fixture: str) -> Any:
        """The fixture as this seed's world has it (a fresh copy each call)."""
        found = self._documents.get(fixture)
        if found is None:
            document = read_json(fixture_path(fixture, self.fixtures))
            found = self._documents[fixture] = self.varier.vary(document)
        return copy.deepcopy(found)

    def check(self, schema: str | None, document: Any) -> None:
        """In validating mode, refuse to send a document that breaks its schema."""
        if self.validate and schema is not None:
            problems = schema_errors(schema, document)
            if problems:
                raise ResponseMismatch(f"answer breaks {schema}: {problems[0].message}")

    def prepared(self, route: Route, status: int | None = None) -> Prepared:
        """The route's answer for `status` (default: documented), as ready bytes."""
        spec = route.response(route.status if status is None else status)
        key = (route.key, spec.status)
        found = self._prepared.get(key)
        if found is not None:
            return found
        if spec.fixture is None:
            found = Prepared(spec.status, b"", spec.media)
        elif spec.is_json:
            document = self.document(spec.fixture)
            self.check(spec.schema, document)
            found = json_response(spec.status, document)
        else:
            data = fixture_path(spec.fixture, self.fixtures).read_bytes()
            found = Prepared(spec.status, data, spec.media)
        self._prepared[key] = found
        return found
