"""The contract suites' shared settings, and the run's figures printed at the end.

The SDK suites drive the plugin's `mockgpt` fixture: one live server per session
(per xdist worker), a fresh mock for every test, and any error inside the mock
fails the test that caused it.
"""

from __future__ import annotations

from collections import Counter

import pytest

from mockgpt import Config


@pytest.fixture(scope="session")
def mockgpt_config() -> Config:
    """Every answer is checked against its own schema, on a virtual clock."""
    return Config(seed=0, clock="virtual", validate_responses=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # The pinned and the unpinned run of each operation are counted apart.
    operations: Counter[str] = Counter()
    statuses: dict[str, Counter[int]] = {"pinned": Counter(), "unpinned": Counter()}
    for report in terminalreporter.stats.get("passed", []):
        answered = [
            value for name, value in report.user_properties if name == "contract_case_status"
        ]
        if answered and report.when == "call":
            run = "unpinned" if "_unpinned" in report.nodeid else "pinned"
            operations[run] += 1
            statuses[run].update(answered)
    for run in ("pinned", "unpinned"):
        if operations[run]:
            by_class = Counter(f"{status // 100}xx" for status in statuses[run].elements())
            spread = ", ".join(f"{count} {name}" for name, count in sorted(by_class.items()))
            terminalreporter.write_line(
                f"schemathesis ({run}): {operations[run]} operations passed, "
                f"{statuses[run].total()} cases checked ({spread})"
            )
