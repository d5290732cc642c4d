"""Deliberately broken servers: the suite fails on each, naming the right check.

The variants live in `fakejobs.py` (a small conformant aiohttp server, broken one way at a time)
and `brokenjobs.py` (more ways); each test runs only the phases the violation concerns, with few
examples, to stay fast.
"""

from __future__ import annotations

import pytest

from tests import brokenjobs
from tests.brokenjobs import Breakage
from tests.fakejobs import Violation, check, serve
from verdicts.report import Report
from verdicts.results import Outcome

V, B = Violation, Breakage
VARIANTS = [
    pytest.param(V.MISSING_FIELD, "schema", "response_schema_conformance", id="missing-field"),
    pytest.param(V.WRONG_STATUS, "schema", "status_code_conformance", id="wrong-status-code"),
    pytest.param(V.ACCEPTED_REFUSAL, "lifecycle", "refusal_answer", id="accepted-refused-transition"),
    pytest.param(V.ACCEPTED_REFUSAL, "lifecycle", "refusal_leaves_job_unchanged", id="refusal-changed-the-job"),
    pytest.param(V.RETRY_NO_RESET, "lifecycle", "transition_result", id="retry-does-not-reset"),
    pytest.param(V.DELETE_KEEPS, "lifecycle", "deletion_is_final", id="delete-does-not-delete"),
    pytest.param(V.MISSING_AUTH, "auth", "auth_no_token", id="missing-auth"),
    pytest.param(V.SERVER_ERROR, "schema", "not_a_server_error", id="500-on-bad-input"),
    pytest.param(V.BROKEN_INVARIANT, "schema", "job_state_fields", id="broken-invariant"),
    pytest.param(V.WRONG_CONTENT_TYPE, "schema", "content_type_conformance", id="wrong-content-type"),
    pytest.param(V.LIST_DISAGREES, "lifecycle", "list_agrees_with_item", id="list-disagrees-with-get"),
    pytest.param(V.REFUSAL_409, "lifecycle", "refusal_answer", id="refusal-answers-409"),
    pytest.param(V.REFUSAL_409, "schema", "status_code_conformance", id="refusal-answers-409-schema"),
    pytest.param(V.FORBIDDEN_ALLOWED, "auth", "auth_forbidden_user", id="forbidden-user-allowed"),
    pytest.param(V.WORKER_BACKWARDS, "lifecycle", "worker_follows_lifecycle", id="worker-steps-backwards"),
    pytest.param(V.LOGOUT_KEEPS_TOKEN, "auth", "logout_ends_the_session", id="logout-keeps-the-token"),
    pytest.param(V.RENEWED_TOKEN_REFUSED, "auth", "renewed_token_works", id="renewed-token-refused"),
    pytest.param(V.NOT_FOUND_SHAPE, "lifecycle", "deletion_is_final", id="404-shape-named-check"),
    pytest.param(V.NOT_FOUND_SHAPE, "schema", "response_schema_conformance", id="404-shape-schema"),
    pytest.param(V.REFUSAL_TYPED, "lifecycle", "refusal_answer", id="refusal-typed-shape"),
    pytest.param(V.REFUSAL_TYPED, "schema", "response_schema_conformance", id="refusal-typed-shape-schema"),
    pytest.param(V.WRONG_PASSWORD_400, "auth", "login_refuses_wrong_password", id="wrong-password-400"),
    pytest.param(V.MISSING_FIELD_401, "auth", "login_requires_both_fields", id="missing-field-401"),
    pytest.param(V.ID_WITHOUT_PREFIX, "lifecycle", "item_names_its_url", id="id-names-another-address"),
    # Checks added when the suite was measured against breakages it was not written for (tests/redteam.py).
    pytest.param(B.ALG_NONE_ACCEPTED, "auth", "auth_forged_token", id="unsigned-token-accepted"),
    pytest.param(B.EXPIRED_ACCEPTED, "auth", "auth_expired_token", id="expired-token-accepted"),
    pytest.param(B.UNKNOWN_USER_ACCEPTED, "auth", "auth_unknown_user_token", id="unknown-user-accepted"),
    pytest.param(B.TOKEN_WITHOUT_EXP, "auth", "token_is_a_jwt", id="token-never-expires"),
    pytest.param(B.EMPTY_PASSWORD_401, "auth", "login_requires_both_fields", id="empty-password-401"),
    pytest.param(B.WRONG_TYPES_500, "auth", "login_refuses_malformed_body", id="wrong-types-500"),
    pytest.param(B.LOGOUT_NEEDS_TOKEN, "auth", "logout_is_idempotent", id="logout-needs-a-token"),
    pytest.param(B.NON_UUID_400, "lifecycle", "unknown_job_not_found", id="non-uuid-id-400"),
    pytest.param(B.LIST_DUPLICATES, "lifecycle", "list_agrees_with_item", id="list-duplicates-named"),
    pytest.param(B.LIST_DUPLICATES, "schema", "jobs_listed_once", id="list-duplicates-schema"),
    pytest.param(B.REFUSAL_NO_STATE, "lifecycle", "refusal_answer", id="refusal-message-without-state"),
    pytest.param(B.RETRY_DOES_NOTHING, "lifecycle", "transition_result", id="retry-does-nothing"),
    pytest.param(B.WORKER_STUCK, "lifecycle", "worker_follows_lifecycle", id="worker-stuck-mock-fixtures"),
    # The rules the revised contract took from the real Nick.
    pytest.param(B.OLD_REFUSALS, "lifecycle", "refusal_answer", id="old-contract-409-conflict"),
    pytest.param(B.REFUSAL_WORDED, "lifecycle", "refusal_answer", id="refusal-worded-otherwise"),
    pytest.param(B.REFUSAL_CHANGES_JOB, "lifecycle", "refusal_leaves_job_unchanged", id="refusal-changes-the-job"),
    pytest.param(B.NOT_FOUND_TYPED, "lifecycle", "unknown_job_not_found", id="old-typed-404"),
    pytest.param(B.NOT_FOUND_TYPED, "schema", "response_schema_conformance", id="old-typed-404-schema"),
    pytest.param(B.NOT_FOUND_WORDED, "lifecycle", "deletion_is_final", id="404-worded-otherwise"),
    pytest.param(B.DUTCH_ALWAYS, "auth", "auth_no_token", id="dutch-to-english"),
    pytest.param(B.DUTCH_ALWAYS, "auth", "login_requires_both_fields", id="dutch-login-errors"),
]


