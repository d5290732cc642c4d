"""Shared fixtures: one live, strict mock per session on a loopback port, reset for every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from mockserver.config import MockConfig
from mockserver.domain.clock import Clock
from mockserver.testing import LiveMock
from tests.helpers import fresh

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
