"""What each named check asks of a deployment, in one sentence: the catalogue the docs show and reports can cite.

Keyed by the names results carry (`verdicts.checks`, the suite's auth phase, the proxy's own);
`tests/test_catalogue.py` holds that every check the suite registers, and every one the proxy
judges by, is described here.
"""

from __future__ import annotations

from verdicts import checks

CHECKS: dict[str, str] = {
    # Tokens and sessions (the suite's auth phase; the proxy judges some of them in the traffic).
    checks.NO_TOKEN: "A guarded operation called without a token is refused with the status and body the spec documents (401).",
    "auth_garbage_token": "A guarded operation called with a token that is no JWT at all is refused as documented (401).",
    "auth_forged_token": "A token that is unsigned (`alg: none`) or signed with another key is refused as documented (401).",
    "auth_expired_token": "A well-signed token past its `exp` is refused as documented (401). Like the next two, exercised where the suite signs with the deployment's JWT secret.",
    "auth_unknown_user_token": "A well-signed token of a user the deployment does not know is refused as documented (401), never a 500.",
    "auth_never_issued_token": "A well-signed, unexpired token the deployment never issued is refused as documented (401).",
    "auth_forbidden_user": "A user who may not manage jobs is refused as documented (403) by every jobs operation.",
    checks.TOKEN_IS_JWT: "The tokens login and renewal hand out are JWTs (the spec's `bearerFormat`) naming the user (`sub`) and expiring (`exp`), valid for exactly the spec's token lifetime (`x-token-lifetime`) where it gives one.",
    checks.LOGIN_WRONG_PASSWORD: 'A wrong password is refused with 401 "Invalid credentials" in the documented body.',
    checks.LOGIN_MISSING_FIELD: 'A login without a login or a password (absent, null or empty) is refused with 400 "Missing credentials".',
    checks.LOGIN_MALFORMED_BODY: "A password that is not a string, or a body that is not JSON, is refused with a documented 4xx in its documented body, never a 500 or an HTML page.",
    checks.RENEWED_TOKEN_WORKS: "A token handed out by renewal works until it expires or is logged out.",
    "handed_out_token_works": "A token handed out by a login works until it expires or is logged out (seen in the traffic).",
    checks.LOGOUT_ENDS_SESSION: "After a logout the token is refused by the jobs operations and by renewal, while a new login still works.",
    checks.LOGOUT_IDEMPOTENT: "Logging out again, or without a token, still answers as documented (204).",
    # The answers to one request.
    checks.DOCUMENTED_ANSWER: "An answer's status is documented for its operation, its Content-Type is the documented one, and its body the documented body for that status.",
    "answer_is_valid_http": "The upstream's answer is a whole HTTP/1.1 answer (RFC 9112): one the proxy cannot read is no answer the spec documents.",
    "malformed_request_refused": "A request body the spec refuses is refused (any 4xx), never accepted (2xx) nor answered with a server error (5xx).",
    checks.UNKNOWN_JOB: "An id no job has, and one that is not even a UUID, are answered by every job operation as for a deleted job (404).",
    checks.ITEM_NAMES_ITS_URL: "A job's `@id` is the address the client used, path prefix included (the proxy also accepts the upstream's own).",
    # Every job in every answer: the lifecycle's invariants.
    checks.STATE_FIELDS: "Every job shows its timestamps null or set as its state requires.",
    checks.TIMESTAMPS_ORDERED: "Every job's set timestamps are in the order the lifecycle gives them (`orderedTimestamps`).",
    checks.LISTED_ONCE: "No list holds a job twice.",
    checks.LIST_AGREES: "The list shows a job as its single GET does, and holds it once.",
    # The lifecycle: one cell (a state and an operation) at a time.
    checks.TRANSITION_ANSWER: "An operation the lifecycle allows in the job's state answers the transition's status.",
    checks.TRANSITION_RESULT: "After an allowed operation the job is in the transition's target state, with the fields the transition changes changed and the immutable ones untouched.",
    checks.REFUSAL_ANSWER: "An operation the lifecycle refuses in the job's state answers the refusal's status and body, its message naming the job's state.",
    checks.REFUSAL_UNCHANGED: "A refused operation leaves the job exactly as it was.",
    checks.DELETION_ANSWER: "Deleting a job, from any state, answers the removal's status (204).",
    checks.DELETION_FINAL: "A deleted job is gone: every operation on it answers 404 and no list shows it again.",
    checks.WORKER_FOLLOWS: "Every sequence of states the worker is seen to take follows the lifecycle, and the output and error it leaves are non-empty objects.",
    # Every job across the traffic (the proxy).
    "job_follows_lifecycle": "Between two sightings a job changes only as the worker's transitions and the operations sent in between allow (with `--shared`, any chain of the lifecycle's transitions).",
    checks.IMMUTABLE_FIELDS: "A field the lifecycle calls immutable never changes.",
    "timestamps_never_go_back": "A job's timestamps never move back in time between sightings.",
}


def describe(name: str) -> str:
    """The sentence for a check, or KeyError naming the check that has none."""
    try:
        return CHECKS[name]
    except KeyError:
        raise KeyError(f"check {name!r} is not in verdicts.catalogue.CHECKS") from None
