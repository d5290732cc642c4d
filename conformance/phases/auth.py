"""The auth phase: every guarded operation without valid credentials, and the session's life.

Without a token, with a garbage one and as a user who may not manage jobs, each guarded
operation must refuse with its documented status and body. Then, on throwaway sessions: a wrong
password and a missing field are refused as documented, a renewed token works, and a token
logged out no longer does (for the jobs operations and for renewal) while a new login still works.
"""

from __future__ import annotations

import uuid

from conformance import checks
from conformance.client import Exchange
from conformance.target import Progress, Target, session_operations
from jobspec import Operation, Spec

PHASE = "auth"
NO_TOKEN = "auth_no_token"
GARBAGE_TOKEN = "auth_garbage_token"
FORBIDDEN_USER = "auth_forbidden_user"
GARBAGE = "not-a-valid-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SESSION_CHECKS = (
    checks.LOGIN_WRONG_PASSWORD,
    checks.LOGIN_MISSING_FIELD,
    checks.RENEWED_TOKEN_WORKS,
    checks.LOGOUT_ENDS_SESSION,
)
FALLBACK_FORBIDDEN = ("editor", "editor")  # the mock's own such user, for mocks without POST /__mock__/tokens


def run(target: Target, progress: Progress) -> None:
    """Every guarded operation refused as documented, then the session checks."""
    progress(f"{PHASE}: every guarded operation without valid credentials; login, renewal and logout")
    forbidden = _forbidden_token(target)
    for operation in guarded_operations(target):
        documented = operation.documented_statuses
        if 401 in documented:
            _expect(target, operation, NO_TOKEN, None, 401)
            _expect(target, operation, GARBAGE_TOKEN, GARBAGE, 401)
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
    return (NO_TOKEN, GARBAGE_TOKEN, FORBIDDEN_USER, *SESSION_CHECKS)


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


def _expect(target: Target, operation: Operation, check: str, token: str | None, status: int) -> None:
    # A fresh random id names no job: a deployment that ignores auth still changes nothing.
    job_id = str(uuid.uuid4()) if "{" in operation.path else None
    exchange = target.call(operation.operation_id, job_id, token=token)
    problems = [f"{p} ({_who(check)})" for p in checks.answer_problems(operation, exchange, status)]
    target.results.check(PHASE, check, _subject(operation), problems, exchange)


def _who(check: str) -> str:
    return {
        NO_TOKEN: "no Authorization header",
        GARBAGE_TOKEN: "a malformed token",
        FORBIDDEN_USER: "a user who may not manage jobs",
    }[check]


class Session:
    """The login, renewal and logout checks, each on a throwaway session of its own."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.login, self.renew, self.logout = session_operations(target.spec)
        self.listing = target.spec.operation(target.list_operation)

    def run(self) -> None:
        """Each session check, or why it cannot run."""
        reason = self._why_not()
        if reason:
            for name in SESSION_CHECKS:
                self.target.results.not_exercised(PHASE, name, self.login.operation_id, reason)
            return
        self.wrong_password()
        self.missing_field()
        if self.renew is not None:
            self.renewal(self.renew)
        if self.logout is not None:
            self.logging_out(self.logout)

    def _why_not(self) -> str:
        options = self.target.options
        if options.token is not None:
            return f"{options.flag('token')} given: the suite has no password to open sessions of its own"
        if options.read_only:
            return f"{options.flag('read_only')} sends no login but its own"
        return ""

    def _log_in(self, body: dict[str, str]) -> Exchange:
        return self.target.client.call("POST", self.login.path, token=None, body=body)

    def _fresh(self) -> tuple[Exchange, str | None]:
        options = self.target.options
        exchange = self._log_in({"login": options.login, "password": options.password})
        data = exchange.response.data
        token = data.get("token") if isinstance(data, dict) else None
        if isinstance(token, str):
            self.target.client.keep_secret(token, "SESSION_TOKEN")
            return exchange, token
        return exchange, None

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
        """A body without the password: 400 with the documented body."""
        exchange = self._log_in({"login": self.target.options.login})
        self._record(
            checks.LOGIN_MISSING_FIELD,
            self.login.operation_id,
            checks.answer_problems(self.login, exchange, 400),
            exchange,
        )

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
        used = self.target.client.call(self.listing.method, self.listing.path, token=new)
        problems = [f"{p} (with the renewed token)" for p in checks.answer_problems(self.listing, used, 200)]
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
        used = self.target.client.call(self.listing.method, self.listing.path, token=token)
        problems = [f"{p} (a logged-out token)" for p in checks.answer_problems(self.listing, used, 401)]
        self._record(checks.LOGOUT_ENDS_SESSION, subject, problems, used, steps)
        if self.renew is not None:
            renewed = self.target.client.call(self.renew.method, self.renew.path, token=token)
            problems = [f"{p} (renewing a logged-out token)" for p in checks.answer_problems(self.renew, renewed, 401)]
            self._record(checks.LOGOUT_ENDS_SESSION, subject, problems, renewed, steps)
        again, new = self._fresh()
        if new is None:
            problem = f"Received {again.response.received} from a new login after logout / Documented: 200 with a token"
            self._record(checks.LOGOUT_ENDS_SESSION, subject, [problem], again, steps)
            return
        used = self.target.client.call(self.listing.method, self.listing.path, token=new)
        problems = [f"{p} (a new login after logout)" for p in checks.answer_problems(self.listing, used, 200)]
        self._record(checks.LOGOUT_ENDS_SESSION, subject, problems, used, (*steps, again))
