"""Judges every exchange that passed through the proxy: its answer against the spec, its jobs against the lifecycle.

One inspector per proxy, fed by the sequencer on a thread of its own, one exchange at a time, so
the checks never hold an answer up. Every rule is someone else's: answers are judged by
`verdicts.checks`, jobs by `jobspec.invariants` (through the tracker), both as the spec says.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from jobspec import Operation, Spec
from jobspec.invariants import jobs_in, state_field_problems, timestamp_order_problems
from jobspec.operations import find_operations, session_operations
from jobsproxy.config import MAX_JOBS
from jobsproxy.exchange import ABANDONED, MALFORMED, UNPASSABLE, Exchange
from jobsproxy.journal import Journal
from jobsproxy.operations import OperationMap
from jobsproxy.sessions import TOKEN_WORKS, Sessions
from jobsproxy.tracker import JobTracker, Span, Verdict
from verdicts import checks
from verdicts.checks import NO_TOKEN
from verdicts.exchanges import EXCERPT, TOKEN_FIELD, VARIABLE_PREFIX, Request, Response
from verdicts.exchanges import Exchange as Judged
from verdicts.results import Finding, Outcome, Results

ANSWERS = "answers"
LIFECYCLE = "lifecycle"
MALFORMED_REFUSED = "malformed_request_refused"
VALID_HTTP = "answer_is_valid_http"  # an answer the proxy could not read as HTTP is no answer the spec documents
FINDINGS_KEPT = 100  # findings kept per check and subject, the newest (the journal keeps more; the counts are exact)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
BAD_REQUEST = 400  # what a request the spec refuses gets (any 4xx in Nick's shape is a refusal)
TOO_MANY = 429  # a rate limit answers before the request is read
PASSWORD_FIELD = "password"  # the login body's secret, shown as $JOBS_PASSWORD


class Inspector:
    """The checks of one proxy, what they found, and what the traffic covered."""

    def __init__(self, spec: Spec, journal: Journal, *, shared: bool = False, max_jobs: int = MAX_JOBS) -> None:
        self.spec = spec
        self.lifecycle = spec.lifecycle
        self.journal = journal
        self.operations = OperationMap(spec)
        self.results = Results(timed=False)  # the time between exchanges of the traffic is no check's
        self.tracker = JobTracker(spec.lifecycle, shared=shared, max_jobs=max_jobs)
        self.sessions = Sessions()
        self.login, self.renew, self.logout = session_operations(spec)
        _, _, self.item, self.id_field = find_operations(spec)
        self.calls: Counter[tuple[str, int]] = Counter()  # (operationId, status) -> how many
        self.exchanges = 0
        self.outside = 0  # requests for no operation of the spec, passed through unchecked
        self.unanswered = 0  # exchanges without a whole answer the proxy could pass on (a fault)
        self.tried: set[str] = set()  # operations requested that got no whole answer
        self.findings_forgotten = 0  # findings let go past FINDINGS_KEPT
        self.lock = threading.Lock()

    def inspect(self, exchange: Exchange, overlapping: tuple[Exchange, ...] = ()) -> None:
        """Judge one exchange; a failure of the checks themselves is a note, never a finding."""
        with self.lock:
            self.exchanges += 1
            try:
                self._inspect(exchange, overlapping)
            except Exception as exc:  # noqa: BLE001 (a bug of the proxy must not stop the traffic or look like a finding)
                where = traceback.extract_tb(exc.__traceback__)[-1]
                self.journal.note(
                    f"the proxy failed to check this exchange: {type(exc).__name__}: {exc} "
                    f"({Path(where.filename).name}:{where.lineno})",
                    exchange=exchange.seq,
                    request=_line(exchange),
                )

    def _inspect(self, exchange: Exchange, overlapping: tuple[Exchange, ...]) -> None:
        self._keep_secrets(exchange)
        matched = self.operations.match(exchange.method, exchange.path)
        if exchange.fault:
            self._unanswered(exchange, matched)
            return
        if matched is None:
            self._outside(exchange)
            return
        operation, parameters = matched
        self.calls[(operation.operation_id, exchange.status)] += 1
        content, unchecked = exchange.response_content()
        judged = self._judged(exchange, content)
        if unchecked:
            self.journal.note(f"body not checked: {unchecked}", exchange=exchange.seq, request=_line(exchange))
        verdicts = self._answer(operation, exchange, judged, unchecked)
        job_id = next(iter(parameters.values()), None)
        verdicts += self._session(operation, exchange, judged)
        if content is not None:
            verdicts += self._jobs(operation, exchange, judged, job_id, overlapping)
        if job_id is not None and operation.operation_id in self.tracker.answers:
            verdicts += self.tracker.act(job_id, operation.operation_id, exchange.status, _span(exchange))
        self._record(exchange, judged, verdicts, job_id)

    def _unanswered(self, exchange: Exchange, matched: tuple[Operation, dict[str, str]] | None) -> None:
        """No whole answer to pass on: a note, or (an answer that is not HTTP) a violation; its checks not exercised."""
        self.unanswered += 1
        self._unknown_effect(exchange, matched)
        if matched is None or exchange.fault != MALFORMED:
            self.journal.note(_unanswered_note(exchange), exchange=exchange.seq, request=_line(exchange))
        if matched is None:
            self.outside += 1
            return
        operation, parameters = matched
        self.tried.add(operation.operation_id)
        if exchange.status:
            self.calls[(operation.operation_id, exchange.status)] += 1
        why = f"no whole answer to check: {exchange.error}"
        verdicts = [Verdict(checks.DOCUMENTED_ANSWER, operation.operation_id, [], unexercised=why)]
        if exchange.fault == MALFORMED:
            problem = f"Received {exchange.error} / Documented: a whole HTTP/1.1 answer (RFC 9112)"
            verdicts.append(Verdict(VALID_HTTP, operation.operation_id, [problem]))
        self._record(exchange, self._judged(exchange, None), verdicts, next(iter(parameters.values()), None))

    # ---- the answer ------------------------------------------------------------------------
    def _answer(self, operation: Operation, exchange: Exchange, judged: Judged, unchecked: str) -> list[Verdict]:
        response = judged.response
        language = exchange.request_headers.get("Accept-Language")
        complete = not unchecked
        texts = complete and english(language)
        problems = (
            checks.documented_problems(operation, judged)
            if texts
            else checks.status_problems(operation, response) or checks.content_type_problems(operation, response)
        )
        if not complete and not problems:  # a body not checked is not exercised, never passed
            verdict = Verdict(checks.DOCUMENTED_ANSWER, operation.operation_id, [], unexercised=unchecked)
            return [verdict, *self._auth(operation, exchange), *self._request_body(operation, exchange)]
        if complete and not texts and response.status >= 400:
            self.journal.note(
                f"the error's texts not judged: the client asked for Accept-Language: {language} (the spec's texts "
                "are the English ones; Nick translates)",
                exchange=exchange.seq,
                request=_line(exchange),
            )
        verdicts = [Verdict(checks.DOCUMENTED_ANSWER, operation.operation_id, problems)]
        return verdicts + self._auth(operation, exchange) + self._request_body(operation, exchange)

    def _auth(self, operation: Operation, exchange: Exchange) -> list[Verdict]:
        """A protected operation answered 2xx to a request without a token."""
        if not operation.needs_auth(self.spec.security) or _bearer(exchange) is not None:
            return []
        accepted = 200 <= exchange.status < 300
        problem = f"Received {exchange.status} without credentials / Documented: 401"
        return [Verdict(NO_TOKEN, operation.operation_id, [problem] if accepted else [])]

    def _request_body(self, operation: Operation, exchange: Exchange) -> list[Verdict]:
        """The client's body against the spec: the client's departure is a note; accepting it, a violation."""
        raw = exchange.request_body.body
        if raw is None or "requestBody" not in operation.definition:
            return []
        sent = checks.request_problems(operation, raw)
        if not sent:
            return []
        self.journal.note(
            f"the client's request departs from the spec: {'; '.join(sent)}",
            exchange=exchange.seq,
            request=_line(exchange),
        )
        status, missing = exchange.status, checks.missing_fields(operation, raw)
        if 200 <= status < 300:
            problem = f"Received {status} for a request the spec refuses ({sent[0]}) / Documented: {BAD_REQUEST}"
        elif missing and status not in (BAD_REQUEST, TOO_MANY) and not operation.needs_auth(self.spec.security):
            problem = f"Received {status} for a request without {', '.join(missing)} / Documented: {BAD_REQUEST}"
        elif status >= 500:
            problem = f"Received {status} for a malformed request ({sent[0]}) / Documented: a 4xx in Nick's shape"
        else:
            problem = ""  # any other 4xx (Nick's login takes a login that is not a string for an unknown user: 401)
        return [Verdict(MALFORMED_REFUSED, operation.operation_id, [problem] if problem else [])]

    def _session(self, operation: Operation, exchange: Exchange, judged: Judged) -> list[Verdict]:
        """Tokens handed out and ended, and every later use of them."""
        token, status = _bearer(exchange), exchange.status
        data = judged.response.data
        answered = data.get(TOKEN_FIELD) if isinstance(data, dict) and 200 <= status < 300 else None
        if isinstance(answered, str) and operation in (self.login, self.renew):
            self.sessions.hand_out(answered, renewed=operation is self.renew)
        if operation is self.logout and token is not None and 200 <= status < 300:
            self.sessions.end(token, f"{operation.operation_id} answered {status}")
            return []
        if token is None or not operation.needs_auth(self.spec.security):
            return []
        verdict = self.sessions.judge(token, operation.operation_id, status)
        return [] if verdict is None else [verdict]

    # ---- the jobs it shows -----------------------------------------------------------------
    def _jobs(
        self,
        operation: Operation,
        exchange: Exchange,
        judged: Judged,
        job_id: str | None,
        overlapping: tuple[Exchange, ...],
    ) -> list[Verdict]:
        data = judged.response.data
        if not 200 <= exchange.status < 300 or data is None:
            return []
        verdicts: list[Verdict] = []
        for job in jobs_in(self.lifecycle, data):
            found = job.get(self.id_field)
            if not isinstance(found, str):
                continue
            subject = operation.operation_id
            seen = [
                Verdict(checks.STATE_FIELDS, subject, state_field_problems(self.lifecycle, job)),
                Verdict(checks.TIMESTAMPS_ORDERED, subject, timestamp_order_problems(self.lifecycle, job)),
                *self.tracker.observe(found, job, _span(exchange), self._ahead(found, overlapping)),
            ]
            verdicts += [dataclasses.replace(verdict, job=found) for verdict in seen]
        if operation.operation_id == self.item and isinstance(data, dict) and job_id is not None:
            verdicts.append(Verdict(checks.ITEM_NAMES_ITS_URL, operation.operation_id, _url_problems(exchange, data)))
        return verdicts

    def _ahead(self, job_id: str, overlapping: tuple[Exchange, ...]) -> list[tuple[str, int]]:
        """Operations of the lifecycle on this job that overlapped the sighting and were answered later."""
        ahead = []
        for other in overlapping:
            matched = self.operations.match(other.method, other.path)
            if matched and job_id in matched[1].values():
                ahead.append((matched[0].operation_id, other.status))
        return ahead

    # ---- outside the contract --------------------------------------------------------------
    def _outside(self, exchange: Exchange) -> None:
        """A request for no operation of the spec: passed on unchecked; a change it made is forgotten."""
        self.outside += 1
        if exchange.method in SAFE_METHODS or not 200 <= exchange.status < 300:
            return
        content, _ = exchange.response_content()
        data = _json(content)
        named = [job_id for job_id in self.tracker.jobs if job_id in exchange.path]
        made = [job.get(self.id_field) for job in jobs_in(self.lifecycle, data)]
        if named:
            for job_id in named:
                self.tracker.forget(job_id)  # moved by hand (a mock's control API): judge it afresh
        elif not made:
            self.tracker.forget()  # a reset, a clock, anything: what the proxy knew may no longer hold
            self.sessions.forget()

    def _unknown_effect(self, exchange: Exchange, matched: tuple[Operation, dict[str, str]] | None) -> None:
        """A request that got no answer may still have acted: forget what it may have changed."""
        if exchange.method in SAFE_METHODS:
            return
        if matched is not None and matched[1]:
            self.tracker.forget(next(iter(matched[1].values())))
        elif matched is None:
            self.tracker.forget()

    # ---- records ---------------------------------------------------------------------------
    def _record(self, exchange: Exchange, judged: Judged, verdicts: list[Verdict], job_id: str | None) -> None:
        for verdict in verdicts:
            phase = ANSWERS if verdict.check in ANSWER_CHECKS else LIFECYCLE
            if verdict.unexercised:
                self.results.not_exercised(phase, verdict.check, verdict.subject, verdict.unexercised)
            elif verdict.problems:
                finding = Finding.from_exchange(verdict.check, verdict.subject, "\n".join(verdict.problems), judged)
                result = self.results.failed(phase, verdict.check, verdict.subject, finding)
                if len(result.findings) > FINDINGS_KEPT:
                    del result.findings[0]
                    self.findings_forgotten += 1
                self.journal.violation(finding, exchange=exchange.seq, job=verdict.job or job_id)
            else:
                self.results.passed(phase, verdict.check, verdict.subject)
            if verdict.cell is not None and verdict.cell[0] is not None:
                self.results.cell(*verdict.cell, Outcome.FAILED if verdict.problems else Outcome.PASSED)

    def _keep_secrets(self, exchange: Exchange) -> None:
        token = _bearer(exchange)
        if token:
            self.journal.secrets.keep(token)
        data = _json(exchange.response_content()[0])
        answered = data.get(TOKEN_FIELD) if isinstance(data, dict) else None
        if isinstance(answered, str):
            self.journal.secrets.keep(answered)

    def _judged(self, exchange: Exchange, content: bytes | None) -> Judged:
        """The exchange as the suite's checks take it: the request as sent upstream, the answer as received."""
        headers = {"Authorization": f"Bearer {VARIABLE_PREFIX}TOKEN"} if _bearer(exchange) else {}
        body = _json(exchange.request_body.body)
        if isinstance(body, dict) and PASSWORD_FIELD in body:
            body = {**body, PASSWORD_FIELD: f"{VARIABLE_PREFIX}PASSWORD"}
        text = (content or b"").decode("utf-8", "replace")
        response_headers = {name: exchange.response_headers[name] for name in exchange.response_headers}
        request = Request(exchange.method, exchange.upstream_url, headers, body)
        error = exchange.error if not exchange.status else ""
        return Judged(request, Response(exchange.status, response_headers, text[:EXCERPT], _json(content), error))