def failed_checks(report: Report) -> set[tuple[str, str]]:
    return {(r.phase, r.name) for r in report.results if r.outcome is Outcome.FAILED}


@pytest.mark.parametrize(("violation", "phase", "name"), VARIANTS)
def test_variant__the_suite_fails_naming_the_check(violation: Violation | Breakage, phase: str, name: str) -> None:
    broken = serve(violation) if isinstance(violation, Violation) else brokenjobs.serve(violation)
    with broken as server:
        report = check(server.url, phase)
        issued = list(server.issued)
    assert report.exit_code == 1, report.error
    assert (phase, name) in failed_checks(report), failed_checks(report)
    failure = next(r for r in report.results if (r.phase, r.name, r.outcome) == (phase, name, Outcome.FAILED))
    finding = failure.findings[0]
    assert finding.message and finding.curl.startswith("curl ")
    assert finding.response is not None and finding.request is not None
    shown = repr(failure.findings)
    assert issued and not [token for token in issued if token in shown], "a token leaked into the report"


def test_conformant_server__every_phase_passes_and_every_cell_is_exercised() -> None:
    with serve() as server:
        report = check(server.url, "auth", "schema", "lifecycle")
    assert failed_checks(report) == set()
    assert report.exit_code == 0
    matrix = report.matrix()
    assert all(mark in ("pass", "") for row in matrix.values() for mark in row.values()), matrix
    assert sum(mark == "pass" for row in matrix.values() for mark in row.values()) == len(report.cells)
