"""The contract run's figures, printed at the end of the session."""

from __future__ import annotations

from collections import Counter

import pytest


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
