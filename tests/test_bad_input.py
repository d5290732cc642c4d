"""Bad input gets a clear 4xx in Nick's shape, never a 5xx, and changes nothing."""

from __future__ import annotations

import pytest
import requests

from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID
from tests.helpers import listed

JSON_UTF8 = "application/json; charset=utf-8"  # as Express (and so Nick) sends JSON
MISSING = {"error": {"type": "Missing credentials", "message": "Login and password must be provided in body."}}
INVALID = {"error": {"type": "Invalid credentials", "message": "Wrong login and/or password."}}
CREDENTIALS = b'{"login": "admin", "password": "admin"}'


def _bad_request(message: str) -> dict[str, object]:
    return {"error": {"type": "Bad Request", "message": message}}


def _assert_nick_error(response: requests.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == JSON_UTF8
    error: dict[str, str] = response.json()["error"]
    assert set(error) == {"type", "message"} and error["message"]
    return error


@pytest.mark.parametrize(
    ("body", "content_type", "needle"),
    [
        pytest.param(b"{not json", "application/json", "body: not valid JSON (", id="not-json"),
        pytest.param(b"\xff\xfe\x00", "application/json", "body: not valid JSON (", id="not-utf8"),
        pytest.param(
            b"[" * 100_000 + b"]" * 100_000, "application/json", "body: nested deeper than 64 levels", id="too-deep"
        ),
    ],
)
def test_malformed_login_bodies_are_400(mock: LiveMock, body: bytes, content_type: str, needle: str) -> None:
    response = requests.post(f"{mock.url}/@login", data=body, headers={"Content-Type": content_type})
    assert _assert_nick_error(response, 400)["message"].startswith(needle)


# Nick's login (authentication.ts) asks `!req.body.login || !req.body.password`, then looks the login up as it is.
NICKS_LOGIN_RULES = [
    # Missing: no body, null, an array (which has no `.login`), a field absent, null, "", 0 or false.
    pytest.param(None, None, 400, MISSING, id="no-body-no-content-type"),
    pytest.param(b"", "application/json", 400, MISSING, id="empty-body"),
    pytest.param(b"null", "application/json", 400, MISSING, id="null"),
    pytest.param(b"[]", "application/json", 400, MISSING, id="empty-array"),
    pytest.param(b"[1, 2]", "application/json", 400, MISSING, id="array"),
    pytest.param(b'[{"login": "admin", "password": "admin"}]', "application/json", 400, MISSING, id="array-of-it"),
    pytest.param(b"{}", "application/json", 400, MISSING, id="empty-object"),
    pytest.param(b'{"password": "admin"}', "application/json", 400, MISSING, id="login-absent"),
    pytest.param(b'{"login": "admin"}', "application/json", 400, MISSING, id="password-absent"),
    pytest.param(b'{"login": null, "password": "admin"}', "application/json", 400, MISSING, id="login-null"),
    pytest.param(b'{"login": "admin", "password": null}', "application/json", 400, MISSING, id="password-null"),
    pytest.param(b'{"login": "", "password": "admin"}', "application/json", 400, MISSING, id="login-empty"),
    pytest.param(b'{"login": "admin", "password": ""}', "application/json", 400, MISSING, id="password-empty"),
    pytest.param(b'{"login": 0, "password": "admin"}', "application/json", 400, MISSING, id="login-0"),
    pytest.param(b'{"login": "admin", "password": 0}', "application/json", 400, MISSING, id="password-0"),
    pytest.param(b'{"login": false, "password": "admin"}', "application/json", 400, MISSING, id="login-false"),
    pytest.param(b'{"login": "admin", "password": false}', "application/json", 400, MISSING, id="password-false"),
    pytest.param(b'{"login": 0, "password": 5}', "application/json", 400, MISSING, id="missing-before-types"),
    # A login that is not a string names no user.
    pytest.param(b'{"login": 5, "password": "admin"}', "application/json", 401, INVALID, id="login-number"),
    pytest.param(b'{"login": {"a": 1}, "password": "admin"}', "application/json", 401, INVALID, id="login-object"),
    pytest.param(b'{"login": ["admin"], "password": "admin"}', "application/json", 401, INVALID, id="login-array"),
    pytest.param(b'{"login": true, "password": "admin"}', "application/json", 401, INVALID, id="login-true"),
    # A password that is not a string: Nick's 500 (bcrypt throws), the contract's 400.
    pytest.param(
        b'{"login": "admin", "password": 5}',
        "application/json",
        400,
        _bad_request("password: 5 is not a string"),
        id="password-number",
    ),
    pytest.param(
        b'{"login": "admin", "password": {"b": 1}}',
        "application/json",
        400,
        _bad_request('password: {"b":1} is not a string'),
        id="password-object",
    ),
    pytest.param(
        b'{"login": "admin", "password": ["admin"]}',
        "application/json",
        400,
        _bad_request('password: ["admin"] is not a string'),
        id="password-array",
    ),
    pytest.param(
        b'{"login": "admin", "password": true}',
        "application/json",
        400,
        _bad_request("password: true is not a string"),
        id="password-true",
    ),
    pytest.param(
        b'{"login": 5, "password": 5}',
        "application/json",
        400,
        _bad_request("password: 5 is not a string"),
        id="both-numbers",
    ),
    # JSON that is neither an object nor an array: Nick's HTML page, the contract's 400.
    pytest.param(
        b'"admin"', "application/json", 400, _bad_request("the body must be a JSON object, not str"), id="string"
    ),
    pytest.param(b"42", "application/json", 400, _bad_request("the body must be a JSON object, not int"), id="number"),
    pytest.param(
        b"1.5", "application/json", 400, _bad_request("the body must be a JSON object, not float"), id="float"
    ),
    pytest.param(b"true", "application/json", 400, _bad_request("the body must be a JSON object, not bool"), id="true"),
    # A body Nick's parser leaves unread (no or another Content-Type), or cannot read (a charset not UTF-8).
    pytest.param(
        CREDENTIALS,
        None,
        400,
        _bad_request("Content-Type: none; a JSON body is sent as application/json"),
        id="no-content-type",
    ),
    pytest.param(
        CREDENTIALS,
        "text/plain",
        400,
        _bad_request("Content-Type: text/plain; a JSON body is sent as application/json"),
        id="text-plain",
    ),
    pytest.param(
        CREDENTIALS,
        "application/vnd.api+json",
        400,
        _bad_request("Content-Type: application/vnd.api+json; a JSON body is sent as application/json"),
        id="vnd-api-json",
    ),
    pytest.param(
        CREDENTIALS,
        "application/x-www-form-urlencoded",
        400,
        _bad_request("Content-Type: application/x-www-form-urlencoded; a JSON body is sent as application/json"),
        id="form",
    ),
    pytest.param(
        CREDENTIALS,
        "application/json; charset=iso-8859-1",
        400,
        _bad_request("Content-Type: the charset iso-8859-1 is not UTF-8"),
        id="latin-1",
    ),
]


@pytest.mark.parametrize(("body", "content_type", "status", "answer"), NICKS_LOGIN_RULES)
def test_login_bodies_are_judged_as_nicks_login_judges_them(
    mock: LiveMock, body: bytes | None, content_type: str | None, status: int, answer: dict[str, object]
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = requests.post(f"{mock.url}/@login", data=body, headers=headers)
    assert (response.status_code, response.json()) == (status, answer)
    assert response.headers["Content-Type"] == JSON_UTF8


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(CREDENTIALS, "application/json; charset=utf-8", id="charset-utf-8"),
        pytest.param(CREDENTIALS, "application/json; charset=UTF8", id="charset-utf8"),
        pytest.param(CREDENTIALS, "Application/JSON", id="media-type-case"),
        pytest.param(b'{"login": "admin", "password": "admin", "extra": [1]}', "application/json", id="extra-member"),
    ],
)
def test_login_bodies_nick_reads_log_in(mock: LiveMock, body: bytes, content_type: str) -> None:
    response = requests.post(f"{mock.url}/@login", data=body, headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"token"}


