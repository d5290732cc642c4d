"""The suite inside a user's own pytest session; inactive without --jobs-base-url.

    pytest --pyargs conformance.test_deployment --jobs-base-url http://localhost:8080 --jobs-fixtures mock

Registered through the `pytest11` entry point, so installing the kit is enough. Every CLI option
has a `--jobs-*` twin, built from the one table in `options.py` and validated by the same code.

Collection only reads the spec: one test for reaching the deployment, one per check of the auth
and lifecycle phases, one per operation for the schema phase, and with `--jobs-require` one for the
coverage gate, last. The suite runs at test time, each phase in the first test that needs it,
never during collection or session start: schemathesis builds Hypothesis strategies, and doing that
inside pytest's initialisation is what made Hypothesis warn once per strategy. A test's duration is
the time the run spent on its check (as the CLI's JUnit has it), not the whole phase that ran inside
it; its JUnit class name is `jobs-conformance.<phase>`.

Exit codes are pytest's: 0 every check passed or skipped, 1 a check failed or the coverage gate was
missed (a setup error fails every test with its message), 4 an option pytest could not take.

It also ships `jobs_mock`, for a user's own tests of a frontend or client: a live mock (a
`mockserver.testing.LiveMock` on a loopback port) started once per session and reset before each
test, with `jobs_mock.url`, `jobs_mock.admin` (a logged-in requests session) and the journal's
assertions (`jobs_mock.assert_called("abortJob", job=..., times=1)`). Override the
`jobs_mock_config` fixture to start it differently (a MockConfig). It takes none of the options.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from conformance.options import OPTIONS, OptionError, Options, argparse_settings, parse
from conformance.storage import keep_hypothesis_out_of_the_cwd

if TYPE_CHECKING:
    from conformance.runner import Run
    from jobspec import Spec
    from mockserver.config import MockConfig
    from mockserver.testing import LiveMock
    from verdicts.results import CheckResult

pytest_plugins = ["conformance.mock_session"]  # the jobs_mock_session fixture: a fresh mock session per test
PREFIX = "--jobs-"
CHECK_FIXTURE = "jobs_check"
RUN_KEY = pytest.StashKey["Run"]()
OPTIONS_KEY = pytest.StashKey[Options]()
SPEC_KEY = pytest.StashKey["Spec"]()  # the spec the options name, read once they are validated
SECONDS_KEY = pytest.StashKey[float]()  # the time the run spent on a test's check, its reported duration
OTHER = "(other checks)"  # an item for results of a phase that no item names
TOOL = "jobs-conformance"  # JUnit's class names, as the CLI's JUnit has them: jobs-conformance.<phase>
# The class name is set through pytest's `record_xml_attribute` (the nodeid of a test in an installed package names
# no file, so pytest's own would be empty): an experimental fixture, and one its junit_family does not expect.
QUIET_JUNIT = (
    pytest.mark.filterwarnings("ignore:record_xml_attribute is an experimental:pytest.PytestExperimentalApiWarning"),
    pytest.mark.filterwarnings("ignore:record_xml_attribute is incompatible:pytest.PytestWarning"),
)
QUIET_TLS = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # --jobs-insecure asked


def pytest_addoption(parser: pytest.Parser) -> None:
    """The suite's options, prefixed `--jobs-`."""
    group = parser.getgroup("jobs-conformance", "conformance of a Nick jobs API deployment")
    for option in OPTIONS:
        settings = argparse_settings(option)
        if option.name == "base_url":
            settings["help"] += "; the conformance tests skip without it"
        group.addoption(PREFIX + option.name.replace("_", "-"), dest=f"jobs_{option.name}", **settings)


