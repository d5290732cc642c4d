"""Bad input gets a clear 4xx in Nick's shape, never a 5xx, and changes nothing."""

from __future__ import annotations

import pytest
import requests

from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID
from tests.helpers import listed


def _assert_nick_error(response: requests.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    error: dict[str, str] = response.json()["error"]
    assert set(error) == {"type", "message"} and error["message"]
    return error


@pytest.mark.parametrize(
    ("body", "content_type", "needle"),
    [
        pytest.param(b"{not json", "application/json", "not valid JSON", id="not-json"),
        pytest.param(
            b'{"login": 5, "password": "x"}', "application/json", "login: 5 is not of type", id="number-login"
        ),
        pytest.param(
            b'{"login": ["a"], "password": {"b": 1}}', "application/json", "is not of type", id="nested-types"
        ),
        pytest.param(b"[1, 2]", "application/json", 'is not of type "object"', id="array"),
        pytest.param(b'"admin"', "application/json", 'is not of type "object"', id="string"),
        pytest.param(b"null", "application/json", 'is not of type "object"', id="null"),
        pytest.param(
            b'{"login": "admin", "password": "admin"}', "text/plain", "is not application/json", id="wrong-type"
        ),
        pytest.param(b"\xff\xfe\x00", "application/json", "not valid JSON", id="not-utf8"),
    ],
)
def test_malformed_login_bodies_are_400(mock: LiveMock, body: bytes, content_type: str, needle: str) -> None:
    response = requests.post(f"{mock.url}/@login", data=body, headers={"Content-Type": content_type})
    assert needle in _assert_nick_error(response, 400)["message"]


def test_unicode_credentials_are_simply_wrong(mock: LiveMock) -> None:
    response = requests.post(f"{mock.url}/@login", json={"login": "ädmïn🙂", "password": "pässwörd"})
    assert _assert_nick_error(response, 401)["type"] == "Invalid credentials"


def test_huge_body_is_413_in_nicks_shape(mock: LiveMock) -> None:
    response = requests.post(
        f"{mock.url}/@login", data=b"{" + b" " * (2 * 1024 * 1024) + b"}", headers={"Content-Type": "application/json"}
    )
    assert _assert_nick_error(response, 413)["type"] == "Payload too large"


def test_deeply_nested_body_is_not_a_500(mock: LiveMock) -> None:
    response = requests.post(
        f"{mock.url}/@login", data=b"[" * 100_000 + b"]" * 100_000, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/@jobs", "GET, HEAD"),
        ("POST", "/@jobs", "GET, HEAD"),
        ("PATCH", f"/@jobs/{DOCUMENTED_ID}", "DELETE, GET, HEAD"),
        ("GET", f"/@jobs/{DOCUMENTED_ID}/abort", "POST"),
        ("DELETE", f"/@jobs/{DOCUMENTED_ID}/retry", "POST"),
        ("GET", "/@login", "POST"),
        ("TRACE", "/@logout", "POST"),
    ],
)
def test_wrong_method_is_405_with_allow(
    admin: requests.Session, mock: LiveMock, method: str, path: str, allowed: str
) -> None:
    response = admin.request(method, f"{mock.url}{path}")
    assert response.headers["Allow"] == allowed
    _assert_nick_error(response, 405)
    assert DOCUMENTED_ID in listed(admin, mock)


@pytest.mark.parametrize(
    "path", ["/nope", "/@jobs/", "/@jobs/x/y", "/@jobs/x/cancel", "/%00", "/@jöbs", "/@jobs/%2e%2e%2f%2e%2e%2fetc"]
)
def test_unknown_paths_are_404(admin: requests.Session, mock: LiveMock, path: str) -> None:
    assert _assert_nick_error(admin.get(f"{mock.url}{path}"), 404)["type"] == "Not found"


def test_body_on_jobs_operations_is_ignored(admin: requests.Session, mock: LiveMock) -> None:
    response = admin.post(f"{mock.url}/@jobs/{DOCUMENTED_ID}/abort", data=b"\x00garbage")
    assert response.status_code == 409
    assert listed(admin, mock)[DOCUMENTED_ID]["status"] == "created"


def test_query_strings_are_ignored(admin: requests.Session, mock: LiveMock) -> None:
    assert admin.get(f"{mock.url}/@jobs?status=running&limit=-1&%ff=%00").status_code == 200


def test_refused_and_bad_requests_leave_every_job_as_it_was(admin: requests.Session, mock: LiveMock) -> None:
    before = listed(admin, mock)
    for job_id, job in before.items():
        for action in ("abort", "retry"):
            admin.post(f"{mock.url}/@jobs/{job_id}/{action}x")
        admin.put(f"{mock.url}/@jobs/{job_id}", json={"status": "completed"})
        if job["status"] != "running":
            assert admin.post(f"{mock.url}/@jobs/{job_id}/abort").status_code == 409
    assert listed(admin, mock) == before
