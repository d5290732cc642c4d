"""Shared fixtures: one live, strict mock per session on a loopback port, reset for every test; and the tiers.

Plain `pytest` runs the default tier: pyproject.toml's addopts deselect every test marked `extended`, which this
file adds to each test that TIERS (or a marker in its module) puts in another tier. `pytest -m ''` runs everything.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from mockserver.config import MockConfig
from mockserver.domain.clock import Clock
from mockserver.testing import LiveMock
from tests.helpers import fresh

# The tier of a module's tests ("test_x.py") or of one test ("test_x.py::test_name", every parameter of it): what
# needs an outside tool, what takes long, what is timing-sensitive. docs/testing.md says why each is where it is;
# tests/test_tiers.py holds every name here to a test that exists.
TIERS: dict[str, tuple[str, ...]] = {
    # An outside tool.
    "test_docker.py": ("docker",),
    "test_browser.py": ("browser",),
    "test_session_browser.py": ("browser",),
    "test_pictures.py": ("browser",),
    "test_ts_client.py": ("npm",),
    "test_session_ts.py": ("npm",),
    "test_spec_lint.py": ("npm",),
    "test_sharding.py": ("nginx",),
    "test_real_nick.py": ("nick",),
    "test_nick_site.py": ("nick",),
    # Minutes, or a measure of the machine.
    "test_conformance_redteam.py": ("redteam",),
    "test_benchmarks.py": ("benchmark",),
    "test_session_bench.py": ("benchmark",),
    # Processes killed or interrupted where they stand.
    "test_persist.py::test_kill_9_during_a_write_loop_never_leaves_a_broken_file": ("killloop",),
    "test_persist.py::test_with_state_sync_always_kill_9_under_a_write_loop_loses_nothing_acknowledged": ("killloop",),
    "test_persist.py::test_sigterm_and_sigint_save_every_change_before_the_mock_exits": ("killloop", "sigint"),
    "test_conformance_cli.py::test_ctrl_c_in_the_schema_phase_stops_the_helpers_and_gives_no_verdict": (
        "killloop",
        "sigint",
    ),
    "test_conformance_cli.py::test_a_ctrl_c_while_a_helper_starts_still_ends_every_helper": ("killloop", "sigint"),
    "test_conformance_cli.py::test_a_suite_killed_in_the_schema_phase_leaves_no_helper_behind": ("killloop",),
    "test_conformance_cli.py::test_in_the_schema_phase_a_ctrl_c_reaches_the_suite_alone": ("killloop", "sigint"),
    "test_run_ends.py::test_a_signal_ends_the_run_with_every_report_written_marked_interrupted": ("killloop", "sigint"),
    # Ctrl-C, in the default tier: quick.
    "test_conformance_cli.py::test_a_ctrl_c_while_helpers_work_is_noted_and_raised_where_the_suite_waits": ("sigint",),
    "test_proxy_cli.py::test_script__violations_printed_as_they_happen_reports_at_exit_and_exit_1": ("sigint",),
    # Sweeps: a whole suite run for each of many cases (every broken variant, every option of the plugin).
    "test_conformance_variants.py::test_variant__the_suite_fails_naming_the_check": ("slow",),
    "test_plugin.py::test_every_option_takes_effect_through_the_plugin_and_a_wrong_value_is_a_usage_error": ("slow",),
    "test_plugin.py::test_require__a_missed_gate_is_one_failed_test_naming_what_is_missing_in_every_junit_and_a_met_one_passes": (
        "slow",
    ),
    # From 5 to 20 s alone, each beside a quicker test of the same thing in the default tier.
    "test_schemathesis_mock.py": ("slow",),
    "test_runner.py::test_undeclared_methods__never_judged_against_the_packaged_spec_whatever_the_server_answers": (
        "slow",
    ),
    "test_runner.py::test_undeclared_methods__judged_where_a_spec_copy_documents_405": ("slow",),
    "test_runner.py::test_positive_data_acceptance__a_refusal_answered_400_is_no_rejected_valid_request": ("slow",),
    "test_runner.py::test_positive_data_acceptance__a_400_on_get_job_is_still_a_rejected_valid_request": ("slow",),
    "test_runner.py::test_processes__a_defect_of_a_path_counts_once_as_in_one_process": ("slow",),
    "test_runner.py::test_accept_language__every_request_asks_for_english": ("slow",),
    "test_conformance_hostile.py::test_a_schemathesis_probe_without_an_end_is_cut_and_is_a_failed_check": ("slow",),
    "test_conformance_hostile.py::test_a_request_that_times_out_is_a_failed_check_and_the_run_goes_on": ("slow",),
    "test_spec_variants.py::test_documented_405__the_mock_answers_405_there_and_schemathesis_checks_undeclared_methods_only_there": (
        "slow",
    ),
    "test_spec_variants.py::test_locked_refusals": ("slow",),
    "test_spec_variants.py::test_cancel_queued": ("slow",),
    "test_plugin.py::test_checks_run_as_tests_at_run_time_without_warnings_and_fail_naming_the_check": ("slow",),
    "test_proxy.py::test_mock__the_conformance_suite_through_the_proxy_finds_nothing_and_neither_does_the_proxy": (
        "slow",
    ),
    "test_proxy_upstream.py::test_a_request_the_upstream_never_answers__the_others_are_judged_and_counted_meanwhile": (
        "slow",
    ),
    "test_proxy_cli.py::test_script__sigterm_while_the_upstream_never_answers_one_request__the_rest_judged_exit_1": (
        "slow",
    ),
    "test_mock_variants.py::test_a_copy_whose_states_are_named_otherwise_starts_alone_with_jobs_in_its_own_states": (
        "slow",
    ),
    "test_reload.py::test_the_watcher_survives_every_file_it_cannot_use_and_serves_meanwhile": ("slow",),
    "test_run_ends.py::test_a_deployment_hanging_on_one_operation_alone_is_its_failed_checks_and_the_run_goes_on": (
        "slow",
    ),
    "test_conformance_cli.py::test_read_only_against_the_mock_changes_no_job": ("slow",),
    "test_conformance_cli.py::test_fixtures_none_against_the_mock_data_passes_and_says_what_it_could_not_exercise": (
        "slow",
    ),
    "test_runner.py::test_allow_destructive__schemathesis_acts_on_existing_jobs": ("slow",),
    "test_runner.py::test_processes__helpers_share_the_schema_phase_and_their_findings_reach_the_report": ("slow",),
    "test_conveniences.py::test_the_suite_passes_against_the_mock_under_a_content_path": ("slow",),
    "test_reload.py::test_a_reload_reads_and_checks_off_the_event_loop": ("slow",),
    "test_reload.py::test_many_reloads_under_clients_that_never_pause_refuse_and_drop_nothing": ("slow",),
    # Deadlines of a second or less, measured on the wall clock: one at a time.
    "test_connections.py": ("serial",),
    "test_proxy_connections.py": ("serial",),
    "test_faults.py": ("serial",),
    "test_conformance_hostile.py": ("serial",),
    "test_transport.py": ("serial",),
    "test_report.py::test_results__a_check_is_charged_the_time_since_the_record_before_and_absorbs_a_helpers_time": (
        "serial",
    ),
}
# The tiers outside the default one. Under -n a module of the first kind runs on one worker, so that what its
# fixtures make once (an image, a browser, a Nick, the red team's measure) is made once.
ONE_WORKER = ("docker", "browser", "npm", "nginx", "nick", "redteam", "benchmark")
EXTENDED = (*ONE_WORKER, "killloop", "slow")

DOCUMENTED_ID = "a2fe7e07-d54b-435b-9cb0-e12f1f80a589"
DOCUMENTED_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiIsImZ1bGxuYW1lIjoiQWRtaW4iLCJpYXQiOjE2NDkzMTI0NDl9"
    ".RS1Ny_r0v7vIylFfK6q0JVJrkiDuTOh9iG9IL8xbzAk"
)


@pytest.fixture(scope="session")
def live_mock() -> Iterator[LiveMock]:
    """A strict mock with a hand-driven clock: nothing moves unless a test advances time."""
    with LiveMock(config=MockConfig(strict=True, seed=7), clock=Clock(manual=True)) as server:
        yield server


@pytest.fixture
def mock(live_mock: LiveMock) -> Iterator[LiveMock]:
    """The live mock, reset to its starting data; the test fails if the mock reported its own errors meanwhile."""
    yield from fresh(live_mock)


@pytest.fixture
def admin(mock: LiveMock) -> Iterator[requests.Session]:
    """A session logged in as admin, with the mock's URL as `session.base`."""
    with requests.Session() as session:
        token = session.post(f"{mock.url}/@login", json={"login": "admin", "password": "admin"}).json()["token"]
        session.headers["Authorization"] = f"Bearer {token}"
        yield session


