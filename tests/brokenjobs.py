"""fakejobs broken in new ways: departures from the contract the suite was not written against.

`Breakage` members each break the server one way (the suite must fail it); `Difference`
members differ from the mock in ways the contract allows (the suite must pass it). They are
written from ../shared/CONTRACT.md and spec/jobs.yaml, not from the suite's checks, and none
repeats one of fakejobs' own `Violation`s.
"""

from __future__ import annotations

import asyncio
import calendar
import enum
import itertools
import json
import math
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
from aiohttp import web

from jobspec import Transition
from tests.fakejobs import (
    LIFETIME,
    REFUSALS,
    UNAUTHORIZED,
    USERS,
    JobNotFound,
    JobsServer,
    default_jobs,
    now_ms,
)

Job = dict[str, Any]


class Breakage(enum.Enum):
    """One way the server departs from the contract."""

    # Tokens judged by what they say rather than by being issued (each one rule less besides).
    EXPIRED_ACCEPTED = "tokens are judged by their signature alone, expiry unchecked: an expired token is accepted"
    ALG_NONE_ACCEPTED = "an unsigned (alg none) token naming a user is accepted"
    SIGNATURE_IGNORED = "token signatures are not verified: any JWT naming a user is accepted"
    UNKNOWN_USER_ACCEPTED = "a well-signed token of an unknown user counts as admin's"
    TOKEN_WITHOUT_EXP = "tokens carry no `exp`: they never expire"
    OPAQUE_TOKENS = "tokens are random strings, not JWTs"
    LOGOUT_NEEDS_TOKEN = "logout without a token answers 401"
    LOGOUT_TWICE_401 = "logout with a token no longer valid answers 401"
    RENEW_ANONYMOUS = "renewal without a session hands out a token"
    FORBIDDEN_401 = "a user who may not manage jobs gets 401, not 403"
    NO_TOKEN_403 = "no token gets 403, not 401"
    UNAUTHORIZED_TYPED = "401 bodies use the typed-error shape"
    EMPTY_PASSWORD_401 = "an empty password answers 401 'Invalid credentials', not 400"
    WRONG_TYPES_500 = "a login body with a non-string password answers 500 (Nick 2.8.0's bcrypt error), not a 4xx"
    LOGIN_NOT_JSON_500 = "a login body that is not JSON answers 500"
    STAMPS_SECONDS = "timestamps lack milliseconds"
    STAMPS_LOCAL = "timestamps in local time with an offset (+02:00)"
    ITEM_WITHOUT_ID = "GET /@jobs/{id} lacks `@id`"
    ID_HTTPS = "`@id` says https to a client that used http"
    INTEGER_IDS = "job ids are sequence numbers, not UUIDs"
    STATUS_UPPER = "status in capitals ('RUNNING')"
    RESULT_NULL = "`result` is null until the job produces one"
    LIST_DUPLICATES = "the list holds each job twice"
    LIST_HIDES_FAILED = "the list leaves out failed jobs"
    UNKNOWN_ID_500 = "an unknown id answers 500"
    NON_UUID_400 = "an id that is not a UUID answers 400"
    NOT_FOUND_TYPED = "404 bodies in the old typed shape {'error': {'type': 'Not found', 'message'}}"
    NOT_FOUND_WORDED = "404 says 'No such job here.', not Nick's 'Not found.'"
    OLD_REFUSALS = "refusals as the old contract had them: 409 {'error': {'type': 'Conflict', 'message'}}"
    REFUSAL_AS_MESSAGE = "refusal bodies use the {'message'} shape of 401 and 403"
    REFUSAL_NO_STATE = "refusal messages do not name the job's state"
    REFUSAL_WORDED = "refusals worded otherwise, still naming the state"
    REFUSAL_CHANGES_JOB = "a refused retry answers 400 as documented but writes to the job's `result`"
    ABORT_NO_FINISHED = "abort leaves `finished` null"
    ABORT_SETS_RESULT = "abort writes a result"
    RETRY_DOES_NOTHING = "retry answers 204 and leaves the job failed"
    RETRY_RESULT_NULL = "retry sets `result` to null, not {}"
    RETRY_RESETS_CREATED = "retry sets `created` to the time of the retry"
    DELETE_RUNNING_400 = "deleting a running job is refused with 400 ('abort it first')"
    DELETE_TWICE_204 = "deleting a deleted job answers 204"
    ABORT_DELETED_400 = "aborting a deleted job answers a 400 refusal, not 404"
    WORKER_STARTS_EARLY = "the worker's `started` is before `created`"
    WORKER_FINISHES_EARLY = "the worker's `finished` is before `started`"
    WORKER_SKIPS_START = "the worker completes queued jobs without starting them (`started` null)"
    WORKER_ABORTS = "the worker ends failing jobs as aborted"
    WORKER_STUCK = "the worker never starts a job"
    ERRORS_TEXT_PLAIN = "404 bodies are served as text/plain"
    LOGIN_429_NO_RETRY_AFTER = "the third login answers 429 without the documented `Retry-After`"
    DUTCH_ALWAYS = "Nick's texts in Dutch, even to a request asking for English"


