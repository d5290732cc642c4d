"""The suite's schemathesis checks: the spec's invariants applied to every job in every answer schemathesis gets,
and `ignored_auth` with its probes sent as every request of the suite is.

Made for one run and handed to schemathesis as the `additional_checks` of each call it validates
(documented for `Case.call_and_validate` and `APIStateMachine.validate_response`): never
registered globally, so they judge by the run's own lifecycle, and a plain `st run` in the same
process is left as it is. The invariants are `jobspec.invariants`', their names those of
`verdicts.checks` (a check's name is its function's).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from http import HTTPStatus
from typing import Any

import requests

from jobspec import Lifecycle
from jobspec.invariants import duplicate_problems, jobs_in, state_field_problems, timestamp_order_problems

Job = dict[str, Any]
Check = Callable[[Any, Any, Any], bool | None]  # schemathesis's check signature: (ctx, response, case)


def job_checks(lifecycle: Lifecycle, id_field: str) -> list[Check]:
    """The checks for a spec's lifecycle and its jobs' id field."""

    def jobs_of(response: Any) -> list[Job] | None:
        if not 200 <= response.status_code < 300 or not response.content:
            return None
        try:
            data = response.json()
        except ValueError:
            return None
        return jobs_in(lifecycle, data)

    def judged(response: Any, problems_of: Callable[[Lifecycle, Job], list[str]]) -> bool | None:
        """Apply one invariant to every job of a response: None if it carries no jobs, AssertionError on a breach."""
        jobs = jobs_of(response)
        if jobs is None:
            return None
        problems = [f"job {job.get(id_field)}: {p}" for job in jobs for p in problems_of(lifecycle, job)]
        if problems:
            raise AssertionError("\n".join(problems))
        return True

    def job_state_fields(ctx: Any, response: Any, case: Any) -> bool | None:
        """Every job in every response has its timestamps null or set as its state says."""
        return judged(response, state_field_problems)

    def job_timestamps_ordered(ctx: Any, response: Any, case: Any) -> bool | None:
        """Every job in every response has its set timestamps in the spec's order."""
        return judged(response, timestamp_order_problems)

    def jobs_listed_once(ctx: Any, response: Any, case: Any) -> bool | None:
        """No list in any response holds a job twice."""
        if jobs_of(response) is None:
            return None
        problems = duplicate_problems(lifecycle, response.json(), id_field)
        if problems:
            raise AssertionError("\n".join(problems))
        return True

    return [job_state_fields, job_timestamps_ordered, jobs_listed_once]


AUTH_REFUSALS = (401, 403)
INVALID_TOKEN = "Bearer invalid.token.for-jobs-conformance"  # noqa: S105 (a token no deployment issued)


def auth_check(
    session: requests.Session,
    guarded: Collection[str],
    optional: Collection[str],
    unanswered: tuple[type[Exception], ...],
    reason: Callable[[Exception], str],
) -> Check:
    """schemathesis's `ignored_auth`, as its engine runs it (one confirmation per operation and run), with its probes
    sent on `session`: the built-in check sends them on a session of its own, outside the suite's deadline and cap,
    so the schema phase turns it off (`checks.ignored_auth.enabled = false`) and runs this one in its place.

    An answer in 2xx to a request with the suite's credentials, to an operation that needs them (`guarded`, by its
    label), is followed by the same request without credentials and with invalid ones: each must be refused (401 or
    403; a redirect counts, as a sign-in page does). Operations with an anonymous alternative (`optional`) are not
    judged, nor requests with another method than the operation's (Express answers `OPTIONS` on every path, to
    anyone, and Nick with it). A probe that gets no working answer (one of `unanswered`, bounded by the session) fails the check, with
    `reason` saying why.
    """
    confirmed: set[str] = set()

    def ignored_auth(ctx: Any, response: Any, case: Any) -> bool | None:
        """An operation that needs credentials refuses requests without them, and with invalid ones."""
        operation = case.operation.label
        if operation in optional:
            return True
        sent = response.request
        if operation not in guarded or operation in confirmed or "Authorization" not in sent.headers:
            return None
        if (sent.method or "").upper() != case.operation.method.upper():
            return None  # a method the operation does not declare (the coverage phase's probe) says nothing of its auth
        if not 200 <= response.status_code < 300:
            return None
        confirmed.add(operation)
        for authorization, title, kind in (
            (None, "API accepts requests without authentication", "a request without authentication"),
            (INVALID_TOKEN, "API accepts invalid authentication", "invalid authentication"),
        ):
            probe = sent.copy()
            del probe.headers["Authorization"]
            if authorization is not None:
                probe.headers["Authorization"] = authorization
            try:
                answer = session.send(probe, allow_redirects=False)
            except unanswered as exc:
                raise AssertionError(f"No answer to {kind}\n{reason(exc)}") from exc
            status = answer.status_code
            if status not in AUTH_REFUSALS and not 300 <= status < 400:
                phrase = _phrase(status)
                title = title if 200 <= status < 300 else f"Unexpected response to {kind}"
                raise AssertionError(f"{title}\nExpected 401 or 403, got `{status} {phrase}` for `{operation}`")
        return None

    return ignored_auth


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
