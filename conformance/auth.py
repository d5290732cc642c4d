"""Phases 1 and 2: reachability and login, then every jobs operation without valid credentials."""

from __future__ import annotations

import uuid

from conformance.client import Client, SetupError
from conformance.target import Target
from jobspec import Operation

PHASE = "auth"
NO_TOKEN = "auth_no_token"
GARBAGE_TOKEN = "auth_garbage_token"
FORBIDDEN_USER = "auth_forbidden_user"
GARBAGE = "not-a-valid-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def log_in(client: Client, login_path: str, login: str, password: str, token: str | None) -> str:
    """Reach the deployment and log in (or take the given token); SetupError (exit 2) otherwise."""
    try:
        client.call("GET", "/", token=None)
    except SetupError as exc:
        raise SetupError(f"{client.base_url} is unreachable: {exc}") from None
    return token if token is not None else client.login(login_path, login, password)


def guarded_operations(target: Target) -> list[Operation]:
    """Operations that need credentials, safe ones only under --read-only."""
    operations = [op for op in target.spec.operations.values() if op.needs_auth(target.spec.security)]
    if target.options.read_only:
        operations = [op for op in operations if op.method in SAFE_METHODS]
    return operations


def run_auth(target: Target) -> None:
    """Every guarded operation without a token, with a garbage one, and as a forbidden user."""
    forbidden = _forbidden_token(target)
    for operation in guarded_operations(target):
        documented = operation.documented_statuses
        if 401 in documented:
            _expect(target, operation, NO_TOKEN, None, 401)
            _expect(target, operation, GARBAGE_TOKEN, GARBAGE, 401)
        if 403 not in documented:
            continue
        if forbidden is None:
            reason = "no user who may not manage jobs: pass --forbidden-login/--forbidden-password"
            target.results.not_exercised(PHASE, FORBIDDEN_USER, _subject(operation), reason)
        else:
            _expect(target, operation, FORBIDDEN_USER, forbidden, 403)


def _forbidden_token(target: Target) -> str | None:
    options = target.options
    if options.forbidden_login is None:
        return None
    login_path = target.spec.operation(target.login_operation).path
    token = target.client.login(login_path, options.forbidden_login, options.forbidden_password or "")
    target.client.keep_secret(token, "FORBIDDEN_TOKEN")
    return token


def _subject(operation: Operation) -> str:
    return f"{operation.method} {operation.path}"


def _expect(target: Target, operation: Operation, check: str, token: str | None, status: int) -> None:
    # A fresh random id names no job: a deployment that ignores auth still changes nothing.
    job_id = str(uuid.uuid4()) if "{" in operation.path else None
    exchange = target.call(operation.operation_id, job_id, token=token)
    received = exchange.response.status
    problems = [] if received == status else [f"Received {received} / Documented: {status} ({_who(check)})"]
    target.results.check(PHASE, check, _subject(operation), problems, exchange)


def _who(check: str) -> str:
    return {
        NO_TOKEN: "no Authorization header",
        GARBAGE_TOKEN: "a malformed token",
        FORBIDDEN_USER: "a user who may not manage jobs",
    }[check]
