"""The CI budget by part: test seconds summed per kind of test, printed after the run.

docs/TESTING.md sets a budget for each part; this shows where a run spent its time, so
a part that outgrows its budget is seen in the CI log, not guessed at. Seconds are summed
over setup, call and teardown on every worker (CPU-bound work, so about 2x the wall
time a part adds on two cores).
"""

from __future__ import annotations

from collections import Counter

import pytest

# (part, path prefix or file): first match wins, so the specific ones come first.
PARTS = (
    ("browser (chromium)", "tests/device/live/test_server_page.py"),
    ("browser (chromium)", "tests/convert/cli/test_demo_page.py"),
    ("sshd (deploy)", "tests/device/fleet/test_deploy"),  # and test_deploy_probe.py
    ("sshd (deploy)", "tests/device/fleet/test_ansible.py"),
    ("broker (mosquitto)", "tests/device/events/"),
    ("arm64 root (qemu)", "tests/emulated/"),
    ("demo end to end", "tests/convert/cli/test_demo.py"),
    ("optimize (prune, cluster, QAT)", "tests/convert/optimize/"),
    ("workstation: convert, train, eval", "tests/convert/"),
    ("fault injection", "tests/faults/"),
    ("device unit and integration", "tests/device/"),
    ("house rules, benchmark", "tests/"),
)

seconds: Counter[str] = Counter()
tests: Counter[str] = Counter()


def part_of(nodeid: str) -> str:
    return next((part for part, prefix in PARTS if nodeid.startswith(prefix)), "other")


def record(report: pytest.TestReport) -> None:
    part = part_of(report.nodeid)
    seconds[part] += report.duration
    if report.when == "call":
        tests[part] += 1


def summary_lines() -> list[str]:
    lines = [f"{'part':36} {'tests':>5} {'test seconds':>12}"]
    for part in dict.fromkeys(name for name, _ in PARTS):
        if tests[part] or seconds[part]:
            lines.append(f"{part:36} {tests[part]:5d} {seconds[part]:12.0f}")
    lines.append(f"{'all':36} {sum(tests.values()):5d} {sum(seconds.values()):12.0f}")
    return lines
