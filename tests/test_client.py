"""The suite's HTTP client: records without secrets, curl lines that really replay, one base URL only."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conformance.client import Client, SetupError
from conformance.transport import BoundedAdapter
from tests.fakejobs import serve


def client(url: str, timeout: float = 5) -> Client:
    return Client(url, adapter=BoundedAdapter(timeout, 1 << 20))


def test_tokens_are_recorded_as_variables_and_the_curl_line_replays_with_them() -> None:
    with serve() as server:
        suite = client(server.url)
        suite.token = suite.login("/@login", "admin", "admin")
        suite.keep_secret(suite.token, "TOKEN")
        exchange = suite.call("GET", "/@jobs")
        assert exchange.response.status == 200
        assert suite.token not in repr(exchange.request) and suite.token not in exchange.request.curl()
        assert exchange.request.headers["Authorization"] == "Bearer $JOBS_TOKEN"
        if shutil.which("curl") is None:
            pytest.skip("no curl to replay with")
        env = {**os.environ, "JOBS_TOKEN": suite.token}
        replay = subprocess.run(
            exchange.request.curl(), shell=True, env=env, capture_output=True, text=True, timeout=30
        )
    assert replay.stdout.startswith("HTTP/1.1 200")


def test_a_request_outside_the_base_url_is_refused() -> None:
    with pytest.raises(SetupError, match="outside --base-url"):
        client("http://127.0.0.1:1/api", 1).call("GET", "http://example.org/@jobs")


def test_a_failed_login_is_a_setup_error_naming_the_user() -> None:
    with serve() as server, pytest.raises(SetupError, match="login as 'admin' failed"):
        client(server.url).login("/@login", "admin", "wrong")
