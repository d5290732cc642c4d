"""The named checks the suite and the proxy share: their names, and answers judged against the spec.

The rules themselves live in `jobspec.invariants`; nothing here knows a state, a transition or a
field of the lifecycle by name.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jsonschema_rs

from jobspec import Operation
from jobspec.invariants import show
from verdicts.exchanges import Exchange, Response

# Check names, as reports and tests know them.
STATE_FIELDS = "job_state_fields"
TIMESTAMPS_ORDERED = "job_timestamps_ordered"
LISTED_ONCE = "jobs_listed_once"
IMMUTABLE_FIELDS = "job_immutable_fields"
TRANSITION_ANSWER = "transition_answer"
TRANSITION_RESULT = "transition_result"
REFUSAL_ANSWER = "refusal_answer"
REFUSAL_UNCHANGED = "refusal_leaves_job_unchanged"
LIST_AGREES = "list_agrees_with_item"
DELETION_ANSWER = "deletion_answer"
DELETION_FINAL = "deletion_is_final"
WORKER_FOLLOWS = "worker_follows_lifecycle"
ITEM_NAMES_ITS_URL = "item_names_its_url"
LOGIN_WRONG_PASSWORD = "login_refuses_wrong_password"
LOGIN_MISSING_FIELD = "login_requires_both_fields"
LOGIN_MALFORMED_BODY = "login_refuses_malformed_body"
TOKEN_IS_JWT = "token_is_a_jwt"
RENEWED_TOKEN_WORKS = "renewed_token_works"
LOGOUT_ENDS_SESSION = "logout_ends_the_session"
LOGOUT_IDEMPOTENT = "logout_is_idempotent"
UNKNOWN_JOB = "unknown_job_not_found"
ID_URL = "@id"  # plone.restapi's absolute URL of a resource
DOCUMENTED_ANSWER = "documented_answer"
REQUEST_BODY = "request_body"
NO_TOKEN = "auth_no_token"  # a protected operation called without a token must be refused


def answer_problems(operation: Operation, exchange: Exchange, status: int | None) -> list[str]:
    """The status received against `status`, and its body against the body the spec documents for it."""
    response = exchange.response
    if response.status != status:
        return [f"Received {response.received} / Documented: {status}"]
    documented = operation.responses.get(str(status), {})
    media_types = documented.get("content", {})
    received = _media_type(response.headers)
    if media_types and received not in media_types:
        return [f"Received Content-Type {received or 'none'!r} / Documented for {status}: {', '.join(media_types)}"]
    schema = media_types.get("application/json", {}).get("schema")
    if schema is None:
        return []
    if response.data is None:
        return [f"Received a body that is not JSON: {response.body[:200]!r} / Documented: {show(schema)[:200]}"]
    return [
        f"Received body {show(response.data)[:300]} / Documented for {status}: {error.message}"
        for error in _errors(schema, response.data)
    ]


def status_problems(operation: Operation, response: Response) -> list[str]:
    """A status the operation does not document."""
    if str(response.status) in operation.responses or "default" in operation.responses:
        return []
    return [f"Received {response.received} / Documented for {operation.operation_id}: {', '.join(operation.responses)}"]


def content_type_problems(operation: Operation, response: Response) -> list[str]:
    """The media type of an answer against those its status documents; no body where none is documented."""
    content = operation.responses.get(str(response.status), {}).get("content", {})
    received = next((v for k, v in response.headers.items() if k.lower() == "content-type"), "")
    media = _media_type(response.headers)
    if not content:
        return [f"Received a body: {response.body[:100]!r} / Documented: no body"] if response.body else []
    if media not in content and "*/*" not in content:
        shown = f"Content-Type {received!r}" if received else "no Content-Type"
        return [f"Received {shown} / Documented for {response.status}: {', '.join(content)}"]
    return []


def documented_problems(operation: Operation, exchange: Exchange) -> list[str]:
    """Any answer of an operation: its status documented, its content type and body as documented for that status."""
    response = exchange.response
    return (
        status_problems(operation, response)
        or content_type_problems(operation, response)
        or answer_problems(operation, exchange, response.status)
    )


def request_problems(operation: Operation, raw: bytes) -> list[str]:
    """A request body against the JSON schema the operation documents for it."""
    body = operation.definition.get("requestBody", {})
    schema = body.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return []
    documented = f"Documented: the JSON body of {operation.operation_id}"
    if not raw:
        return [f"Sent no body / {documented}"] if body.get("required") else []
    try:
        data = json.loads(raw)
    except ValueError:
        return [f"Sent a body that is not JSON: {raw[:100]!r} / {documented}"]
    return [f"Sent body: {error.message} / {documented}" for error in _errors(schema, data)]


def missing_fields(operation: Operation, raw: bytes) -> list[str]:
    """The required members of a JSON object body that are absent, null or empty (the contract's "missing": 400)."""
    schema = operation.definition.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if not isinstance(schema, dict):
        return []
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    return [name for name in schema.get("required", []) if data.get(name) in (None, "")]


def _errors(schema: Any, data: Any) -> list[Any]:
    return list(_validator(show(schema)).iter_errors(data))[:3]


def _media_type(headers: dict[str, str]) -> str:
    """The media type of a Content-Type header, without its parameters (`; charset=utf-8`)."""
    value = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return value.split(";", 1)[0].strip().lower()


@functools.cache
def _validator(schema: str) -> Any:
    return jsonschema_rs.validator_for(json.loads(schema))
