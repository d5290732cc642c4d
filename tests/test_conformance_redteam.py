"""The suite against broken servers it was not written for: it fails at least 95% of them, passes correct ones.

Issue 10's acceptance, measured in its two settings (see `tests/redteam.py`): the mock behind an
evil proxy with `--fixtures mock`, and fakejobs broken in new ways (`tests/brokenjobs.py`) through
a `command:` fixture with a forbidden user. Every variant runs once, in child processes, for the
whole module; `JOBS_REDTEAM=all` measures the extended catalogue too.
"""

from __future__ import annotations

import os

import pytest

from tests import redteam

DETECTION = 0.95


@pytest.fixture(scope="module")
def measured() -> list[redteam.Measurement]:
    """Every chosen variant of both settings, measured once."""
    return redteam.measure_all(redteam.chosen(everything=os.environ.get("JOBS_REDTEAM") == "all"))


@pytest.mark.parametrize("setting", list(redteam.SETTINGS))
def test_the_suite_fails_at_least_95_percent_of_new_breakages(
    setting: str, measured: list[redteam.Measurement]
) -> None:
    broken = [m for m in measured if m.setting == setting and not m.harmless]
    caught = [m for m in broken if m.detected]
    assert len(broken) >= 30, f"too few breakages measured in {setting}"
    assert len(caught) >= DETECTION * len(broken), redteam.table(broken)
    assert all(m.exit_code in (1, 2) for m in caught), redteam.table(caught)


@pytest.mark.parametrize("setting", list(redteam.SETTINGS))
def test_the_suite_passes_correct_servers_and_harmless_differences(
    setting: str, measured: list[redteam.Measurement]
) -> None:
    harmless = [m for m in measured if m.setting == setting and m.harmless]
    assert {m.name for m in harmless} >= {redteam.CORRECT}
    assert len(harmless) >= 5
    assert [m for m in harmless if m.exit_code != 0] == [], redteam.table(harmless)


def test_a_breakage_is_caught_by_a_check_not_a_crash_of_the_suite(measured: list[redteam.Measurement]) -> None:
    crashed = [m for m in measured if "the suite failed" in m.error]
    assert crashed == [], redteam.table(crashed)
