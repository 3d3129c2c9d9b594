"""The contract run's figures, printed at the end of the session."""

from __future__ import annotations

from collections import Counter

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    operations = 0
    statuses: Counter[int] = Counter()
    for report in terminalreporter.stats.get("passed", []):
        answered = [
            value for name, value in report.user_properties if name == "contract_case_status"
        ]
        if answered and report.when == "call":
            operations += 1
            statuses.update(answered)
    if operations:
        by_class = Counter(f"{status // 100}xx" for status in statuses.elements())
        spread = ", ".join(f"{count} {name}" for name, count in sorted(by_class.items()))
        terminalreporter.write_line(
            f"schemathesis: {operations} operations passed, "
            f"{statuses.total()} cases checked ({spread})"
        )