def tiers_of(module: str, function: str) -> tuple[str, ...]:
    """The markers TIERS gives the test `function` (its name without parameters) of `module` (a file name)."""
    return TIERS.get(module, ()) + TIERS.get(f"{module}::{function}", ())


def group_of(nodeid: str) -> str | None:
    """The worker group of a test, from its id: "serial", the module of a ONE_WORKER tier, or None (any worker)."""
    path, _, rest = nodeid.partition("::")
    function = rest.partition("[")[0].rpartition("::")[2].partition("@")[0]  # "@": xdist's suffix, pytest < 9.2
    tiers = tiers_of(path.rpartition("/")[2], function)
    if "serial" in tiers:
        return "serial"
    return path if set(tiers) & set(ONE_WORKER) else None


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test's tier markers from TIERS, and `extended` on every test outside the default tier."""
    for item in items:
        for name in tiers_of(item.path.name, getattr(item, "originalname", item.name)):
            item.add_marker(name)
        if {mark.name for mark in item.iter_markers()} & set(EXTENDED):
            item.add_marker("extended")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """--dist loadgroup, each test's group worked out from its id by group_of (a test it leaves alone is grouped by its
    xdist_group mark, where that still works). The mark no longer groups anything from pytest 9.2 on: xdist tells its
    scheduler a test's group by a suffix to the node id, which pytest no longer lets it write
    (pytest-dev/pytest-xdist#1386)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class TierScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid) or super()._split_scope(nodeid)

    return TierScheduling(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: two workers a core, at most 16. The tests mostly wait (for servers, deadlines, child processes): on
    two cores, two workers kept 0.6 of a core busy and took 250 s, four took 190 s."""
    return min(16, 2 * len(os.sched_getaffinity(0)))


@pytest.fixture(autouse=True)
def sigint_at_its_default(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test marked `sigint` runs with Python's SIGINT handler, so that what it starts inherits SIGINT at its default
    (a test run started in the background, `nohup pytest &`, has it ignored, and every process it starts with it)."""
    if request.node.get_closest_marker("sigint") is None or signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
