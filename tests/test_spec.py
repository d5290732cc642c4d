"""The spec is a valid OpenAPI 3.1 document and every example in it matches its schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from jobspec import load_spec

SPEC = load_spec()
JOBS_OPERATIONS = ["getJobs", "getJob", "deleteJob", "abortJob", "retryJob"]


def _examples(node: Any, where: str = "") -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """Every (place, example value, schema) of the resolved document."""
    if isinstance(node, dict):
        schema = node.get("schema")
        if isinstance(schema, dict):
            if "example" in node:
                yield where, node["example"], schema
            for name, example in node.get("examples", {}).items():
                yield f"{where}.examples.{name}", example["value"], schema
        if "type" in node and isinstance(node.get("examples"), list):
            for i, value in enumerate(node["examples"]):
                yield f"{where}.examples[{i}]", value, node
        for key, value in node.items():
            yield from _examples(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _examples(value, f"{where}[{i}]")


EXAMPLES = list(_examples(SPEC.resolved))


def test_spec_is_valid_openapi_31() -> None:
    validate(SPEC.raw)


def test_spec_has_examples_to_check() -> None:
    places = {place for place, _, _ in EXAMPLES}
    assert len(places) >= 12
    assert any("getJob" not in p and "@jobs/{id}" in p for p in places)


@pytest.mark.parametrize(("place", "value", "schema"), [pytest.param(*e, id=e[0]) for e in EXAMPLES])
def test_example_matches_its_schema(place: str, value: Any, schema: dict[str, Any]) -> None:
    errors = [
        e.message for e in OAS31Validator(schema, format_checker=OAS31Validator.FORMAT_CHECKER).iter_errors(value)
    ]
    assert errors == [], f"{place}: {errors}"


def test_wrong_example_is_caught() -> None:
    job_schema = SPEC.schema("Job")
    broken = dict(SPEC.resolved["components"]["examples"]["ReindexEventsWithId"]["value"], status="paused")
    assert not OAS31Validator(job_schema).is_valid(broken)


@pytest.mark.parametrize("operation_id", JOBS_OPERATIONS)
def test_jobs_operations_need_a_bearer_token(operation_id: str) -> None:
    operation = SPEC.operation(operation_id)
    assert operation.needs_auth(SPEC.security)
    assert {401, 403} <= operation.documented_statuses


@pytest.mark.parametrize("operation_id", ["getJob", "deleteJob", "abortJob", "retryJob"])
def test_job_operations_document_404(operation_id: str) -> None:
    assert 404 in SPEC.operation(operation_id).documented_statuses


def test_logout_authentication_is_optional() -> None:
    assert not SPEC.operation("logout").needs_auth(SPEC.security)
    assert SPEC.operation("logout").definition["security"] == [{}, {"bearerAuth": []}]


def test_login_needs_no_token_and_refuses_empty_fields() -> None:
    login = SPEC.operation("login")
    assert not login.needs_auth(SPEC.security)
    credentials = SPEC.schema("Credentials")
    assert credentials["required"] == ["login", "password"]
    assert all(credentials["properties"][f]["minLength"] == 1 for f in ("login", "password"))


@pytest.mark.parametrize(("operation_id", "response"), [("abortJob", "AbortRefused"), ("retryJob", "RetryRefused")])
def test_refused_transitions_answer_400_not_409(operation_id: str, response: str) -> None:
    """Nick has no 409: a refused transition is its 400, with the kit's message in Nick's plain shape."""
    operation = SPEC.operation(operation_id)
    assert 400 in operation.documented_statuses and 409 not in operation.documented_statuses
    assert operation.responses["400"] == SPEC.resolved["components"]["responses"][response]
    assert "Conflict" not in SPEC.resolved["components"].get("responses", {})
    assert "ConflictError" not in SPEC.resolved["components"]["schemas"]


def test_every_job_field_is_required() -> None:
    job = SPEC.schema("Job")
    assert set(job["required"]) == set(job["properties"]) - {"@id"}


def test_single_job_response_requires_id() -> None:
    schema = SPEC.operation("getJob").responses["200"]["content"]["application/json"]["schema"]
    valid = dict(SPEC.resolved["components"]["examples"]["ReindexEventsWithId"]["value"])
    assert OAS31Validator(schema).is_valid(valid)
    del valid["@id"]
    assert not OAS31Validator(schema).is_valid(valid)


def _error_schemas() -> list[Any]:
    return [
        pytest.param(op.responses[code], id=f"{op.operation_id}-{code}")
        for op in SPEC.operations.values()
        for code in op.responses
        if code >= "400" and "content" in op.responses[code]
    ]


@pytest.mark.parametrize("response", _error_schemas())
def test_every_error_response_is_exact_and_its_examples_fit(response: dict[str, Any]) -> None:
    media = response["content"]["application/json"]
    validator = OAS31Validator(media["schema"])
    for example in media.get("examples", {}).values():
        assert validator.is_valid(example["value"]), example
    drifted = [{"detail": "x"}, {"error": "x"}, {"message": "x", "error": {"type": "Other", "message": "x"}}]
    assert not any(validator.is_valid(body) for body in drifted)


@pytest.mark.parametrize(
    ("operation", "code", "body", "valid"),
    [
        pytest.param("getJob", "404", {"error": "Not found."}, True, id="404"),
        pytest.param("getJob", "404", {"error": {"type": "Not found", "message": "x"}}, False, id="404-typed"),
        pytest.param("getJob", "404", {"error": "Not found: /@jobs/x"}, False, id="404-path-text"),
        pytest.param("getJob", "404", {"error": "Not found.", "uuid": "x"}, False, id="404-extra-member"),
        pytest.param("getJob", "404", {"message": "Not found"}, False, id="404-as-message"),
        pytest.param("getJobs", "401", {"error": {"type": "Unauthorized", "message": "x"}}, False, id="401-typed"),
        pytest.param(
            "abortJob",
            "400",
            {"error": "Job 1 is created; only a running job can be aborted."},
            True,
            id="abort-refused",
        ),
        pytest.param(
            "abortJob",
            "400",
            {"error": "Job 1 is created; only a failed job can be retried."},
            False,
            id="abort-refused-with-retrys-text",
        ),
        pytest.param(
            "abortJob",
            "400",
            {"error": {"type": "Conflict", "message": "Job 1 is created."}},
            False,
            id="abort-refused-typed",
        ),
        pytest.param(
            "retryJob",
            "400",
            {"error": "Job 1 is running; only a failed job can be retried."},
            True,
            id="retry-refused",
        ),
        pytest.param("login", "401", {"error": {"type": "Missing credentials", "message": "x"}}, False, id="login"),
        pytest.param(
            "renewLogin",
            "401",
            {"error": {"type": "Invalid session", "message": "User is not logged in."}},
            True,
            id="renew",
        ),
        pytest.param(
            "renewLogin", "401", {"error": {"type": "Invalid session", "message": "x"}}, False, id="renew-text"
        ),
        pytest.param("getJobs", "403", {"message": "Forbidden."}, False, id="403-text"),
        pytest.param(
            "login",
            "400",
            {"error": {"type": "Bad Request", "message": "body: expected a JSON object"}},
            True,
            id="login-bad-request",
        ),
    ],
)
def test_error_bodies_are_exact_per_status(operation: str, code: str, body: Any, valid: bool) -> None:
    schema = SPEC.operation(operation).responses[code]["content"]["application/json"]["schema"]
    assert OAS31Validator(schema).is_valid(body) is valid


def test_list_links_reach_every_job_operation() -> None:
    links = SPEC.operation("getJobs").responses["200"]["links"]
    assert {link["operationId"] for link in links.values()} == {"getJob", "abortJob", "retryJob", "deleteJob"}


def test_delete_links_back_to_the_deleted_job() -> None:
    links = SPEC.operation("deleteJob").responses["204"]["links"]
    assert links["GetDeletedJob"]["parameters"] == {"id": "$request.path.id"}


def test_operation_ids_are_nicks_client_methods() -> None:
    assert set(SPEC.operations) == {*JOBS_OPERATIONS, "login", "renewLogin", "logout"}


def test_the_rate_limits_are_nicks_and_shared_as_nick_shares_them() -> None:
    auth, api = SPEC.rate_limits["AUTH_RATE_LIMIT"], SPEC.rate_limits["API_RATE_LIMIT"]
    assert set(SPEC.rate_limits) == {"AUTH_RATE_LIMIT", "API_RATE_LIMIT"}
    assert (auth.window, auth.default, set(auth.operations)) == (900, 5, {"login", "renewLogin"})
    assert auth.body == {"message": "Too many authentication attempts"}
    assert (api.window, api.default, set(api.operations)) == (900, 100, {"getJobs"})
    assert api.body == {"message": "Too many requests"}
    assert SPEC.rate_limit("renewLogin") is auth and SPEC.rate_limit("getJobs") is api
    assert SPEC.rate_limit("logout") is None and SPEC.rate_limit("abortJob") is None
    assert auth.describe() == "5 per 15 minutes by default"


@pytest.mark.parametrize("operation_id", ["login", "renewLogin", "getJobs"])
def test_a_429_documents_retry_after_and_the_ratelimit_headers(operation_id: str) -> None:
    headers = SPEC.operation(operation_id).responses["429"]["headers"]
    assert set(headers) == {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}
    assert headers["Retry-After"]["required"] is True


def test_no_path_promises_405_or_allow() -> None:
    """Nick answers a method a path does not declare with its 404: the packaged spec documents no 405."""
    assert not any(SPEC.promises_405(path) for path in SPEC.raw["paths"])
    assert all(405 not in operation.documented_statuses for operation in SPEC.operations.values())
