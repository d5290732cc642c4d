"""A small conformant jobs server for the suite's own tests, and its deliberately broken variants.

It follows the lifecycle the spec states (through `jobspec`), issues HS256 JWTs signed with Nick's
development secret as the contract says, speaks the mock's control API for fixtures
(`POST /__mock__/jobs`, `/move`, `/journal`), and each `Violation` breaks it in one way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from aiohttp import web

from conformance.options import Options
from conformance.report import Report
from conformance.runner import run
from jobspec import Transition, load_spec
from tests.helpers import ThreadedServer

LIFECYCLE = load_spec().lifecycle
USERS = {"admin": ("admin", True), "editor": ("editor", False)}
UNAUTHORIZED = {"message": "You are not authorized to access this resource."}
SECRET = "secret"  # Nick's development secret, the mock's default too
LIFETIME = 12 * 3600  # Nick's token lifetime


class Violation(enum.Enum):
    """One way a variant departs from the spec."""

    MISSING_FIELD = "missing field: jobs lack `description`"
    WRONG_STATUS = "wrong status code: DELETE answers 200"
    ACCEPTED_REFUSAL = "accepted refused transition: abort of a created job answers 204 and aborts it"
    RETRY_NO_RESET = "retry does not reset `started`/`finished`/`result`"
    DELETE_KEEPS = "delete answers 204 but the job stays"
    MISSING_AUTH = "GET /@jobs needs no token"
    SERVER_ERROR = "a login body of the wrong type gives a 500"
    BROKEN_INVARIANT = "completed jobs have `finished` null"
    WRONG_CONTENT_TYPE = "GET /@jobs/{id} answers text/plain"
    LIST_DISAGREES = "the list shows another title than the single GET"
    REFUSAL_400 = "a refused transition answers 400, not 409"
    FORBIDDEN_ALLOWED = "a user who may not manage jobs gets 200"
    WORKER_BACKWARDS = "the worker moves completed jobs back to running"
    LOGOUT_KEEPS_TOKEN = "logout answers 204 but the token stays valid"
    RENEWED_TOKEN_REFUSED = "renewal hands out a token nothing accepts"
    NOT_FOUND_SHAPE = "404 bodies lose Nick's shape: {'message': 'Not found'}"
    CONFLICT_TYPE = "a refused transition names another error type"
    WRONG_PASSWORD_400 = "a wrong password answers 400"
    MISSING_FIELD_401 = "a missing password answers 401 'Invalid credentials'"
    ID_WITHOUT_PREFIX = "`@id` names another address than the one the client used"
    # Breaks the proxy (jobsproxy) watches for in the traffic: a job's history across sightings.
    JUMPS_BACKWARDS = "the worker moves failed jobs back to running"
    RESURRECTED = "a deleted job comes back into the list a moment later"
    TIMESTAMP_BACKWARDS = "a running job's `started` goes back a second at every read"
    ABORT_IGNORED = "abort answers 204 but the job keeps running"


V = Violation
# Variants whose worker moves a job out of a terminal state (state -> the state it moves back to).
BACKWARDS = {V.WORKER_BACKWARDS: ("completed", "running"), V.JUMPS_BACKWARDS: ("failed", "running")}
RESURRECTION_DELAY = 0.3  # seconds before a deleted job of V.RESURRECTED comes back


def now_ms() -> str:
    """The current UTC time as the spec's Timestamp."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{datetime.now(UTC).microsecond // 1000:03d}Z"


def make_job(status: str = "created", **fields: Any) -> dict[str, Any]:
    """A job in `status`, consistent with the lifecycle's state fields."""
    stamp = now_ms()
    job: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "title": "Reindex Events",
        "description": "Reindex all events",
        "params": {},
        "actor": "admin",
        "created": stamp,
        "started": None,
        "finished": None,
        "status": status,
        "result": {},
    }
    job.update(fields)
    for name, is_set in LIFECYCLE.states[status].fields.items():
        job[name] = (job[name] or stamp) if is_set else None
    return job


