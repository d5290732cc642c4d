"""The middlewares' contract with their users: strict mode turns an answer that breaks the spec into a loud error."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import requests
from aiohttp import web

from jobspec import load_spec
from mockserver.config import MockConfig
from mockserver.domain.clock import Clock
from mockserver.http.app import create_app
from mockserver.http.context import STATE
from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID
from tests.helpers import spec_copy


def _job_needs_an_owner(document: dict[str, Any]) -> None:
    """A spec whose single-job answer requires a field the mock never produces."""
    document["components"]["schemas"]["JobWithId"]["allOf"][1]["required"].append("owner")


def test_strict_mode_turns_an_answer_that_breaks_the_spec_into_a_500_and_a_mock_error(tmp_path: Path) -> None:
    spec = load_spec(spec_copy(tmp_path, _job_needs_an_owner))
    with LiveMock(spec, config=MockConfig(strict=True), clock=Clock(manual=True)) as mock:
        token = requests.post(f"{mock.url}/@login", json={"login": "admin", "password": "admin"}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{mock.url}/@jobs", headers=headers).status_code == 200, "the list still conforms"
        response = requests.get(f"{mock.url}/@jobs/{DOCUMENTED_ID}", headers=headers)
        assert response.status_code == 500
        error = response.json()["error"]
        assert error["type"] == "Mock error"
        assert error["message"].startswith(f"strict mode: GET /@jobs/{DOCUMENTED_ID} -> 200 breaks the spec")
        assert 'body: "owner" is a required property' in error["message"], "the compiled validators' verdict"
        assert "InvalidData" in error["message"], "openapi-core's verdict"
        [reported] = mock.errors()
        assert (reported["method"], reported["path"], reported["error"]) == (
            "GET",
            f"/@jobs/{DOCUMENTED_ID}",
            error["message"],
        )
        entry = mock.control("GET", "journal")[-2]
        assert (entry["operationId"], entry["status"]) == ("getJob", 500)


def test_without_strict_mode_the_same_answer_goes_out_unchecked(tmp_path: Path) -> None:
    spec = load_spec(spec_copy(tmp_path, _job_needs_an_owner))
    with LiveMock(spec, clock=Clock(manual=True)) as mock:
        token = requests.post(f"{mock.url}/@login", json={"login": "admin", "password": "admin"}).json()["token"]
        response = requests.get(f"{mock.url}/@jobs/{DOCUMENTED_ID}", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200 and "owner" not in response.json()
        assert mock.errors() == []


def test_the_app_served_by_aiohttps_own_runner_answers_as_under_the_mocks_runner() -> None:
    """`create_app` routes every request through the pipeline: any runner gets the mock's answers, not aiohttp's."""
    app = create_app(config=MockConfig(), clock=Clock(manual=True))

    async def requests_through(runner: web.AppRunner) -> list[tuple[int, str, Any]]:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        base = f"http://{host}:{port}"
        answers = []
        try:
            async with aiohttp.ClientSession() as client:
                for method, path in [("GET", "/@jobs"), ("GET", "/no/such/@thing"), ("PUT", "/@jobs")]:
                    async with client.request(
                        method, f"{base}{path}", headers={"Origin": "http://localhost:3000"}
                    ) as r:
                        answers.append((r.status, r.headers.get("Access-Control-Allow-Origin", ""), await r.json()))
        finally:
            await runner.cleanup()
        return answers

    answers = asyncio.run(requests_through(web.AppRunner(app)))
    assert [(status, origin) for status, origin, _ in answers] == [
        (401, "http://localhost:3000"),
        (404, "http://localhost:3000"),
        (404, "http://localhost:3000"),
    ]
    assert answers[0][2] == {"message": "You are not authorized to access this resource."}
    assert answers[1][2] == {"error": "Not found: /no/such/@thing"}
    assert answers[2][2] == {"error": "Not found: /@jobs"}  # an undeclared method: Nick's 404, no 405
    assert [entry.status for entry in app[STATE].journal.entries] == [401, 404, 404]
