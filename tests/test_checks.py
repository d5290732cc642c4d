"""The suite's named checks: answers judged against the status and the exact body the spec documents."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobspec import load_spec
from verdicts import checks
from verdicts.exchanges import Exchange, Request, Response

SPEC = load_spec()


def answer(status: int, data: Any, content_type: str = "application/json") -> Exchange:
    return Exchange(Request("GET", "http://h/x"), Response(status, {"Content-Type": content_type}, str(data), data))


@pytest.mark.parametrize(
    ("operation", "status", "data", "problem"),
    [
        pytest.param("getJob", 404, {"error": "Not found."}, "", id="404-ok"),
        pytest.param("getJob", 404, {"message": "Not found"}, "Documented for 404", id="404-wrong-shape"),
        pytest.param(
            "getJob",
            404,
            {"error": {"type": "Not found", "message": "Job x not found."}},
            "Documented for 404",
            id="404-old-typed-shape",
        ),
        pytest.param("getJob", 404, {"error": "Niet gevonden."}, "Documented for 404", id="404-translated"),
        pytest.param("getJob", 404, {"error": "Not found.", "job": "x"}, "Documented for 404", id="404-extra-member"),
        pytest.param("getJobs", 401, {"message": "You are not authorized to access this resource."}, "", id="401-ok"),
        pytest.param(
            "getJobs", 401, {"error": {"type": "Unauthorized", "message": "no"}}, "Documented for 401", id="401"
        ),
        pytest.param("login", 401, {"error": {"type": "Missing credentials", "message": "m"}}, "Documented", id="type"),
        pytest.param(
            "abortJob", 400, {"error": "Job x is created; only a running job can be aborted."}, "", id="refusal-ok"
        ),
        pytest.param(
            "retryJob", 400, {"error": "Job x is created; only a failed job can be retried."}, "", id="retry-refusal-ok"
        ),
        pytest.param(
            "abortJob",
            400,
            {"error": "Job x is created; only a failed job can be retried."},
            "Documented for 400",
            id="refusal-of-the-other-operation",
        ),
        pytest.param(
            "abortJob",
            400,
            {"error": {"type": "Conflict", "message": "Job x is created; only a running job can be aborted."}},
            "Documented for 400",
            id="refusal-old-typed-shape",
        ),
        pytest.param("getJob", 500, None, "Received 500 / Documented: 404", id="status"),
    ],
)
def test_answer_problems__status_and_exact_body(operation: str, status: int, data: Any, problem: str) -> None:
    problems = checks.answer_problems(SPEC.operation(operation), answer(status, data), 404 if status == 500 else status)
    assert (problem in "\n".join(problems)) if problem else problems == [], problems


def test_answer_problems__a_refusal_answered_409_is_the_wrong_status() -> None:
    """Nick has no 409: a refusal answered 409 is judged against the documented 400."""
    refused = answer(409, {"error": "Job x is created; only a running job can be aborted."})
    assert checks.answer_problems(SPEC.operation("abortJob"), refused, 400) == ["Received 409 / Documented: 400"]
    assert checks.status_problems(SPEC.operation("abortJob"), refused.response) != []


def received(status: int, data: Any = None, content_type: str = "application/json", body: str = "") -> Exchange:
    headers = {"Content-Type": content_type} if content_type else {}
    text = body or ("" if data is None else json.dumps(data))
    return Exchange(Request("GET", "http://h/x"), Response(status, headers, text, data))


NOT_FOUND = {"error": "Not found."}


@pytest.mark.parametrize(
    ("operation", "exchange", "problem"),
    [
        pytest.param("getJob", received(404, NOT_FOUND, "application/json; charset=utf-8"), "", id="404-ok"),
        pytest.param(
            "getJob", received(500, body="boom", content_type="text/plain"), "Documented for getJob", id="500"
        ),
        pytest.param("getJob", received(404, NOT_FOUND, "text/plain"), "Content-Type 'text/plain'", id="type"),
        pytest.param("getJob", received(404, NOT_FOUND, ""), "no Content-Type", id="no-type"),
        pytest.param("deleteJob", received(204, content_type=""), "", id="204-ok"),
        pytest.param("deleteJob", received(204, body="{}", content_type=""), "Documented: no body", id="204-body"),
        pytest.param("getJob", received(404, {"message": "Not found"}), "Documented for 404", id="shape"),
        pytest.param(
            "abortJob",
            received(400, {"error": "Job x is running; only a failed job can be retried."}),
            "Documented for 400",
            id="refusal-text",
        ),
        pytest.param(
            "abortJob",
            received(409, {"error": {"type": "Conflict", "message": "Job x is created."}}),
            "Documented for abortJob: 204, 400, 401, 403, 404",
            id="409-not-documented",
        ),
        pytest.param("getJob", received(405, {"error": "Method Not Allowed"}), "Documented for getJob", id="405"),
    ],
)
def test_documented_problems__status_content_type_and_body(operation: str, exchange: Exchange, problem: str) -> None:
    problems = checks.documented_problems(SPEC.operation(operation), exchange)
    assert (problem in "\n".join(problems)) if problem else problems == [], problems


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        pytest.param(b'{"login": "admin", "password": "admin"}', "", id="ok"),
        pytest.param(b'{"login": "admin"}', "password", id="missing"),
        pytest.param(b"login=admin", "not JSON", id="not-json"),
        pytest.param(b"", "Sent no body", id="none"),
    ],
)
def test_request_problems__the_documented_request_body(raw: bytes, problem: str) -> None:
    problems = checks.request_problems(SPEC.operation("login"), raw)
    assert (problem in "\n".join(problems)) if problem else problems == [], problems
    assert checks.request_problems(SPEC.operation("getJobs"), raw) == [], "no body is documented: nothing to judge"


@pytest.mark.parametrize(
    ("content_type", "problem"),
    [
        pytest.param("application/json; charset=utf-8", "", id="parameters-ignored"),
        pytest.param("text/plain", "Received Content-Type 'text/plain'", id="undocumented"),
        pytest.param("", "Received Content-Type 'none'", id="missing"),
    ],
)
def test_answer_problems__the_content_type_is_documented(content_type: str, problem: str) -> None:
    body = {"message": "You are not authorized to access this resource."}
    problems = checks.answer_problems(SPEC.operation("getJobs"), answer(401, body, content_type), 401)
    assert (problem in "\n".join(problems)) if problem else problems == [], problems
