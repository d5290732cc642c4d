"""The suite inside a user's own pytest session: one test per check, inactive without --jobs-base-url.

    pytest --pyargs conformance.test_deployment --jobs-base-url http://localhost:8080 --jobs-fixtures mock

Registered through the `pytest11` entry point, so installing the kit is enough.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conformance.report import Report

CHECK_FIXTURE = "jobs_check"
REPORT_KEY = pytest.StashKey["Report"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The suite's options, prefixed `--jobs-`."""
    group = parser.getgroup("jobs-conformance", "conformance of a Nick jobs API deployment")
    group.addoption("--jobs-base-url", help="the deployment to check; the conformance tests skip without it")
    group.addoption("--jobs-spec", type=Path, help="the spec to check against (default: the packaged one)")
    group.addoption("--jobs-login", default="admin")
    group.addoption("--jobs-password", default="admin")
    group.addoption("--jobs-token")
    group.addoption("--jobs-forbidden-login")
    group.addoption("--jobs-forbidden-password")
    group.addoption("--jobs-fixtures", default="none", help="mock, none or command:CMD")
    group.addoption("--jobs-read-only", action="store_true")
    group.addoption("--jobs-allow-destructive", action="store_true")
    group.addoption("--jobs-max-examples", type=int)
    group.addoption("--jobs-seed", type=int)
    group.addoption("--jobs-timeout", type=float)
    group.addoption("--jobs-phases", default="auth,schema,lifecycle", help="comma-separated phases to run")


def _options(config: pytest.Config) -> Any:
    from conformance.target import DEFAULT_MAX_EXAMPLES, DEFAULT_TIMEOUT, Options

    get = config.getoption
    return Options(
        base_url=get("jobs_base_url"),
        spec=get("jobs_spec"),
        login=get("jobs_login"),
        password=get("jobs_password"),
        token=get("jobs_token"),
        forbidden_login=get("jobs_forbidden_login"),
        forbidden_password=get("jobs_forbidden_password"),
        fixtures=get("jobs_fixtures"),
        read_only=get("jobs_read_only"),
        allow_destructive=get("jobs_allow_destructive"),
        max_examples=get("jobs_max_examples") or DEFAULT_MAX_EXAMPLES,
        seed=get("jobs_seed"),
        timeout=get("jobs_timeout") or DEFAULT_TIMEOUT,
        phases=("reachability", *(name.strip() for name in get("jobs_phases").split(",") if name.strip())),
    )


def conformance_report(config: pytest.Config) -> Report:
    """The suite's report for this session, run once; a usage error stops pytest like exit 2."""
    if REPORT_KEY not in config.stash:
        from conformance.client import SetupError
        from conformance.runner import run

        try:
            config.stash[REPORT_KEY] = run(_options(config))
        except SetupError as exc:
            raise pytest.UsageError(f"jobs-conformance: {exc}") from None
    return config.stash[REPORT_KEY]


def pytest_sessionstart(session: pytest.Session) -> None:
    """Run the suite before collection, so a setup error stops pytest with a clear usage error."""
    if session.config.getoption("jobs_base_url"):
        conformance_report(session.config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per check of the run (needs `--jobs-base-url`, else one skipped test)."""
    if CHECK_FIXTURE not in metafunc.fixturenames:
        return
    if not metafunc.config.getoption("jobs_base_url"):
        skip = pytest.mark.skip(reason="pass --jobs-base-url URL to check a deployment")
        metafunc.parametrize(CHECK_FIXTURE, [pytest.param(None, marks=skip, id="no-deployment")])
        return
    results = list(conformance_report(metafunc.config).results)
    ids = [f"{result.phase}:{result.title}" for result in results]
    metafunc.parametrize(CHECK_FIXTURE, results, ids=ids)
