"""A Python client generated from spec/jobs.yaml by openapi-python-client drives the live mock.

The generator must run with no warning (a warning means it dropped part of the spec), the package
it writes must import, and its typed calls and error models must work against the mock: log in,
list, get, abort, retry, delete, and the 401, 404 and refusal (400) bodies parsed into their models.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mockserver.config import MockConfig
from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID
from tests.helpers import create

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "spec" / "jobs.yaml"
PACKAGE = "nick_jobs_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated client package, imported from a fresh directory."""
    where = tmp_path_factory.mktemp("python-client")
    config = where / "config.yaml"
    config.write_text(f"package_name_override: {PACKAGE}\nproject_name_override: nick-jobs-client\n")
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # its ruff hook
    run = subprocess.run(
        [str(GENERATOR), "generate", "--path", str(SPEC), "--config", str(config), "--meta", "none"]
        + ["--output-path", str(where / PACKAGE)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def api(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


@pytest.fixture
def anonymous(generated: ModuleType, mock: LiveMock) -> Iterator[Any]:
    """A client without a token."""
    with generated.Client(base_url=mock.url) as client:
        yield client


@pytest.fixture
def admin_client(generated: ModuleType, mock: LiveMock, anonymous: Any) -> Iterator[Any]:
    """A client logged in as admin through the generated login call."""
    models = api("models")
    token = api("api.auth.login").sync(client=anonymous, body=models.Credentials(login="admin", password="admin"))
    assert isinstance(token, models.Token)
    with generated.AuthenticatedClient(base_url=mock.url, token=token.token) as client:
        yield client


def test_generated_client__logs_in_lists_gets_and_changes_jobs(mock: LiveMock, admin_client: Any) -> None:
    models, client = api("models"), admin_client
    jobs = api("api.jobs.get_jobs").sync(client=client)
    assert DOCUMENTED_ID in {str(job.uuid) for job in jobs}
    job = api("api.jobs.get_job").sync(DOCUMENTED_ID, client=client)
    assert isinstance(job, models.JobWithId) and job.title == "Reindex Events"
    running, failed = create(mock, "running")["uuid"], create(mock, "failed")["uuid"]
    assert api("api.jobs.abort_job").sync_detailed(running, client=client).status_code == 204
    assert api("api.jobs.get_job").sync(running, client=client).status == models.JobStatus.ABORTED
    assert api("api.jobs.retry_job").sync_detailed(failed, client=client).status_code == 204
    assert api("api.jobs.get_job").sync(failed, client=client).status == models.JobStatus.CREATED
    assert api("api.jobs.delete_job").sync_detailed(running, client=client).status_code == 204


def test_generated_client__parses_the_typed_error_bodies(
    generated: ModuleType, mock: LiveMock, anonymous: Any, admin_client: Any
) -> None:
    models, client = api("models"), admin_client
    with generated.AuthenticatedClient(base_url=mock.url, token="not-a-token") as stranger:
        refused = api("api.jobs.get_jobs").sync(client=stranger)
    assert isinstance(refused, models.MessageError) and "not authorized" in refused.message
    missing = api("api.jobs.get_job").sync("no-such-job", client=client)
    assert isinstance(missing, models.NotFoundError) and missing.error == "Not found."
    queued = create(mock, "created")["uuid"]
    refused = api("api.jobs.abort_job").sync(queued, client=client)
    assert isinstance(refused, models.AbortRefusedError)
    assert refused.error == f"Job {queued} is created; only a running job can be aborted."
    not_retried = api("api.jobs.retry_job").sync(queued, client=client)
    assert isinstance(not_retried, models.RetryRefusedError)
    assert not_retried.error == f"Job {queued} is created; only a failed job can be retried."
    wrong = api("api.auth.login").sync(client=anonymous, body=models.Credentials(login="admin", password="nope"))
    assert isinstance(wrong, models.InvalidCredentialsError)


def test_generated_client__parses_the_rate_limits_429(generated: ModuleType) -> None:
    models = api("models")
    config = MockConfig(strict=True, rate_limits=(("AUTH_RATE_LIMIT", 1),))
    with LiveMock(config=config) as limited, generated.Client(base_url=limited.url) as client:
        credentials = models.Credentials(login="admin", password="admin")
        assert isinstance(api("api.auth.login").sync(client=client, body=credentials), models.Token)
        answer = api("api.auth.login").sync_detailed(client=client, body=credentials)
        assert answer.status_code == 429 and answer.headers["Retry-After"] == answer.headers["RateLimit-Reset"]
        assert isinstance(answer.parsed, models.RateLimitError)
        assert answer.parsed.message == models.RateLimitErrorMessage.TOO_MANY_AUTHENTICATION_ATTEMPTS
        assert limited.errors() == []
