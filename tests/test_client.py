"""The suite's HTTP client: records without secrets, curl lines that really replay, one base URL only."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conformance.client import Client, SetupError
from conformance.transport import BoundedAdapter
from tests import brokenjobs
from tests.fakejobs import UNAUTHORIZED, serve


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


def test_every_request_asks_for_english_and_its_curl_line_replays_that() -> None:
    """Nick translates per Accept-Language and the spec's texts are English: a deployment answering Dutch by default
    answers the suite in English, and a finding's curl line gets the same answer."""
    with brokenjobs.serve(brokenjobs.Difference.DUTCH_BY_DEFAULT) as server:
        exchange = client(server.url).call("GET", "/@jobs", token=None)
        assert server.languages == ["en"]
        assert exchange.response.data == UNAUTHORIZED
        assert "Accept-Language: en" in exchange.request.curl()
        if shutil.which("curl") is None:
            pytest.skip("no curl to replay with")
        replay = subprocess.run(exchange.request.curl(), shell=True, capture_output=True, text=True, timeout=30)
    assert replay.stdout.rstrip().endswith('{"message": "You are not authorized to access this resource."}')


def test_an_accept_language_the_user_gives_wins() -> None:
    with serve() as server:
        given = Client(server.url, adapter=BoundedAdapter(5, 1 << 20), headers=(("Accept-Language", "sv"),))
        exchange = given.call("GET", "/@jobs", token=None)
        assert server.languages == ["sv"]
    assert exchange.response.data == {"message": "Du har inte behörighet att komma åt denna resurs."}
