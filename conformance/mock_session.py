"""`jobs_mock_session`: a fresh session of one shared jobs-mock for every test, safe under pytest-xdist.

Loaded by the kit's pytest plugin. The mock is the one `--jobs-mock-url URL` (or the environment's
`JOBS_MOCK_URL`; its control token: `--jobs-mock-token` or `JOBS_MOCK_TOKEN`) names, shared by every worker and every test; without either, one mock is started
in this process for the whole run. Each test gets a session of its own (its jobs, clock, faults,
journal, tokens), so tests running in parallel cannot see each other's changes; it is deleted after
the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from mockserver.sessionclient import MockSession

URL_ENV, TOKEN_ENV = "JOBS_MOCK_URL", "JOBS_MOCK_TOKEN"


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--jobs-mock-url`: the shared mock that `jobs_mock_session` opens sessions on (its token: `--jobs-mock-token`)."""
    group = parser.getgroup("jobs-mock-session", "sessions of a shared jobs-mock (the jobs_mock_session fixture)")
    group.addoption(
        "--jobs-mock-url",
        help=f"the jobs-mock every test's session lives on (default: ${URL_ENV}, or one started here)",
    )


@pytest.fixture(scope="session")
def jobs_mock_url(pytestconfig: pytest.Config) -> Iterator[str]:
    """The shared mock's base URL: given, or a mock started for this run (per xdist worker)."""
    url = pytestconfig.getoption("jobs_mock_url") or os.environ.get(URL_ENV)
    if url:
        yield url.rstrip("/")
        return
    from mockserver.testing import LiveMock  # the whole mock: imported only when this run starts one

    with LiveMock() as mock:
        yield mock.url


@pytest.fixture
def jobs_mock_session(
    jobs_mock_url: str, pytestconfig: pytest.Config, request: pytest.FixtureRequest
) -> Iterator[MockSession]:
    """A new session for this test: send its requests to `.url`, or with `.headers`; `.control(...)` shapes it."""
    token = pytestconfig.getoption("jobs_mock_token") or os.environ.get(TOKEN_ENV)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    session = MockSession.create(jobs_mock_url, f"{worker}-{uuid.uuid4().hex[:12]}", token=token)
    yield session
    session.delete()