class JobsServer(ThreadedServer):
    """The server, its jobs, its worker and its journal; runs on its own thread on 127.0.0.1."""

    def __init__(self, violations: frozenset[Violation] = frozenset(), jobs: list[dict[str, Any]] | None = None):
        self.violations = violations
        self.jobs: dict[str, dict[str, Any]] = {job["uuid"]: job for job in jobs or default_jobs()}
        self.due: dict[str, float] = {}
        self.revoked: set[str] = set()
        self.issued: list[str] = []  # every token handed out: none may appear in a report
        self.journal: list[tuple[str, str, int]] = []
        self.reads: dict[str, int] = {}  # reads of each job, for V.TIMESTAMP_BACKWARDS
        self.url = ""
        super().__init__("fake-jobs")
        self._runner: web.AppRunner | None = None

    def mutations(self) -> list[tuple[str, str, int]]:
        """Journal entries of requests that may change a job."""
        return [entry for entry in self.journal if entry[0] not in ("GET", "HEAD", "OPTIONS")]

    async def _start(self) -> None:
        app = web.Application(middlewares=self._middlewares())
        app.router.add_routes(self._routes())
        app.cleanup_ctx.append(self._worker)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def _middlewares(self) -> list[Any]:
        return [self._journal]

    def _apply(self, job: dict[str, Any], transition: Transition, context: dict[str, Any]) -> None:
        apply(job, transition, context)

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.post("/@login", self.login),
            web.post("/@login-renew", self.renew),
            web.post("/@logout", self.logout),
            web.get("/@jobs", self.list_jobs, allow_head=False),
            web.get("/@jobs/{id}", self.get_job, allow_head=False),
            web.delete("/@jobs/{id}", self.delete_job),
            web.post("/@jobs/{id}/abort", self.act),
            web.post("/@jobs/{id}/retry", self.act),
            web.post("/__mock__/jobs", self.control_create),
            web.post("/__mock__/jobs/{id}/move", self.control_move),
        ]

    @web.middleware
    async def _journal(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as exc:
            response = exc
        if not request.path.startswith("/__mock__"):
            self.journal.append((request.method, request.path, response.status))
        if isinstance(response, web.HTTPException):
            raise response
        return response

    async def _worker(self, _: web.Application) -> Any:
        task = asyncio.create_task(self._tick())
        yield
        task.cancel()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            for job_id, due in list(self.due.items()):
                if due <= time.monotonic() and job_id in self.jobs:
                    self._advance(self.jobs[job_id])

    def _backwards(self, job: dict[str, Any]) -> str | None:
        """The state this variant's worker moves the job back to, if it does."""
        moves = [BACKWARDS[v][1] for v in self.violations if v in BACKWARDS and BACKWARDS[v][0] == job["status"]]
        return moves[0] if moves else None

    def _advance(self, job: dict[str, Any]) -> None:
        timing = job["params"].get("mock", {})
        back = self._backwards(job)
        if back is not None:
            job.update(status=back, finished=None)
            self.due.pop(job["uuid"], None)
            return
        outcome = timing.get("outcome", "completed")
        moves = LIFECYCLE.worker_transitions(job["status"])
        move = next((t for t in moves if t.target == outcome), moves[0])
        self._apply(job, move, {"outcome": outcome})
        self._schedule(job)

    def _schedule(self, job: dict[str, Any]) -> None:
        timing = job["params"].get("mock", {})
        key = {"created": "delay", "running": "duration"}.get(job["status"])
        if self._backwards(job) is not None:
            self.due[job["uuid"]] = time.monotonic() + 0.3  # long enough for a watcher to see it terminal
            return
        if key is None or not timing:
            self.due.pop(job["uuid"], None)
            return
        self.due[job["uuid"]] = time.monotonic() + float(timing.get(key, 10))

    # ---- the contract ---------------------------------------------------------------------
    async def login(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if Violation.SERVER_ERROR in self.violations and isinstance(body, dict):
            if not isinstance(body.get("login", ""), str):
                raise web.HTTPInternalServerError(text="boom")
        valid = isinstance(body, dict) and all(isinstance(body.get(k), str) and body[k] for k in ("login", "password"))
        if not valid and V.MISSING_FIELD_401 in self.violations:
            error = {"type": "Invalid credentials", "message": "Wrong login and/or password."}
            return web.json_response({"error": error}, status=401)
        if not valid:
            error = {"type": "Missing credentials", "message": "Login and password must be provided in body."}
            return web.json_response({"error": error}, status=400)
        user = USERS.get(body["login"])
        if user is None or user[0] != body["password"]:
            error = {"type": "Invalid credentials", "message": "Wrong login and/or password."}
            return web.json_response({"error": error}, status=400 if V.WRONG_PASSWORD_400 in self.violations else 401)
        return web.json_response({"token": self._issue(body["login"])})

    def _issue(self, login: str) -> str:
        now = int(time.time())
        claims = {"sub": login, "fullname": login.title(), "iat": now, "exp": now + LIFETIME}
        token = jwt.encode({**claims, "jti": secrets.token_hex(8)}, SECRET, algorithm="HS256")
        self.issued.append(token)
        return token

    def _claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid token: signed with the secret, not expired."""
        try:
            found: dict[str, Any] = jwt.decode(
                token, SECRET, algorithms=["HS256"], options={"require": ["sub", "iat", "exp"]}
            )
        except jwt.PyJWTError:
            return None
        return found

    def _token(self, request: web.Request) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def _user(self, request: web.Request) -> str | None:
        token = self._token(request)
        claims = None if token is None or token in self.revoked else self._claims(token)
        return claims["sub"] if claims is not None and claims["sub"] in USERS else None

    async def renew(self, request: web.Request) -> web.Response:
        user = self._user(request)
        if user is None:
            error = {"type": "Invalid session", "message": "User is not logged in."}
            return web.json_response({"error": error}, status=401)
        token = self._issue(user)
        if V.RENEWED_TOKEN_REFUSED in self.violations:
            self.revoked.add(token)
        return web.json_response({"token": token})

    async def logout(self, request: web.Request) -> web.Response:
        token = self._token(request)
        if token is not None and V.LOGOUT_KEEPS_TOKEN not in self.violations:
            self.revoked.add(token)
        return web.Response(status=204)

    def _guard(self, request: web.Request) -> web.Response | None:
        user = self._user(request)
        if user is None:
            if Violation.MISSING_AUTH in self.violations and request.method == "GET":
                return None
            return web.json_response(UNAUTHORIZED, status=401)
        if not USERS[user][1] and Violation.FORBIDDEN_ALLOWED not in self.violations:
            return web.json_response(UNAUTHORIZED, status=403)
        return None

    def _find(self, request: web.Request) -> dict[str, Any]:
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            error = {"type": "Not found", "message": f"Job {request.match_info['id']} not found."}
            if V.NOT_FOUND_SHAPE in self.violations:
                raise web.HTTPNotFound(text=_json(error={"message": "Not found"}), content_type="application/json")
            raise web.HTTPNotFound(text=_json(error={"error": error}), content_type="application/json")
        return job

    def _show(self, job: dict[str, Any]) -> dict[str, Any]:
        shown = dict(job)
        if Violation.MISSING_FIELD in self.violations:
            shown.pop("description")
        if Violation.BROKEN_INVARIANT in self.violations and job["status"] == "completed":
            shown["finished"] = None
        if V.TIMESTAMP_BACKWARDS in self.violations and job["status"] == "running":
            self.reads[job["uuid"]] = self.reads.get(job["uuid"], 0) + 1
            shown["started"] = _later(
                job["started"], 10 - self.reads[job["uuid"]]
            )  # later than created, less so each read
        return shown

    async def list_jobs(self, request: web.Request) -> web.Response:
        denied = self._guard(request)
        if denied is not None:
            return denied
        jobs = [self._show(job) for job in self.jobs.values()]
        if Violation.LIST_DISAGREES in self.violations:
            jobs = [{**job, "title": job["title"] + " (listed)"} for job in jobs]
        return web.json_response(jobs)

    async def get_job(self, request: web.Request) -> web.Response:
        denied = self._guard(request) or None
        if denied is not None:
            return denied
        host = "localhost:8080" if V.ID_WITHOUT_PREFIX in self.violations else request.host
        job = {"@id": f"{request.scheme}://{host}/@jobs/{request.match_info['id']}"}
        job.update(self._show(self._find(request)))
        if Violation.WRONG_CONTENT_TYPE in self.violations:
            return web.Response(text=_json(job=job), content_type="text/plain")
        return web.json_response(job)

    async def delete_job(self, request: web.Request) -> web.Response:
        denied = self._guard(request)
        if denied is not None:
            return denied
        job = self._find(request)
        if Violation.DELETE_KEEPS not in self.violations:
            del self.jobs[job["uuid"]]
            self.due.pop(job["uuid"], None)
        if V.RESURRECTED in self.violations:
            asyncio.get_running_loop().call_later(RESURRECTION_DELAY, self.jobs.setdefault, job["uuid"], job)
        if Violation.WRONG_STATUS in self.violations:
            return web.Response(status=200)
        return web.Response(status=204)

    async def act(self, request: web.Request) -> web.Response:
        denied = self._guard(request)
        if denied is not None:
            return denied
        job = self._find(request)
        operation = "abortJob" if request.path.endswith("/abort") else "retryJob"
        outcome = LIFECYCLE.outcome(operation, job["status"])
        if Violation.ACCEPTED_REFUSAL in self.violations and (operation, job["status"]) == ("abortJob", "created"):
            outcome = LIFECYCLE.outcome(operation, "running")
        if not isinstance(outcome, Transition):
            status = 400 if Violation.REFUSAL_400 in self.violations else outcome.status
            error_type = "Bad Request" if V.CONFLICT_TYPE in self.violations else outcome.error_type
            error = {"type": error_type, "message": f"Job {job['uuid']} is {job['status']}."}
            return web.json_response({"error": error}, status=status)
        if Violation.RETRY_NO_RESET in self.violations and operation == "retryJob":
            job["status"] = outcome.target
        elif V.ABORT_IGNORED in self.violations and operation == "abortJob":
            pass
        else:
            self._apply(job, outcome, {})
        self._schedule(job)
        return web.Response(status=outcome.trigger.status or 204)

    # ---- the mock's control API, enough of it for fixtures -----------------------------------
    async def control_create(self, request: web.Request) -> web.Response:
        body = await request.json()
        job = make_job(body.get("status", "created"), params=body.get("params", {}))
        self.jobs[job["uuid"]] = job
        self._schedule(job)
        return web.json_response(job, status=201)

    async def control_move(self, request: web.Request) -> web.Response:
        job = self._find(request)
        body = await request.json()
        moved = make_job(body["status"], **{k: v for k, v in job.items() if k not in ("status",)})
        job.update(moved)
        return web.json_response(job)


def apply(job: dict[str, Any], transition: Transition, context: dict[str, Any]) -> None:
    """Fire `transition` on `job`, filling its changes as the lifecycle says."""
    job["status"] = transition.target
    for name, change in transition.changes.items():
        if change.kind == "now":
            job[name] = now_ms()
        elif change.kind == "output":
            job[name] = {"ok": True}
        elif change.kind == "error":
            job[name] = {"error": "it broke"}
        else:
            job[name] = change.value


def _later(stamp: str, seconds: int) -> str:
    """The timestamp `seconds` after `stamp`."""
    later = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) + timedelta(seconds=max(0, seconds))
    return later.strftime("%Y-%m-%dT%H:%M:%S.") + f"{later.microsecond // 1000:03d}Z"


def default_jobs() -> list[dict[str, Any]]:
    """One job held in each state, like a deployment's existing data."""
    return [make_job(state, title=f"Existing {state} job") for state in LIFECYCLE.states]


def _json(**kwargs: Any) -> str:
    return json.dumps(next(iter(kwargs.values())))


@contextmanager
def serve(*violations: Violation, jobs: list[dict[str, Any]] | None = None) -> Iterator[JobsServer]:
    """A running server with these violations."""
    with JobsServer(frozenset(violations), jobs) as server:
        yield server


def check(url: str, *phases: str, **overrides: Any) -> Report:
    """Run the suite's `phases` against `url` quickly: mock fixtures, few examples, a fixed seed."""
    options = Options(
        base_url=url,
        fixtures="mock",
        forbidden_login="editor",
        forbidden_password="editor",
        max_examples=5,
        seed=1,
        timeout=3,
        phases=phases,
    )
    return run(dataclasses.replace(options, **overrides))