def test_unicode_credentials_are_simply_wrong(mock: LiveMock) -> None:
    response = requests.post(f"{mock.url}/@login", json={"login": "ädmïn🙂", "password": "pässwörd"})
    assert _assert_nick_error(response, 401)["type"] == "Invalid credentials"


def test_huge_body_is_413_in_nicks_shape(mock: LiveMock) -> None:
    response = requests.post(
        f"{mock.url}/@login", data=b"{" + b" " * (2 * 1024 * 1024) + b"}", headers={"Content-Type": "application/json"}
    )
    assert _assert_nick_error(response, 413)["type"] == "Payload too large"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/@jobs"),
        ("POST", "/@jobs"),
        ("DELETE", "/@jobs"),
        ("PATCH", f"/@jobs/{DOCUMENTED_ID}"),
        ("PUT", f"/@jobs/{DOCUMENTED_ID}"),
        ("POST", f"/@jobs/{DOCUMENTED_ID}"),
        ("GET", f"/@jobs/{DOCUMENTED_ID}/abort"),
        ("DELETE", f"/@jobs/{DOCUMENTED_ID}/retry"),
        ("GET", "/@login"),
        ("PUT", "/@login-renew"),
        ("TRACE", "/@logout"),
        ("OPTIONS", "/@jobs"),  # a plain OPTIONS, not a CORS preflight
        ("PUT", "/news/@jobs"),
    ],
)
def test_an_undeclared_method_is_nicks_404_without_allow(
    admin: requests.Session, mock: LiveMock, method: str, path: str
) -> None:
    """Nick routes by method and falls through to its content routes: a path's undeclared method is its 404."""
    response = admin.request(method, f"{mock.url}{path}")
    assert (response.status_code, response.json()) == (404, {"error": f"Not found: {path}"})
    assert response.headers["Content-Type"] == JSON_UTF8
    assert "Allow" not in response.headers
    assert DOCUMENTED_ID in listed(admin, mock)
    assert listed(admin, mock)[DOCUMENTED_ID]["status"] == "created"


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/nope", "/nope"),
        ("/@jobs/", "/@jobs/"),
        ("/@jobs/x/y", "/@jobs/x/y"),
        ("/@jobs/x/cancel", "/@jobs/x/cancel"),
        ("/%00", "/\x00"),
        ("/@jöbs", "/@jöbs"),
        ("/@jobs/x%20y/z", "/@jobs/x y/z"),
        ("/@users", "/@users"),
        ("/news/@nope", "/news/@nope"),
    ],
)
def test_unknown_paths_are_nicks_404_naming_the_path(
    admin: requests.Session, mock: LiveMock, path: str, named: str
) -> None:
    response = admin.get(f"{mock.url}{path}")
    assert (response.status_code, response.json()) == (404, {"error": f"Not found: {named}"})
    assert response.headers["Content-Type"] == JSON_UTF8