class Difference(enum.Enum):
    """A way the server differs from the mock that the contract allows."""

    EXTRA_FIELDS = "jobs carry an extra field (the Job schema allows it)"
    LIST_NEWEST_FIRST = "the list in another order"
    LIST_ITEMS_WITH_ID = "list items carry their `@id`"
    SLOW = "one answer in 50 is 1 s late"
    PLAIN_JSON = "JSON as `application/json` without a charset"
    METHODS_405 = "a method a path does not declare answers 405 without `Allow` (the contract promises neither)"
    LOGIN_429_ONCE = "the third login answers 429 with `Retry-After: 1`, as a rate limit would"
    DUTCH_BY_DEFAULT = "Nick's texts in Dutch to a request that names no language"


Change = Breakage | Difference
B, D = Breakage, Difference
RATE_LIMITED_LOGIN = 3  # the login that LOGIN_429_ONCE and LOGIN_429_NO_RETRY_AFTER answer 429


class BrokenJobsServer(JobsServer):
    """fakejobs with some `Breakage`s and `Difference`s."""

    def __init__(self, changes: frozenset[Change]) -> None:
        self.changes = changes
        self.deleted: set[str] = set()
        self.counter = itertools.count(1)
        self.answers = itertools.count()
        self.logins = 0
        super().__init__(jobs=[self._renumbered(job) for job in default_jobs()])
        if D.DUTCH_BY_DEFAULT in self:
            self.default_language = "nl"

    def __contains__(self, change: Change) -> bool:
        return change in self.changes

    def _middlewares(self) -> list[Any]:
        journal, *inner = super()._middlewares()
        return [journal, self._http, *inner]

    # ---- tokens ----------------------------------------------------------------------------
    def _issue(self, login: str) -> str:
        if B.OPAQUE_TOKENS in self:
            token = secrets.token_hex(20)
            self.held[token] = (login, time.time() + LIFETIME)
        elif B.TOKEN_WITHOUT_EXP in self:
            claims = {"sub": login, "fullname": login.title(), "iat": int(time.time()), "jti": secrets.token_hex(8)}
            token = jwt.encode(claims, self.secret, algorithm="HS256")
            self.held[token] = (login, math.inf)
        else:
            return super()._issue(login)
        self.issued.append(token)
        return token

    def _user(self, request: web.Request) -> str | None:
        """The issued tokens' users, and the users of tokens a breakage lets through by what they say."""
        user = super()._user(request)
        token = self._token(request)
        if user is not None or token is None or token in self.revoked:
            return user
        claims = self._claims(token)
        if claims is None:
            return None
        if claims.get("sub") not in USERS:
            return "admin" if B.UNKNOWN_USER_ACCEPTED in self else None
        return str(claims["sub"])

    def _claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this server did not issue, where a breakage judges it by them (None otherwise)."""
        options: dict[str, Any] = {"require": ["sub", "iat"]}
        if B.EXPIRED_ACCEPTED in self:
            options["verify_exp"] = False
        elif B.SIGNATURE_IGNORED in self or (B.ALG_NONE_ACCEPTED in self and _alg(token) == "none"):
            options["verify_signature"] = False
        elif B.UNKNOWN_USER_ACCEPTED not in self:
            return None
        try:
            found: dict[str, Any] = jwt.decode(token, self.secret, algorithms=["HS256"], options=options)
        except jwt.PyJWTError:
            return None
        return found

    def _guard(self, request: web.Request) -> web.Response | None:
        denied = super()._guard(request)
        if denied is None:
            return None
        if denied.status == 403 and B.FORBIDDEN_401 in self:
            return web.json_response(UNAUTHORIZED, status=401)
        if denied.status == 401 and B.NO_TOKEN_403 in self and self._token(request) is None:
            return web.json_response(UNAUTHORIZED, status=403)
        if denied.status == 401 and B.UNAUTHORIZED_TYPED in self:
            return web.json_response({"error": {"type": "Unauthorized", **UNAUTHORIZED}}, status=401)
        return denied

    async def login(self, request: web.Request) -> web.Response:
        logins = self.logins = self.logins + 1
        if logins == RATE_LIMITED_LOGIN and (B.LOGIN_429_NO_RETRY_AFTER in self or D.LOGIN_429_ONCE in self):
            headers = {"RateLimit-Limit": "2", "RateLimit-Remaining": "0", "RateLimit-Reset": "1"}
            if D.LOGIN_429_ONCE in self:
                headers["Retry-After"] = "1"
            return web.json_response({"message": "Too many authentication attempts"}, status=429, headers=headers)
        try:
            body = await request.json()
        except ValueError:
            if B.LOGIN_NOT_JSON_500 in self:
                raise web.HTTPInternalServerError(text="Unexpected token in JSON") from None
            body = None
        password = body.get("password", 0) if isinstance(body, dict) else 0
        if B.WRONG_TYPES_500 in self and password and not isinstance(password, str):
            raise web.HTTPInternalServerError(text="Error: data and hash must be strings")
        if B.EMPTY_PASSWORD_401 in self and password == "":
            error = {"type": "Invalid credentials", "message": "Wrong login and/or password."}
            return web.json_response({"error": error}, status=401)
        return await super().login(request)

    async def renew(self, request: web.Request) -> web.Response:
        if B.RENEW_ANONYMOUS in self and self._user(request) is None:
            return web.json_response({"token": self._issue("admin")})
        return await super().renew(request)

    async def logout(self, request: web.Request) -> web.Response:
        token = self._token(request)
        if token is None and B.LOGOUT_NEEDS_TOKEN in self:
            return web.json_response(UNAUTHORIZED, status=401)
        if token is not None and self._user(request) is None and B.LOGOUT_TWICE_401 in self:
            return web.json_response(UNAUTHORIZED, status=401)
        return await super().logout(request)

    # ---- jobs ------------------------------------------------------------------------------
    def _renumbered(self, job: Job) -> Job:
        if B.INTEGER_IDS in self.changes:
            job["uuid"] = str(next(self.counter))
        return job

    async def control_create(self, request: web.Request) -> web.Response:
        response = await super().control_create(request)
        if B.INTEGER_IDS not in self:
            return response
        job = self.jobs.pop(json.loads(_text(response))["uuid"])
        self.due.pop(job["uuid"], None)
        self._renumbered(job)
        self.jobs[job["uuid"]] = job
        self._schedule(job)
        return web.json_response(job, status=201)

    def _schedule(self, job: Job) -> None:
        if B.WORKER_STUCK in self:
            return
        super()._schedule(job)

    def _find(self, request: web.Request) -> Job:
        job_id = request.match_info["id"]
        if job_id in self.jobs:
            return self.jobs[job_id]
        if B.UNKNOWN_ID_500 in self:
            raise KeyError(job_id)
        if B.NON_UUID_400 in self and not _is_uuid(job_id):
            error = {"type": "Bad Request", "message": f"{job_id} is not a UUID."}
            raise web.HTTPBadRequest(text=json.dumps({"error": error}), content_type="application/json")
        if request.method == "DELETE" and job_id in self.deleted and B.DELETE_TWICE_204 in self:
            raise web.HTTPNoContent()
        if request.path.endswith("/abort") and job_id in self.deleted and B.ABORT_DELETED_400 in self:
            error = f"Job {job_id} is deleted; {REFUSALS['abortJob']}"
            raise web.HTTPBadRequest(text=json.dumps({"error": error}), content_type="application/json")
        if B.NOT_FOUND_TYPED in self:
            raise JobNotFound({"error": {"type": "Not found", "message": f"Job {job_id} not found."}})
        if B.NOT_FOUND_WORDED in self:
            raise JobNotFound({"error": "No such job here."})
        return super()._find(request)

    def _show(self, job: Job) -> Job:
        shown = super()._show(job)
        for name in ("created", "started", "finished"):
            if isinstance(shown[name], str):
                shown[name] = self._stamp(shown[name])
        if B.STATUS_UPPER in self:
            shown["status"] = shown["status"].upper()
        if B.RESULT_NULL in self and shown["result"] == {}:
            shown["result"] = None
        if D.EXTRA_FIELDS in self:
            shown["progress"] = 100 if shown["finished"] else 0
        return shown

    def _stamp(self, value: str) -> str:
        if B.STAMPS_SECONDS in self:
            return value[:19] + "Z"
        if B.STAMPS_LOCAL in self:
            local = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(_epoch(value) + 7200))
            return f"{local}{value[19:23]}+02:00"
        return value

    async def list_jobs(self, request: web.Request) -> web.Response:
        response = await super().list_jobs(request)
        if response.status != 200:
            return response
        jobs: list[Job] = json.loads(_text(response))
        if B.LIST_DUPLICATES in self:
            jobs = jobs + jobs
        if B.LIST_HIDES_FAILED in self:
            jobs = [job for job in jobs if job["status"] != "failed"]
        if D.LIST_NEWEST_FIRST in self:
            jobs = jobs[::-1]
        if D.LIST_ITEMS_WITH_ID in self:
            jobs = [{"@id": f"{request.scheme}://{request.host}/@jobs/{job['uuid']}", **job} for job in jobs]
        return web.json_response(jobs)

    async def get_job(self, request: web.Request) -> web.Response:
        response = await super().get_job(request)
        if response.status != 200:
            return response
        job: Job = json.loads(_text(response))
        if B.ITEM_WITHOUT_ID in self:
            job.pop("@id")
        if B.ID_HTTPS in self:
            job["@id"] = job["@id"].replace("http://", "https://", 1)
        return web.json_response(job)

    async def delete_job(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["id"])
        if job is not None and job["status"] == "running" and B.DELETE_RUNNING_400 in self:
            if self._guard(request) is None:
                return web.json_response({"error": f"Job {job['uuid']} is running; abort it first."}, status=400)
        response = await super().delete_job(request)
        if response.status == 204:
            self.deleted.add(request.match_info["id"])
        return response

    async def act(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["id"])
        retry = request.path.endswith("/retry")
        if job is not None and retry and job["status"] == "failed" and B.RETRY_DOES_NOTHING in self:
            if self._guard(request) is None:
                return web.Response(status=204)
        return await super().act(request)

    def _refuse(self, operation: str, job: Job) -> web.Response:
        response = super()._refuse(operation, job)
        message = json.loads(_text(response))["error"]
        if B.OLD_REFUSALS in self:
            return web.json_response({"error": {"type": "Conflict", "message": message}}, status=409)
        if B.REFUSAL_AS_MESSAGE in self:
            return web.json_response({"message": message}, status=400)
        if B.REFUSAL_NO_STATE in self:
            return web.json_response({"error": f"Job {job['uuid']} cannot do that now."}, status=400)
        if B.REFUSAL_WORDED in self:
            action = "aborted" if operation == "abortJob" else "retried"
            worded = f"Cannot do that to job {job['uuid']}: its status is {job['status']}, it cannot be {action}."
            return web.json_response({"error": worded}, status=400)
        if B.REFUSAL_CHANGES_JOB in self and operation == "retryJob":
            job["result"] = {"refused": "retry"}
        return response

    def _apply(self, job: Job, transition: Transition, context: dict[str, Any]) -> None:
        before = dict(job)
        super()._apply(job, transition, context)
        if transition.name == "abort":
            if B.ABORT_NO_FINISHED in self:
                job["finished"] = None
            if B.ABORT_SETS_RESULT in self:
                job["result"] = {"aborted": True}
        elif transition.name == "retry":
            if B.RETRY_RESULT_NULL in self:
                job["result"] = None
            if B.RETRY_RESETS_CREATED in self:
                job["created"] = now_ms()
        elif transition.trigger.is_worker:
            self._worker_breaks(job, transition, before)

    def _worker_breaks(self, job: Job, transition: Transition, before: Job) -> None:
        if transition.name == "start" and B.WORKER_STARTS_EARLY in self:
            job["started"] = _shifted(job["created"], -5)
        if job.get("finished") and B.WORKER_FINISHES_EARLY in self:
            job["finished"] = _shifted(job["started"], -5)
        if transition.name == "start" and B.WORKER_SKIPS_START in self:
            job.update(status="completed", started=None, finished=now_ms(), result={"ok": True})
        if transition.name == "fail" and B.WORKER_ABORTS in self:
            job["status"] = "aborted"

    # ---- HTTP ------------------------------------------------------------------------------
    @web.middleware
    async def _http(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if D.SLOW in self and next(self.answers) % 50 == 49:
            await asyncio.sleep(1)
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as exc:
            response = exc
        if response.status == 404 and B.ERRORS_TEXT_PLAIN in self:
            response.content_type = "text/plain"
        if isinstance(response, web.Response) and response.content_type == "application/json":
            response = self._reworded(response)
        if isinstance(response, web.HTTPException):
            raise response
        return response

    def _reworded(self, response: web.Response) -> web.Response:
        if D.PLAIN_JSON in self:
            response.headers["Content-Type"] = "application/json"
        return response

    def _undeclared(self, request: web.Request, exc: web.HTTPException) -> web.StreamResponse:
        if D.METHODS_405 in self and isinstance(exc, web.HTTPMethodNotAllowed):
            return web.json_response({"error": {"type": "Method Not Allowed", "message": request.method}}, status=405)
        return super()._undeclared(request, exc)

    def _language(self, request: web.Request) -> str:
        return "nl" if B.DUTCH_ALWAYS in self else super()._language(request)


def _text(response: web.Response) -> str:
    assert isinstance(response.body, bytes)
    return response.body.decode()


def _alg(token: str) -> str:
    try:
        return str(jwt.get_unverified_header(token).get("alg", "")).lower()
    except jwt.PyJWTError:
        return ""


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _epoch(stamp: str) -> float:
    return calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))


def _shifted(stamp: str, seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(_epoch(stamp) + seconds)) + stamp[19:]


@contextmanager
def serve(*changes: Change) -> Iterator[BrokenJobsServer]:
    """A running server with these changes."""
    with BrokenJobsServer(frozenset(changes)) as server:
        yield server
