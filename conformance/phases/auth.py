"""The auth phase: every guarded operation without valid credentials, and the session's life.

Without a token, with a garbage one, a forged one (unsigned, or signed with another key), an
expired one, one of an unknown user, and as a user who may not manage jobs, each guarded
operation must refuse with its documented status and body. Then, on throwaway sessions: the
tokens handed out are what the spec's bearer scheme says; a wrong password, a missing or empty
field and a malformed body are refused as documented; a renewed token works; and a token logged
out no longer does (for the jobs operations and for renewal) while a new login still works, and
logging out again, or without a token, still answers as documented.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from conformance import tokens
from conformance.options import JWT_SECRET_ENV, Options
from conformance.target import Progress, Target
from jobspec import Operation, Spec
from jobspec.operations import find_operations, session_operations
from verdicts import checks
from verdicts.checks import NO_TOKEN
from verdicts.exchanges import Exchange

PHASE = "auth"
GARBAGE_TOKEN = "auth_garbage_token"
FORGED_TOKEN = "auth_forged_token"
EXPIRED_TOKEN = "auth_expired_token"
UNKNOWN_USER_TOKEN = "auth_unknown_user_token"
NEVER_ISSUED_TOKEN = "auth_never_issued_token"
FORBIDDEN_USER = "auth_forbidden_user"
GARBAGE = "not-a-valid-token"
NOT_JSON = '{"login": '  # a body cut short: not JSON at all
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SESSION_CHECKS = (
    checks.TOKEN_IS_JWT,
    checks.LOGIN_WRONG_PASSWORD,
    checks.LOGIN_MISSING_FIELD,
    checks.LOGIN_MALFORMED_BODY,
    checks.RENEWED_TOKEN_WORKS,
    checks.LOGOUT_ENDS_SESSION,
    checks.LOGOUT_IDEMPOTENT,
)
FALLBACK_FORBIDDEN = ("editor", "editor123")  # the mock's own such user, for mocks without POST /__mock__/tokens


def run(target: Target, progress: Progress) -> None:
    """Every guarded operation refused as documented, then the session checks."""
    progress(f"{PHASE}: every guarded operation without valid credentials; login, renewal and logout")
    guarded = guarded_operations(target)
    if not target.jobs_api:  # the session's own operations (renewal) are there still: only the jobs' are not
        jobs_path = target.spec.operation(target.list_operation).path
        for operation in [op for op in guarded if op.path.startswith(jobs_path)]:
            for name in _guarded_checks(operation):
                target.results.not_exercised(PHASE, name, _subject(operation), target.no_jobs_api)
        guarded = [op for op in guarded if not op.path.startswith(jobs_path)]
    forbidden = _forbidden_token(target) if any(403 in op.documented_statuses for op in guarded) else None
    for operation in guarded:
        documented = operation.documented_statuses
        if 401 in documented:
            _expect(target, operation, NO_TOKEN, None, 401)
            _expect(target, operation, GARBAGE_TOKEN, GARBAGE, 401)
            _invalid_tokens(target, operation)
        if 403 not in documented:
            continue
        if forbidden is None:
            options = target.options
            reason = (
                f"no user who may not manage jobs: pass {options.flag('forbidden_login')}/"
                f"{options.flag('forbidden_password')} (or {options.flag('fixtures')} mock against the mock)"
            )
            target.results.not_exercised(PHASE, FORBIDDEN_USER, _subject(operation), reason)
        else:
            _expect(target, operation, FORBIDDEN_USER, forbidden, 403)
    Session(target).run()


def groups(spec: Spec) -> tuple[str, ...]:
    """The checks of this phase."""
    return (
        NO_TOKEN,
        GARBAGE_TOKEN,
        FORGED_TOKEN,
        EXPIRED_TOKEN,
        UNKNOWN_USER_TOKEN,
        NEVER_ISSUED_TOKEN,
        FORBIDDEN_USER,
        *SESSION_CHECKS,
    )


def _guarded_checks(operation: Operation) -> tuple[str, ...]:
    documented = operation.documented_statuses
    refused = (NO_TOKEN, GARBAGE_TOKEN, FORGED_TOKEN, EXPIRED_TOKEN, UNKNOWN_USER_TOKEN, NEVER_ISSUED_TOKEN)
    names: tuple[str, ...] = refused if 401 in documented else ()
    return (*names, FORBIDDEN_USER) if 403 in documented else names


def planned(spec: Spec, options: Options) -> Counter[str]:
    """The requests this phase sends to each operation of the session (what rate limits count), at most."""
    login, renew, logout = session_operations(spec)
    sent: Counter[str] = Counter()
    if options.forbidden_login is not None or options.fixtures == "mock":
        sent[login.operation_id] += 1  # the forbidden user's login
    if options.token is not None or options.read_only:
        return sent
    sent[login.operation_id] += 5  # wrong password, two missing fields, two malformed bodies
    if renew is not None:
        sent[login.operation_id] += 1
        sent[renew.operation_id] += 2  # the renewal, and its token tried (where there is no jobs list to try it)
    if logout is not None:
        sent[login.operation_id] += 2  # the session logged out, and the new login after it
        sent[logout.operation_id] += 2 + (not logout.needs_auth(spec.security))
        if renew is not None:
            sent[renew.operation_id] += 3  # the logged-out token renewed, and tokens tried without a jobs list
    sent[find_operations(spec)[1]] += 3  # tokens tried on the list
    return sent


def guarded_operations(target: Target) -> list[Operation]:
    """Operations that need credentials, safe ones only under --read-only."""
    operations = [op for op in target.spec.operations.values() if op.needs_auth(target.spec.security)]
    if target.options.read_only:
        operations = [op for op in operations if op.method in SAFE_METHODS]
    return operations


def _forbidden_token(target: Target) -> str | None:
    options = target.options
    login, password = options.forbidden_login, options.forbidden_password
    if login is None:
        token = target.fixtures.forbidden_token()
        if token is not None or target.fixtures.name != "mock":
            return token
        login, password = FALLBACK_FORBIDDEN
    flags = f"{options.flag('forbidden_login')}/{options.flag('forbidden_password')}"
    token = target.client.login(_path(target, target.login_operation), login, password or "", flags=flags)
    target.client.keep_secret(token, "FORBIDDEN_TOKEN")
    return token


def _path(target: Target, operation_id: str) -> str:
    return target.spec.operation(operation_id).path


def _subject(operation: Operation) -> str:
    return f"{operation.method} {operation.path}"


def _expect(target: Target, operation: Operation, check: str, token: str | None, status: int, who: str = "") -> None:
    # A fresh random id names no job: a deployment that ignores auth still changes nothing.
    job_id = str(uuid.uuid4()) if "{" in operation.path else None
    exchange = target.call(operation.operation_id, job_id, token=token)
    who = who or _who(check)
    problems = [f"{p} ({who})" for p in checks.answer_problems(operation, exchange, status)]
    target.results.check(PHASE, check, _subject(operation), problems, exchange)


def _who(check: str) -> str:
    return {
        NO_TOKEN: "no Authorization header",
        GARBAGE_TOKEN: "a malformed token",
        FORBIDDEN_USER: "a user who may not manage jobs",
    }[check]


def _invalid_tokens(target: Target, operation: Operation) -> None:
    """Tokens the deployment did not issue as they stand: forged, expired, of an unknown user, well signed but never
    issued; all 401."""
    subject, own, login = _subject(operation), target.client.token, target.options.login
    signed = (EXPIRED_TOKEN, UNKNOWN_USER_TOKEN, NEVER_ISSUED_TOKEN)
    if not tokens.says_jwt(target.spec.resolved):
        for name in (FORGED_TOKEN, *signed):
            target.results.not_exercised(PHASE, name, subject, tokens.NOT_JWT)
        return
    for who, token in tokens.forgeries(own, login).items():
        _expect(target, operation, FORGED_TOKEN, token, 401, who)
    options = target.options
    secret = options.jwt_secret or tokens.DEVELOPMENT_SECRET
    if not tokens.signs_with(own, secret):
        given = "the secret given" if options.jwt_secret else "Nick's development secret"
        reason = (
            f"the deployment does not sign its tokens with {given}: the suite cannot sign one it would otherwise "
            f"accept; pass its secret as {options.flag('jwt_secret')} (or ${JWT_SECRET_ENV})"
        )
        for name in signed:
            target.results.not_exercised(PHASE, name, subject, reason)
        return
    _expect(target, operation, EXPIRED_TOKEN, tokens.expired(own, login, secret), 401, "a token that expired")
    who = "a validly signed token of a user the deployment does not know"
    _expect(target, operation, UNKNOWN_USER_TOKEN, tokens.of_unknown_user(own, login, secret), 401, who)
    who = "a validly signed, unexpired token of the suite's user that the deployment never issued"
    _expect(target, operation, NEVER_ISSUED_TOKEN, tokens.never_issued(own, login, secret), 401, who)


class Session:
    """The login, renewal and logout checks, each on a throwaway session of its own."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.login, self.renew, self.logout = session_operations(target.spec)
        # Whether a token works is told by the jobs list; without a jobs API (stock Nick), by renewing it.
        listing = target.spec.operation(target.list_operation)
        self.probe = listing if target.jobs_api or self.renew is None else self.renew
        self.jwt = tokens.says_jwt(target.spec.resolved)

    def run(self) -> None:
        """Each session check, or why it cannot run."""
        reason = self._why_not()
        if reason:
            for name in SESSION_CHECKS:
                self.target.results.not_exercised(PHASE, name, self.login.operation_id, reason)
            return
        self.wrong_password()
        self.missing_field()
        self.malformed_body()
        if self.renew is not None:
            self.renewal(self.renew)
        if self.logout is not None:
            self.logging_out(self.logout)
        if not self.jwt:
            self.target.results.not_exercised(PHASE, checks.TOKEN_IS_JWT, self.login.operation_id, tokens.NOT_JWT)

    def _why_not(self) -> str:
        options = self.target.options
        if options.token is not None:
            return f"{options.flag('token')} given: the suite has no password to open sessions of its own"
        if options.read_only:
            return f"{options.flag('read_only')} sends no login but its own"
        return ""

    def _log_in(self, body: Any = None, raw: str | None = None) -> Exchange:
        return self.target.client.call("POST", self.login.path, token=None, body=body, raw=raw)

    def _fresh(self) -> tuple[Exchange, str | None]:
        options = self.target.options
        exchange = self.target.client.new_session(
            self.login.path, {"login": options.login, "password": options.password}
        )
        token = _token(exchange)
        if token is not None:
            self.target.client.keep_secret(token, "SESSION_TOKEN")
            self._judge_token(self.login.operation_id, token, exchange)
        return exchange, token

    def _judge_token(self, subject: str, token: str, exchange: Exchange) -> None:
        """A token handed out is what the spec's bearer scheme says (a JWT naming its user, expiring)."""
        if self.jwt:
            problems = tokens.token_problems(
                token, self.target.options.login, tokens.lifetime(self.target.spec.resolved)
            )
            self._record(checks.TOKEN_IS_JWT, subject, problems, exchange)

    def _fresh_for(self, name: str, subject: str) -> tuple[Exchange, str | None]:
        """A fresh session's token for check `name`; a failed check of it when the login gives none."""
        first, token = self._fresh()
        if token is None:
            problem = f"Received {first.response.received} from login / Documented: 200 with a token"
            self._record(name, subject, [problem], first)
        return first, token

    def _record(
        self, name: str, subject: str, problems: list[str], exchange: Exchange, before: tuple[Exchange, ...] = ()
    ) -> None:
        self.target.results.check(PHASE, name, subject, problems, exchange, before)

    def wrong_password(self) -> None:
        """A wrong password: 401 with the documented body."""
        options = self.target.options
        exchange = self._log_in({"login": options.login, "password": options.password + "-not"})
        self._record(
            checks.LOGIN_WRONG_PASSWORD,
            self.login.operation_id,
            checks.answer_problems(self.login, exchange, 401),
            exchange,
        )

    def missing_field(self) -> None:
        """A body without the password, and one with an empty password (it counts as missing): 400 as documented."""
        login = self.target.options.login
        for body, what in (({"login": login}, "no password"), ({"login": login, "password": ""}, "an empty password")):
            exchange = self._log_in(body)
            problems = [f"{p} ({what})" for p in checks.answer_problems(self.login, exchange, 400)]
            self._record(checks.LOGIN_MISSING_FIELD, self.login.operation_id, problems, exchange)

    def malformed_body(self) -> None:
        """A password that is not a string, and a body that is not JSON: a 4xx as documented (400 above all), never a
        500 or an HTML page."""
        login = self.target.options.login
        for body, raw, what in (
            ({"login": login, "password": 12345}, None, "a password that is not a string"),
            (None, NOT_JSON, "a body that is not JSON"),
        ):
            exchange = self._log_in(body, raw)
            problems = [f"{p} ({what})" for p in _refused(self.login, exchange)]
            self._record(checks.LOGIN_MALFORMED_BODY, self.login.operation_id, problems, exchange)

    def renewal(self, renew: Operation) -> None:
        """A renewed token is a token: the list answers 200 with it."""
        subject = renew.operation_id
        first, token = self._fresh_for(checks.RENEWED_TOKEN_WORKS, subject)
        if token is None:
            return
        renewed = self.target.client.call(renew.method, renew.path, token=token)
        problems = checks.answer_problems(renew, renewed, 200)
        new = renewed.response.data.get("token") if isinstance(renewed.response.data, dict) else None
        if problems or not isinstance(new, str):
            self._record(
                checks.RENEWED_TOKEN_WORKS,
                subject,
                problems or ["Received no token / Documented: a new token"],
                renewed,
                (first,),
            )
            return
        self.target.client.keep_secret(new, "RENEWED_TOKEN")
        self._judge_token(subject, new, renewed)
        used = self.target.client.call(self.probe.method, self.probe.path, token=new)
        problems = [f"{p} (with the renewed token)" for p in checks.answer_problems(self.probe, used, 200)]
        self._record(checks.RENEWED_TOKEN_WORKS, subject, problems, used, (first, renewed))

    def logging_out(self, logout: Operation) -> None:
        """After logout the token is refused by the jobs operations and by renewal; a new login works."""
        subject = logout.operation_id
        first, token = self._fresh_for(checks.LOGOUT_ENDS_SESSION, subject)
        if token is None:
            return
        success = min(status for status in logout.documented_statuses if 200 <= status < 300)
        out = self.target.client.call(logout.method, logout.path, token=token)
        steps = (first, out)
        self._record(checks.LOGOUT_ENDS_SESSION, subject, checks.answer_problems(logout, out, success), out, (first,))
        used = self.target.client.call(self.probe.method, self.probe.path, token=token)
        problems = [f"{p} (a logged-out token)" for p in checks.answer_problems(self.probe, used, 401)]
        self._record(checks.LOGOUT_ENDS_SESSION, subject, problems, used, steps)
        if self.renew is not None:
            renewed = self.target.client.call(self.renew.method, self.renew.path, token=token)
            problems = [f"{p} (renewing a logged-out token)" for p in checks.answer_problems(self.renew, renewed, 401)]
            self._record(checks.LOGOUT_ENDS_SESSION, subject, problems, renewed, steps)
        self.logging_out_again(logout, token, success, steps)
        again, new = self._fresh()
        if new is None:
            problem = f"Received {again.response.received} from a new login after logout / Documented: 200 with a token"
            self._record(checks.LOGOUT_ENDS_SESSION, subject, [problem], again, steps)
            return
        used = self.target.client.call(self.probe.method, self.probe.path, token=new)
        problems = [f"{p} (a new login after logout)" for p in checks.answer_problems(self.probe, used, 200)]
        self._record(checks.LOGOUT_ENDS_SESSION, subject, problems, used, (*steps, again))

    def logging_out_again(self, logout: Operation, token: str, success: int, steps: tuple[Exchange, ...]) -> None:
        """Logging out is idempotent: again with the logged-out token, and (when the spec lets it) with none."""
        calls: list[tuple[str | None, str]] = [(token, "a token already logged out")]
        if not logout.needs_auth(self.target.spec.security):
            calls.append((None, "no Authorization header"))
        for sent, what in calls:
            out = self.target.client.call(logout.method, logout.path, token=sent)
            problems = [f"{p} ({what})" for p in checks.answer_problems(logout, out, success)]
            self._record(checks.LOGOUT_IDEMPOTENT, logout.operation_id, problems, out, steps)


def _refused(operation: Operation, exchange: Exchange) -> list[str]:
    """A malformed request refused as the contract says: a 4xx the operation documents, with that status's documented
    body (Nick's login takes a login that is not a string for an unknown user: 401); else judged as the 400."""
    status = exchange.response.status
    if 400 <= status < 500 and status != 429 and str(status) in operation.responses:
        return checks.answer_problems(operation, exchange, status)
    return checks.answer_problems(operation, exchange, 400)


def _token(exchange: Exchange) -> str | None:
    data = exchange.response.data
    token = data.get("token") if isinstance(data, dict) else None
    return token if isinstance(token, str) else None