def test_an_id_that_reads_as_a_path_is_an_unknown_job(admin: requests.Session, mock: LiveMock) -> None:
    response = admin.get(f"{mock.url}/@jobs/%2e%2e%2f%2e%2e%2fetc")
    assert (response.status_code, response.json()) == (404, {"error": "Not found."})


def test_body_on_jobs_operations_is_ignored(admin: requests.Session, mock: LiveMock) -> None:
    response = admin.post(f"{mock.url}/@jobs/{DOCUMENTED_ID}/abort", data=b"\x00garbage")
    assert (response.status_code, response.json()) == (
        400,
        {"error": f"Job {DOCUMENTED_ID} is created; only a running job can be aborted."},
    )
    assert listed(admin, mock)[DOCUMENTED_ID]["status"] == "created"


def test_query_strings_are_ignored(admin: requests.Session, mock: LiveMock) -> None:
    assert admin.get(f"{mock.url}/@jobs?status=running&limit=-1&%ff=%00").status_code == 200


def test_refused_and_bad_requests_leave_every_job_as_it_was(admin: requests.Session, mock: LiveMock) -> None:
    before = listed(admin, mock)
    for job_id, job in before.items():
        for action in ("abort", "retry"):
            admin.post(f"{mock.url}/@jobs/{job_id}/{action}x")
        assert admin.put(f"{mock.url}/@jobs/{job_id}", json={"status": "completed"}).status_code == 404
        assert admin.patch(f"{mock.url}/@jobs/{job_id}", json={"status": "completed"}).status_code == 404
        if job["status"] != "running":
            assert admin.post(f"{mock.url}/@jobs/{job_id}/abort").status_code == 400
        if job["status"] != "failed":
            assert admin.post(f"{mock.url}/@jobs/{job_id}/retry").status_code == 400
    assert listed(admin, mock) == before
