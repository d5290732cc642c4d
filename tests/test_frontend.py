"""CORS, /docs and the live view over plain HTTP (tests/test_browser.py proves them in a browser)."""

from __future__ import annotations

import pytest
import requests

from mockserver.http.docs import swagger_ui_dir
from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID

NICK_FRONTEND = "http://localhost:3000"
PATHS = {
    "/@login": "POST", "/@login-renew": "POST", "/@logout": "POST", "/@jobs": "GET, HEAD",
    f"/@jobs/{DOCUMENTED_ID}": "DELETE, GET, HEAD", f"/@jobs/{DOCUMENTED_ID}/abort": "POST",
    f"/@jobs/{DOCUMENTED_ID}/retry": "POST",
}  # fmt: skip


@pytest.mark.parametrize(("path", "methods"), PATHS.items())
def test_preflight_is_answered_for_every_operation(mock: LiveMock, path: str, methods: str) -> None:
    response = requests.options(
        f"{mock.url}{path}",
        headers={"Origin": NICK_FRONTEND, "Access-Control-Request-Method": methods.split(", ")[0],
                 "Access-Control-Request-Headers": "authorization, content-type"},
    )  # fmt: skip
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == NICK_FRONTEND
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Access-Control-Allow-Methods"] == methods
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type, X-Mock-Session"
    assert response.headers["Access-Control-Max-Age"] == "3600"  # Nick's cors maxAge


def test_allowed_origin_sees_responses_and_errors(admin: requests.Session, mock: LiveMock) -> None:
    for response in (admin.get(f"{mock.url}/@jobs", headers={"Origin": NICK_FRONTEND}),
                     requests.get(f"{mock.url}/@jobs", headers={"Origin": NICK_FRONTEND})):  # fmt: skip
        assert response.headers["Access-Control-Allow-Origin"] == NICK_FRONTEND
        assert "Content-Type" in response.headers["Access-Control-Expose-Headers"]
        assert "Origin" in response.headers["Vary"]


def test_other_origins_get_no_cors_headers(admin: requests.Session, mock: LiveMock) -> None:
    response = admin.get(f"{mock.url}/@jobs", headers={"Origin": "http://evil.test"})
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response.headers
    preflight = requests.options(
        f"{mock.url}/@jobs", headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 403 and "Access-Control-Allow-Origin" not in preflight.headers  # issue 12


@pytest.mark.parametrize("path", ["/@jobs", "/@login", f"/@jobs/{DOCUMENTED_ID}/abort"])
def test_a_plain_options_is_an_undeclared_method_nicks_404_without_allow(mock: LiveMock, path: str) -> None:
    response = requests.options(f"{mock.url}{path}", headers={"Origin": NICK_FRONTEND})
    assert (response.status_code, response.json()) == (404, {"error": f"Not found: {path}"})
    assert "Allow" not in response.headers and "Access-Control-Allow-Methods" not in response.headers
    assert response.headers["Access-Control-Allow-Origin"] == NICK_FRONTEND  # the browser may read the 404


def test_preflight_of_an_unknown_path_is_404(mock: LiveMock) -> None:
    response = requests.options(
        f"{mock.url}/nope", headers={"Origin": NICK_FRONTEND, "Access-Control-Request-Method": "GET"}
    )
    assert (response.status_code, response.json()) == (404, {"error": "Not found: /nope"})
    assert "Access-Control-Allow-Methods" not in response.headers


def test_docs_page_and_assets_are_served_offline(mock: LiveMock) -> None:
    page = requests.get(f"{mock.url}/docs")
    assert page.status_code == 200 and "<title>Nick jobs API – jobs-mock</title>" in page.text
    bundle = requests.get(f"{mock.url}/docs/assets/swagger-ui-bundle.js")
    assets = swagger_ui_dir()
    assert assets is not None and bundle.status_code == 200
    assert bundle.content == (assets / "swagger-ui-bundle.js").read_bytes()
    assert bundle.headers["Content-Type"].startswith(("text/javascript", "application/javascript"))
    css = requests.get(f"{mock.url}/docs/assets/swagger-ui.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    again = requests.get(f"{mock.url}/docs/assets/swagger-ui.css", headers={"If-None-Match": css.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    for name in ("nope.js", "..%2Fswagger-ui.css", "%2E%2E", ""):
        missing = requests.get(f"{mock.url}/docs/assets/{name}")
        assert missing.status_code == 404 and "error" in missing.json(), (name, missing.text)


def test_docs_spec_points_at_this_mock(mock: LiveMock) -> None:
    spec = requests.get(f"{mock.url}/docs/openapi.json").json()
    assert spec["servers"] == [{"url": mock.url, "description": "this jobs-mock"}]
    assert spec["paths"] == requests.get(f"{mock.url}/openapi.json").json()["paths"]


def test_live_view_and_its_job_list(mock: LiveMock) -> None:
    page = requests.get(f"{mock.url}/__mock__/")
    assert page.status_code == 200 and 'id="jobs"' in page.text and 'id="reset"' in page.text
    jobs = requests.get(f"{mock.url}/__mock__/jobs").json()
    assert DOCUMENTED_ID in {job["uuid"] for job in jobs}


def test_vary_origin_on_every_response(admin: requests.Session, mock: LiveMock) -> None:
    assert "Origin" in admin.get(f"{mock.url}/@jobs").headers["Vary"]
    assert "Origin" in admin.get(f"{mock.url}/@jobs", headers={"Origin": "http://evil.test"}).headers["Vary"]


def test_favicon_is_served(mock: LiveMock) -> None:
    response = requests.get(f"{mock.url}/favicon.ico")
    assert response.status_code == 200 and response.content[:4] == b"\x89PNG"
