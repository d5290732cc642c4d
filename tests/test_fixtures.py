"""The `command:` fixture protocol: status appended, last stdout line is the id, failures say why."""

from __future__ import annotations

import shlex
import sys

import pytest

from conformance.fixtures import OUTCOME_ENV, CommandFixtures, FixtureError
from jobspec import load_spec

LIFECYCLE = load_spec().lifecycle


def python(code: str) -> str:
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


def test_the_status_is_the_last_argument_and_the_last_line_is_the_id() -> None:
    fixtures = CommandFixtures(python("import sys; print('making', sys.argv[1]); print('id-' + sys.argv[-1])"), 10)
    assert fixtures.obtain("failed") == "id-failed"
    assert fixtures.owned == {"id-failed"}


def test_jobs_to_watch_are_asked_for_with_the_outcome_in_the_environment() -> None:
    fixtures = CommandFixtures(python(f"import os, sys; print(sys.argv[-1] + '-' + os.environ['{OUTCOME_ENV}'])"), 10)
    made = fixtures.moving(LIFECYCLE)
    assert made == {f"{LIFECYCLE.initial}-{end}": end for end in LIFECYCLE.worker_ends()}
    assert made


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        pytest.param(
            "import sys; sys.stderr.write('quota'); sys.exit(4)", "exited with 4; its stderr: quota", id="exit"
        ),
        pytest.param("pass", "printed no job id", id="silent"),
        pytest.param("import time; time.sleep(5)", "did not finish within 0.5 s", id="slow"),
    ],
)
def test_a_failing_command_is_a_fixture_error_with_its_reason(code: str, reason: str) -> None:
    with pytest.raises(FixtureError, match=reason):
        CommandFixtures(python(code), 0.5).obtain("created")