def pytest_configure(config: pytest.Config) -> None:
    """Validate the options as the CLI does, the spec they name read; a wrong one stops pytest before collection.

    Hypothesis is told to keep its files out of the current directory (as the CLI tells it), until the session ends.
    """
    if not config.getoption("jobs_base_url"):
        return
    values = {option.name: config.getoption(f"jobs_{option.name}") for option in OPTIONS}
    try:
        options = parse(values, flag_prefix=PREFIX)
    except OptionError as exc:
        raise pytest.UsageError(f"jobs-conformance: {exc}") from None
    from conformance.client import SetupError
    from conformance.runner import load

    try:
        config.stash[SPEC_KEY] = load(options)
    except SetupError as exc:
        raise pytest.UsageError(f"jobs-conformance: {exc}") from None
    config.stash[OPTIONS_KEY] = options
    config.add_cleanup(keep_hypothesis_out_of_the_cwd())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per check the spec implies (reading the spec only; nothing is sent yet)."""
    if CHECK_FIXTURE not in metafunc.fixturenames:
        return
    options = metafunc.config.stash.get(OPTIONS_KEY, None)
    if options is None:
        skip = pytest.mark.skip(reason=f"pass {PREFIX}base-url URL to check a deployment")
        metafunc.parametrize(CHECK_FIXTURE, [pytest.param(None, marks=skip, id="no-deployment")])
        return
    keys = expected_items(options, metafunc.config.stash[SPEC_KEY])
    metafunc.parametrize(CHECK_FIXTURE, keys, ids=[f"{phase}:{group}" for phase, group in keys])


def expected_items(options: Options, spec: Spec) -> list[tuple[str, str]]:
    """(phase, group) of every test: a check name, or an operation for the schema phase."""
    from conformance.phases import PHASES
    from conformance.runner import chosen
    from verdicts.report import GATE_CASE, GATE_SUITE
    from verdicts.results import SETUP

    keys = [(SETUP, "reachable and logged in")]
    for phase in chosen(options):
        keys += [(phase, group) for group in PHASES[phase].groups(spec)] + [(phase, OTHER)]
    if options.require is not None:
        keys.append((GATE_SUITE, GATE_CASE))
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

    report = run.until(phase)  # SETUP: reach the deployment and log in, no phase yet
    if report.error:
        pytest.fail(f"jobs-conformance could not run to the end: {report.error}", pytrace=False)
    mine = [r for r in report.results.of_phase(phase) if group in (r.name, r.subject) or phase == SETUP]
    if group == OTHER:
        known = set(PHASES[phase].groups(run.spec))
        mine = [r for r in report.results.of_phase(phase) if r.name not in known and r.subject not in known]
    return mine


def judge(
    run: Run, key: tuple[str, str], test: pytest.Item, record_xml_attribute: Callable[[str, object], None]
) -> None:
    """The verdict of one test: its check's results (running the suite as far as they need), or the coverage gate.

    Fails with the findings, skips with why the check was not exercised; the test's duration becomes the time spent
    on its check, its JUnit class name `jobs-conformance.<phase>`.
    """
    from verdicts.report import GATE_CASE, GATE_SUITE
    from verdicts.results import Outcome

    phase, group = key
    record_xml_attribute("classname", f"{TOOL}.{phase}")
    if key == (GATE_SUITE, GATE_CASE):
        test.stash[SECONDS_KEY] = 0.0  # judging the gate takes no time; the phases it waited for are their checks'
        _gate(run)
        return
    results = results_of(run, phase, group)
    test.stash[SECONDS_KEY] = sum(result.seconds or 0.0 for result in results)
    failed = [r for r in results if r.outcome is Outcome.FAILED]
    if failed:
        pytest.fail("\n\n".join(_failure(result) for result in failed), pytrace=False)
    if results and all(r.outcome is Outcome.NOT_EXERCISED for r in results):
        pytest.skip(f"not exercised: {'; '.join(sorted({r.reason for r in results}))}")


def _gate(run: Run) -> None:
    report = run.until()
    if report.error:
        pytest.fail(f"jobs-conformance could not run to the end: {report.error}", pytrace=False)
    failure = report.gate_failure()
    if failure:
        pytest.fail(failure, pytrace=False)


def _failure(result: CheckResult) -> str:
    findings = [f.message + (f"\nreproduce: {f.curl}" if f.curl else "") for f in result.findings]
    return f"{result.phase}: {result.title}\n" + "\n".join(filter(None, findings))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A check's test lasts the time the run spent on its check: the phase that ran inside it is the others' too."""
    report = yield
    if report.when == "call" and SECONDS_KEY in item.stash:
        report.duration = item.stash[SECONDS_KEY]
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the report files the `--jobs-junit/--jobs-report/--jobs-markdown` options ask for."""
    run: Any = session.config.stash.get(RUN_KEY, None)
    if run is not None:
        from conformance.cli import write_reports

        write_reports(run.finish(), run.options)


# The mock signs tokens with Nick's short development secret on purpose; PyJWT's warning about it,
# raised in the mock's thread while a test runs, would fail the request under `-W error`.
QUIET_JWT = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that use `jobs_mock` do not see the warning about the mock's own short secret, nor the checks' tests
    pytest's about the fixture that names their JUnit class, nor, under `--jobs-insecure`, urllib3's about every
    request it asked for (which `-W error` made a failure of every request)."""
    options = config.stash.get(OPTIONS_KEY, None)
    quiet = (*QUIET_JUNIT, QUIET_TLS) if options is not None and options.insecure else QUIET_JUNIT
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "jobs_mock" in fixtures:
            item.add_marker(QUIET_JWT)
        if CHECK_FIXTURE in fixtures:
            for mark in quiet:
                item.add_marker(mark)


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
