"""`Prefer: code=…` and `Prefer: example=…`: the spec's documented responses on demand, nothing changed."""

from __future__ import annotations

import pytest
import requests

from mockserver.testing import LiveMock
from tests.conftest import DOCUMENTED_ID
from tests.helpers import LIFECYCLE, create, listed, read

SPEC_EXAMPLES = {
    "notFound": {"error": "Not found."},
    "unauthorized": {"message": "You are not authorized to access this resource."},
}


@pytest.mark.parametrize(
    ("method", "path", "prefer", "status", "body"),
    [
        pytest.param("GET", f"/@jobs/{DOCUMENTED_ID}", "code=404", 404, SPEC_EXAMPLES["notFound"], id="get-404"),
        pytest.param("GET", "/@jobs", "code=401", 401, SPEC_EXAMPLES["unauthorized"], id="list-401"),
        pytest.param("GET", "/@jobs", "code=403", 403, SPEC_EXAMPLES["unauthorized"], id="list-403"),
        pytest.param("POST", f"/@jobs/{DOCUMENTED_ID}/abort", "code=404", 404, SPEC_EXAMPLES["notFound"], id="abort-404"),
        pytest.param("POST", "/@login", "code=401", 401,
                     {"error": {"type": "Invalid credentials", "message": "Wrong login and/or password."}}, id="login-401"),
        pytest.param("POST", "/@login-renew", "code=401", 401,
                     {"error": {"type": "Invalid session", "message": "User is not logged in."}}, id="renew-401"),
        pytest.param("POST", "/@login", 'example="missing"', 400,
                     {"error": {"type": "Missing credentials", "message": "Login and password must be provided in body."}},
                     id="login-example-by-name"),
    ],
)  # fmt: skip
def test_prefer_code_answers_the_documented_example(
    admin: requests.Session, mock: LiveMock, method: str, path: str, prefer: str, status: int, body: object
) -> None:
    before = listed(admin, mock)
    response = admin.request(method, f"{mock.url}{path}", headers={"Prefer": prefer})
    assert (response.status_code, response.json()) == (status, body)
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert listed(admin, mock) == before


@pytest.mark.parametrize("operation", ["abort", "retry"])
def test_prefer_code_409_is_no_longer_documented_for_abort_and_retry(
    admin: requests.Session, mock: LiveMock, operation: str
) -> None:
    response = admin.post(f"{mock.url}/@jobs/{DOCUMENTED_ID}/{operation}", headers={"Prefer": "code=409"})
    message = f"Prefer: code=409 is not documented for {operation}Job; documented: 204, 400, 401, 403, 404"
    assert (response.status_code, response.json()) == (400, {"error": {"type": "Bad Request", "message": message}})


@pytest.mark.parametrize(
    ("operation", "only"),
    [("abort", "only a running job can be aborted."), ("retry", "only a failed job can be retried.")],
)
def test_prefer_code_400_on_abort_and_retry_is_the_refusal(
    admin: requests.Session, mock: LiveMock, operation: str, only: str
) -> None:
    response = admin.post(f"{mock.url}/@jobs/{DOCUMENTED_ID}/{operation}", headers={"Prefer": "code=400"})
    assert (response.status_code, response.json()) == (400, {"error": f"Job {DOCUMENTED_ID} is created; {only}"})
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize(("method", "path"), [("POST", "/@login"), ("POST", "/@login-renew"), ("GET", "/@jobs")])
def test_prefer_429_carries_the_documented_rate_limit_headers_even_in_strict_mode(
    mock: LiveMock, method: str, path: str
) -> None:
    response = requests.request(method, f"{mock.url}{path}", headers={"Prefer": "code=429"})
    assert response.status_code == 429 and response.json()["message"].startswith("Too many")
    assert response.headers["Retry-After"] == "900" and response.headers["RateLimit-Remaining"] == "0"
    assert mock.errors() == []


