"""The suite inside a user's own pytest session; inactive without --jobs-base-url.

    pytest --pyargs conformance.test_deployment --jobs-base-url http://localhost:8080 --jobs-fixtures mock

Registered through the `pytest11` entry point, so installing the kit is enough. Every CLI option
has a `--jobs-*` twin, built from the one table in `options.py` and validated by the same code.

Collection only reads the spec: one test per check of the auth and lifecycle phases, one per
operation for the schema phase, one for reaching the deployment. The suite runs at test time,
each phase in the first test that needs it (so JUnit shows where the time went), never during
collection or session start: schemathesis builds Hypothesis strategies, and doing that inside
pytest's initialisation is what made Hypothesis warn once per strategy.

Exit codes are pytest's: 0 every check passed or skipped, 1 a check failed (a setup error fails
every test with its message), 4 an option pytest could not take.

It also ships `jobs_mock`, for a user's own tests of a frontend or client: a live mock (a
`mockserver.testing.LiveMock` on a loopback port) started once per session and reset before each
test, with `jobs_mock.url`, `jobs_mock.admin` (a logged-in requests session) and the journal's
assertions (`jobs_mock.assert_called("abortJob", job=..., times=1)`). Override the
`jobs_mock_config` fixture to start it differently (a MockConfig). It takes none of the options.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from conformance.options import OPTIONS, OptionError, Options, argparse_settings, parse

if TYPE_CHECKING:
    from conformance.runner import Run
    from mockserver.config import MockConfig
    from mockserver.testing import LiveMock
    from verdicts.results import CheckResult

pytest_plugins = ["conformance.mock_session"]  # the jobs_mock_session fixture: a fresh mock session per test
PREFIX = "--jobs-"
CHECK_FIXTURE = "jobs_check"
RUN_KEY = pytest.StashKey["Run"]()
OPTIONS_KEY = pytest.StashKey[Options]()
OTHER = "(other checks)"  # an item for results of a phase that no item names


def pytest_addoption(parser: pytest.Parser) -> None:
    """The suite's options, prefixed `--jobs-`."""
    group = parser.getgroup("jobs-conformance", "conformance of a Nick jobs API deployment")
    for option in OPTIONS:
        settings = argparse_settings(option)
        if option.name == "base_url":
            settings["help"] += "; the conformance tests skip without it"
        group.addoption(PREFIX + option.name.replace("_", "-"), dest=f"jobs_{option.name}", **settings)


def pytest_configure(config: pytest.Config) -> None:
    """Validate the options as the CLI does; a wrong one stops pytest before collection."""
    if not config.getoption("jobs_base_url"):
        return
    values = {option.name: config.getoption(f"jobs_{option.name}") for option in OPTIONS}
    try:
        config.stash[OPTIONS_KEY] = parse(values, flag_prefix=PREFIX)
    except OptionError as exc:
        raise pytest.UsageError(f"jobs-conformance: {exc}") from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per check the spec implies (reading the spec only; nothing is sent yet)."""
    if CHECK_FIXTURE not in metafunc.fixturenames:
        return
    options = metafunc.config.stash.get(OPTIONS_KEY, None)
    if options is None:
        skip = pytest.mark.skip(reason=f"pass {PREFIX}base-url URL to check a deployment")
        metafunc.parametrize(CHECK_FIXTURE, [pytest.param(None, marks=skip, id="no-deployment")])
        return
    keys = expected_items(options)
    metafunc.parametrize(CHECK_FIXTURE, keys, ids=[f"{phase}:{group}" for phase, group in keys])


def expected_items(options: Options) -> list[tuple[str, str]]:
    """(phase, group) of every test: a check name, or an operation for the schema phase."""
    from conformance.client import SetupError
    from conformance.phases import PHASES
    from conformance.runner import chosen, load
    from verdicts.results import SETUP

    try:
        spec = load(options)
    except SetupError as exc:
        raise pytest.UsageError(f"jobs-conformance: {exc}") from None
    keys = [(SETUP, "reachable and logged in")]
    for phase in chosen(options):
        keys += [(phase, group) for group in PHASES[phase].groups(spec)] + [(phase, OTHER)]
    return keys


@pytest.fixture(scope="session")
def jobs_run(pytestconfig: pytest.Config) -> Run:
    """The suite's run for this session, created once; phases run as the tests ask for them."""
    from conformance.runner import Run

    if RUN_KEY not in pytestconfig.stash:
        pytestconfig.stash[RUN_KEY] = Run(pytestconfig.stash[OPTIONS_KEY])
    return pytestconfig.stash[RUN_KEY]


def results_of(run: Run, phase: str, group: str) -> list[CheckResult]:
    """Run the suite up to `phase` (once) and return the results this test stands for."""
    from conformance.phases import PHASES
    from verdicts.results import SETUP

    report = run.until(None if phase == SETUP else phase)
    if report.error:
        pytest.fail(f"jobs-conformance could not run to the end: {report.error}", pytrace=False)
    mine = [r for r in report.results.of_phase(phase) if group in (r.name, r.subject) or phase == SETUP]
    if group == OTHER:
        known = set(PHASES[phase].groups(run.spec))
        mine = [r for r in report.results.of_phase(phase) if r.name not in known and r.subject not in known]
    return mine


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the report files the `--jobs-junit/--jobs-report/--jobs-markdown` options ask for."""
    run: Any = session.config.stash.get(RUN_KEY, None)
    if run is not None:
        from conformance.cli import write_reports

        write_reports(run.finish(), run.options)


# The mock signs tokens with Nick's short development secret on purpose; PyJWT's warning about it,
# raised in the mock's thread while a test runs, would fail the request under `-W error`.
QUIET_JWT = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use `jobs_mock` do not see the warning about the mock's own short secret."""
    for item in items:
        if "jobs_mock" in getattr(item, "fixturenames", ()):
            item.add_marker(QUIET_JWT)


@pytest.fixture(scope="session")
def jobs_mock_config() -> MockConfig:
    """How `jobs_mock` starts: frozen (no job moves unless a test moves it) and seeded; override to change it."""
    from mockserver.config import MockConfig

    return MockConfig(frozen=True, seed=0)


@pytest.fixture(scope="session")
def jobs_mock_server(jobs_mock_config: MockConfig) -> Iterator[LiveMock]:
    """The session's live mock, on a free loopback port, stopped at the session's end."""
    from mockserver.testing import LiveMock

    with LiveMock(config=jobs_mock_config) as server:
        yield server


@pytest.fixture
def jobs_mock(jobs_mock_server: LiveMock) -> LiveMock:
    """The session's live mock, reset to its starting jobs, clock, faults and an empty journal for this test."""
    jobs_mock_server.reset()
    return jobs_mock_server