ANSWER_CHECKS = frozenset(
    {
        checks.DOCUMENTED_ANSWER,
        VALID_HTTP,
        NO_TOKEN,
        MALFORMED_REFUSED,
        checks.ITEM_NAMES_ITS_URL,
        checks.LOGOUT_ENDS_SESSION,
        checks.RENEWED_TOKEN_WORKS,
        TOKEN_WORKS,
    }
)


def _url_problems(exchange: Exchange, job: dict[str, Any]) -> list[str]:
    """`@id` names the job's address: the one the client used, or the upstream's own (forwarded headers ignored)."""
    found = job.get(checks.ID_URL)
    wanted = (exchange.client_url.split("?", 1)[0], exchange.upstream_url.split("?", 1)[0])
    if found in wanted:
        return []
    return [
        f"Received `{checks.ID_URL}`: {json.dumps(found)} / Documented: {wanted[0]} (the address the client used) or {wanted[1]}"
    ]


def _bearer(exchange: Exchange) -> str | None:
    scheme, _, token = exchange.request_headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _json(content: bytes | None) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return None


def _span(exchange: Exchange) -> Span:
    return Span(exchange.sent, exchange.answered)


def english(header: str | None) -> bool:
    """Whether an `Accept-Language` asks for English first (or for nothing in particular): the spec's texts."""
    if not header:
        return True
    ranked = []
    for order, item in enumerate(header.split(",")):
        tag, _, parameters = item.strip().partition(";")
        quality = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
        if tag.strip() and quality > 0:
            ranked.append((-quality, order, tag.strip().lower()))
    return not ranked or min(ranked)[2] in ("*", "en") or min(ranked)[2].startswith("en-")


def _unanswered_note(exchange: Exchange) -> str:
    if exchange.fault == UNPASSABLE:
        return f"the answer was not passed on (a 502 instead): {exchange.error}"
    if exchange.fault == MALFORMED:
        return f"received {exchange.error} (outside the spec: not judged)"
    if exchange.fault == ABANDONED:
        return f"{exchange.error} (not judged)"
    return f"no answer from the upstream: {exchange.error}"


def _line(exchange: Exchange) -> str:
    status = exchange.status or "no answer"
    return f"{exchange.method} {exchange.upstream_url} -> {status}"