def test_prefer_success_without_a_body_changes_nothing(admin: requests.Session, mock: LiveMock) -> None:
    response = admin.delete(f"{mock.url}/@jobs/{DOCUMENTED_ID}", headers={"Prefer": "code=204"})
    assert (response.status_code, response.content) == (204, b"")
    assert DOCUMENTED_ID in listed(admin, mock)


def test_prefer_200_gives_the_documented_job_without_auth(mock: LiveMock) -> None:
    response = requests.get(f"{mock.url}/@jobs/any-id", headers={"Prefer": "code=200"})
    assert response.status_code == 200
    assert response.json()["@id"] == f"http://localhost:8080/@jobs/{DOCUMENTED_ID}"


def test_prefer_an_undocumented_code_is_a_clear_400(admin: requests.Session, mock: LiveMock) -> None:
    response = admin.get(f"{mock.url}/@jobs", headers={"Prefer": "code=418"})
    assert response.status_code == 400
    assert (
        response.json()["error"]["message"]
        == "Prefer: code=418 is not documented for getJobs; documented: 200, 401, 403, 429"
    )


def test_prefer_an_unknown_example_names_the_known_ones(mock: LiveMock) -> None:
    response = requests.post(f"{mock.url}/@login", headers={"Prefer": "example=nope"})
    assert response.status_code == 400
    message = "Prefer: example=nope is not documented for login; examples: admin, invalid, missing, tooLarge, tooMany"
    assert response.json() == {"error": {"type": "Bad Request", "message": message}}


def test_other_preferences_are_ignored(admin: requests.Session, mock: LiveMock) -> None:
    response = admin.get(f"{mock.url}/@jobs", headers={"Prefer": "return=minimal, respond-async"})
    assert response.status_code == 200 and len(response.json()) == 7


def test_forced_responses_are_journaled(admin: requests.Session, mock: LiveMock) -> None:
    admin.get(f"{mock.url}/@jobs/{DOCUMENTED_ID}", headers={"Prefer": "code=404, example=notFound"})
    entry = mock.control("GET", "journal")[-1]
    assert (entry["operationId"], entry["status"], entry["note"]) == ("getJob", 404, "Prefer: 404 example notFound")


@pytest.mark.parametrize("state", list(LIFECYCLE.states))
@pytest.mark.parametrize("operation", ["abort", "retry"])
def test_a_forced_refusal_tells_the_jobs_real_state(
    admin: requests.Session, mock: LiveMock, state: str, operation: str
) -> None:
    job = create(mock, state)
    url = f"{mock.url}/@jobs/{job['uuid']}/{operation}"
    forced = admin.post(url, headers={"Prefer": "code=400"})
    only = {"abort": "only a running job can be aborted.", "retry": "only a failed job can be retried."}[operation]
    assert (forced.status_code, forced.json()) == (400, {"error": f"Job {job['uuid']} is {state}; {only}"})
    assert read(admin, mock, job["uuid"])["status"] == state, "a forced answer changes nothing"
    real = admin.post(url)
    if real.status_code == 400:
        assert forced.json() == real.json(), "the real refusal, word for word"
    assert read(admin, mock, job["uuid"])["uuid"] == job["uuid"]


def test_a_forced_refusal_of_an_unknown_job_is_the_documented_example(admin: requests.Session, mock: LiveMock) -> None:
    response = admin.post(f"{mock.url}/@jobs/nope/abort", headers={"Prefer": "code=400"})
    example = {"error": f"Job {DOCUMENTED_ID} is created; only a running job can be aborted."}
    assert (response.status_code, response.json()) == (400, example)


@pytest.mark.parametrize("prefer", ["code=1e3", "code=99999999999999999999999", "code=NaN", "code=-409", "code=409.0"])
def test_prefer_with_numbers_it_does_not_document_is_refused(
    admin: requests.Session, mock: LiveMock, prefer: str
) -> None:
    response = admin.get(f"{mock.url}/@jobs", headers={"Prefer": prefer})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(f"Prefer: {prefer} is not documented for getJobs")
