"""mockgpt: an offline, high-fidelity mock of the ChatGPT web backend and the OpenAI API."""

from __future__ import annotations

from mockgpt._version import __version__
from mockgpt.app import MockApp, create_app
from mockgpt.catalogue import Catalogue, Route, load_catalogue
from mockgpt.config import Config
from mockgpt.controller import MockGPT
from mockgpt.errors import ConfigError, MockGPTError
from mockgpt.server import LiveServer

__all__ = [
    "Catalogue",
    "Config",
    "ConfigError",
    "LiveServer",
    "MockApp",
    "MockGPT",
    "MockGPTError",
    "Route",
    "__version__",
    "create_app",
    "load_catalogue",
]
