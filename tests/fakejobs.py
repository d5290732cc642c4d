"""A small conformant jobs server for the suite's own tests, and its deliberately broken variants.

It follows the lifecycle the spec states (through `jobspec`) and answers as ../shared/CONTRACT.md
says real Nick does, written from the contract and not from the mock: HS256 JWTs signed with
Nick's development secret, valid for 2 hours, and only the tokens it issued accepted (exactly
`Bearer <token>`); Nick's login-body rules; 404 `{"error": "Not found."}` for an unknown job and
`{"error": "Not found: <path>"}` for a path or a method the API does not have (no 405, no
`Allow`); refusals as 400 `{"error": "Job <id> is <state>; ..."}`; Nick's texts in Dutch and
Swedish per `Accept-Language`. It speaks the mock's control API for fixtures (`POST
/__mock__/jobs`, `/move`), and each `Violation` breaks it in one way.
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
from conformance.runner import run
from jobspec import Transition, load_spec
from tests.helpers import ThreadedServer
from verdicts.report import Report

LIFECYCLE = load_spec().lifecycle
USERS = {"admin": ("admin", True), "editor": ("editor123", False)}  # login -> (password, may manage jobs)
FORBIDDEN_USER = ("editor", "editor123")  # Nick refuses passwords under 8 characters
UNAUTHORIZED = {"message": "You are not authorized to access this resource."}
NOT_FOUND = {"error": "Not found."}  # an unknown job, as every Nick service answers an unknown id
MISSING_CREDENTIALS = {"type": "Missing credentials", "message": "Login and password must be provided in body."}
INVALID_CREDENTIALS = {"type": "Invalid credentials", "message": "Wrong login and/or password."}
INVALID_SESSION = {"type": "Invalid session", "message": "User is not logged in."}
REFUSALS = {"abortJob": "only a running job can be aborted.", "retryJob": "only a failed job can be retried."}
SECRET = "secret"  # Nick's development secret, the mock's default too
LIFETIME = 2 * 3600  # Nick's token lifetime (`expiresIn: '2h'`)
BEARER = "Bearer "  # exactly what Nick reads: `/^Bearer (.*)$/`
JSON = "application/json"
# Nick's translations of the texts the jobs API answers with (Nick 2.8.0's locales/nl.json and sv.json).
TRANSLATIONS = {
    "nl": {
        "Missing credentials": "Ontbrekende inloggegevens",
        "Login and password must be provided in body.": "Login en wachtwoord moeten in de body worden opgegeven.",
        "Invalid credentials": "Ongeldige inloggegevens",
        "Wrong login and/or password.": "Verkeerde login en/of wachtwoord.",
        "Invalid session": "Ongeldige sessie",
        "User is not logged in.": "Gebruiker is niet ingelogd.",
        "You are not authorized to access this resource.": "U heeft geen rechten om tot deze resource.",
        "Not found.": "Niet gevonden.",
    },
    "sv": {
        "Missing credentials": "Saknade inloggningsuppgifter",
        "Login and password must be provided in body.": "Inloggning och lösenord måste anges i begäran.",
        "Invalid credentials": "Ogiltiga inloggningsuppgifter",
        "Wrong login and/or password.": "Fel inloggning och/eller lösenord.",
        "Invalid session": "Ogiltig session",
        "User is not logged in.": "Användaren är inte inloggad.",
        "You are not authorized to access this resource.": "Du har inte behörighet att komma åt denna resurs.",
        "Not found.": "Hittades inte.",
    },
}
LANGUAGES = ("en", "nl", "sv")  # Nick's language control panel; the first is the default


class Violation(enum.Enum):
    """One way a variant departs from the spec."""

    MISSING_FIELD = "missing field: jobs lack `description`"
    WRONG_STATUS = "wrong status code: DELETE answers 200"
    ACCEPTED_REFUSAL = "accepted refused transition: abort of a created job answers 204 and aborts it"
    RETRY_NO_RESET = "retry does not reset `started`/`finished`/`result`"
    DELETE_KEEPS = "delete answers 204 but the job stays"
    MISSING_AUTH = "GET /@jobs needs no token"
    SERVER_ERROR = "a login that is not a string gives a 500, not Nick's 401"
    BROKEN_INVARIANT = "completed jobs have `finished` null"
    WRONG_CONTENT_TYPE = "GET /@jobs/{id} answers text/plain"
    LIST_DISAGREES = "the list shows another title than the single GET"
    REFUSAL_409 = "a refused transition answers 409 (with Nick's body), not 400"
    FORBIDDEN_ALLOWED = "a user who may not manage jobs gets 200"
    WORKER_BACKWARDS = "the worker moves completed jobs back to running"
    LOGOUT_KEEPS_TOKEN = "logout answers 204 but the token stays valid"
    RENEWED_TOKEN_REFUSED = "renewal hands out a token nothing accepts"
    NOT_FOUND_SHAPE = "404 bodies lose Nick's shape: {'message': 'Not found'}"
    REFUSAL_TYPED = "a refused transition answers 400 in the typed shape {'error': {'type', 'message'}}"
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
    """The server, its jobs, its worker and its journal; runs on its own thread on 127.0.0.1.

    `jobs_api=False` serves login, renewal and logout alone, as stock Nick 2.8.0 (no jobs API: GET /@jobs is
    Nick's 404 for a path it does not have). `secret` signs its tokens: Nick's development one, or a production
    deployment's own (a subclass's).
    """

    secret = SECRET

    def __init__(
        self,
        violations: frozenset[Violation] = frozenset(),
        jobs: list[dict[str, Any]] | None = None,
        *,
        jobs_api: bool = True,
    ):
        self.violations = violations
        self.jobs_api = jobs_api
        self.jobs: dict[str, dict[str, Any]] = {job["uuid"]: job for job in jobs or default_jobs()}
        self.due: dict[str, float] = {}
        self.held: dict[str, tuple[str, float]] = {}  # every token issued -> (its user, when it expires)
        self.revoked: set[str] = set()
        self.issued: list[str] = []  # every token handed out: none may appear in a report
        self.journal: list[tuple[str, str, int]] = []
        self.languages: list[str | None] = []  # the Accept-Language of every request of the API, in order
        self.reads: dict[str, int] = {}  # reads of each job, for V.TIMESTAMP_BACKWARDS
        self.default_language = LANGUAGES[0]
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
        return [self._journal, self._nick]

    def _apply(self, job: dict[str, Any], transition: Transition, context: dict[str, Any]) -> None:
        apply(job, transition, context)

    def _routes(self) -> list[web.RouteDef]:
        session = [
            web.post("/@login", self.login),
            web.post("/@login-renew", self.renew),
            web.post("/@logout", self.logout),
        ]
        if not self.jobs_api:
            return session
        return [
            *session,
            web.get("/@jobs", self.list_jobs),
            web.get("/@jobs/{id}", self.get_job),
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
            self.languages.append(request.headers.get("Accept-Language"))
        if isinstance(response, web.HTTPException):
            raise response
        return response

    @web.middleware
    async def _nick(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Nick's answers around the routes: its 404 for a path or a method the API does not have, its texts in the
        language the request asks for."""
        try:
            response: web.StreamResponse = await handler(request)
        except JobNotFound as exc:
            response = web.json_response(exc.body, status=404)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:  # the router's: no such path, or method
            response = self._undeclared(request, exc)
        language = self._language(request)
        if language == LANGUAGES[0] or response.status < 400 or not isinstance(response, web.Response):
            return response
        if response.content_type != JSON or not isinstance(response.body, bytes):
            return response
        translated = _translated(json.loads(response.body), TRANSLATIONS[language])
        return web.json_response(translated, status=response.status, headers=_kept(response.headers))

    def _undeclared(self, request: web.Request, exc: web.HTTPException) -> web.StreamResponse:
        """What a path the API does not have, or a method a path does not declare, answers: Nick's 404."""
        return web.json_response({"error": f"Not found: {request.path}"}, status=404)

    def _language(self, request: web.Request) -> str:
        """The language Nick answers in, as Express's acceptsLanguages picks it among Nick's (q values honoured)."""
        header = request.headers.get("Accept-Language")
        if not header:
            return self.default_language
        ranked = []
        for order, item in enumerate(header.split(",")):
            tag, _, rest = item.strip().partition(";")
            quality = 1.0
            if rest.strip().lower().startswith("q="):
                try:
                    quality = float(rest.strip()[2:])
                except ValueError:
                    quality = 0.0
            primary = tag.strip().lower().split("-", 1)[0]
            language = LANGUAGES[0] if primary == "*" else primary
            if quality > 0 and language in LANGUAGES:
                ranked.append((-quality, order, language))
        return min(ranked)[2] if ranked else LANGUAGES[0]

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
        """Nick's login: `!body.login || !body.password` is missing (400); a login that is not a string names no
        user (401); where Nick itself fails (no JSON content type, not JSON, a password that is not a string, JSON
        that is neither an object nor an array), the contract's 400 in Nick's shape."""
        raw = await request.read()
        body: Any = None
        if raw.strip():
            media, _, parameters = request.headers.get("Content-Type", "").partition(";")
            if media.strip().lower() != JSON:
                return _bad_request(f"Content-Type: {media.strip() or 'none'}; a JSON body is sent as {JSON}")
            charset = parameters.strip().lower().removeprefix("charset=").strip('"') or "utf-8"
            if charset not in ("utf-8", "utf8"):
                return _bad_request(f"Content-Type: the charset {charset} is not UTF-8")
            try:
                body = json.loads(raw)
            except ValueError:
                return _bad_request("the body is not JSON")
        if not isinstance(body, dict | list | None):
            return _bad_request(f"the body must be a JSON object, not {type(body).__name__}")
        fields = body if isinstance(body, dict) else {}
        login, password = fields.get("login"), fields.get("password")
        if _falsy(login) or _falsy(password):
            if V.MISSING_FIELD_401 in self.violations:
                return web.json_response({"error": INVALID_CREDENTIALS}, status=401)
            return web.json_response({"error": MISSING_CREDENTIALS}, status=400)
        if not isinstance(password, str):
            return _bad_request(f"password: {json.dumps(password)[:100]} is not a string")
        if not isinstance(login, str) and V.SERVER_ERROR in self.violations:
            raise web.HTTPInternalServerError(text="boom")
        user = USERS.get(login) if isinstance(login, str) else None
        if user is None or user[0] != password:
            status = 400 if V.WRONG_PASSWORD_400 in self.violations else 401
            return web.json_response({"error": INVALID_CREDENTIALS}, status=status)
        return web.json_response({"token": self._issue(login)})

    def _issue(self, login: str) -> str:
        now = int(time.time())
        claims = {"sub": login, "fullname": login.title(), "iat": now, "exp": now + LIFETIME}
        token = jwt.encode({**claims, "jti": secrets.token_hex(8)}, self.secret, algorithm="HS256")
        self.held[token] = (login, float(now + LIFETIME))
        self.issued.append(token)
        return token

    def _token(self, request: web.Request) -> str | None:
        """The token of an `Authorization: Bearer <token>` header, exactly as Nick reads it (case-sensitive scheme,
        one space)."""
        header = request.headers.get("Authorization", "")
        return header[len(BEARER) :] if header.startswith(BEARER) else None

    def _user(self, request: web.Request) -> str | None:
        """The user of a token this server issued, still holds and that has not expired."""
        token = self._token(request)
        held = None if token is None or token in self.revoked else self.held.get(token)
        if held is None or held[1] <= time.time():
            return None
        return held[0] if held[0] in USERS else None

    async def renew(self, request: web.Request) -> web.Response:
        user = self._user(request)
        if user is None:
            return web.json_response({"error": INVALID_SESSION}, status=401)
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
            body = {"message": "Not found"} if V.NOT_FOUND_SHAPE in self.violations else NOT_FOUND
            raise JobNotFound(body)
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
            return self._refuse(operation, job)
        if Violation.RETRY_NO_RESET in self.violations and operation == "retryJob":
            job["status"] = outcome.target
        elif V.ABORT_IGNORED in self.violations and operation == "abortJob":
            pass
        else:
            self._apply(job, outcome, {})
        self._schedule(job)
        return web.Response(status=outcome.trigger.status or 204)

    def _refuse(self, operation: str, job: dict[str, Any]) -> web.Response:
        """Nick's 400 for a transition the job's state does not allow; the job is left as it was."""
        message = f"Job {job['uuid']} is {job['status']}; {REFUSALS[operation]}"
        if V.REFUSAL_409 in self.violations:
            return web.json_response({"error": message}, status=409)
        if V.REFUSAL_TYPED in self.violations:
            return web.json_response({"error": {"type": "Bad Request", "message": message}}, status=400)
        return web.json_response({"error": message}, status=400)

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


class JobNotFound(Exception):
    """No job has this id: answered 404 with `body` (unlike the router's 404 for a path the API does not have)."""

    def __init__(self, body: Any) -> None:
        super().__init__(body)
        self.body = body


def _bad_request(message: str) -> web.Response:
    """The contract's 400 for a malformed login body, in Nick's typed shape."""
    return web.json_response({"error": {"type": "Bad Request", "message": message}}, status=400)


def _falsy(value: Any) -> bool:
    """Whether JavaScript takes a JSON value for false (`!body.login`): absent, null, false, 0 or ""."""
    return value is None or value is False or value == "" or (isinstance(value, int | float) and value == 0)


def _translated(value: Any, table: dict[str, str]) -> Any:
    if isinstance(value, str):
        return table.get(value, value)
    if isinstance(value, dict):
        return {key: _translated(item, table) for key, item in value.items()}
    return value


def _kept(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}


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
def serve(
    *violations: Violation, jobs: list[dict[str, Any]] | None = None, jobs_api: bool = True
) -> Iterator[JobsServer]:
    """A running server with these violations (`jobs_api=False`: stock Nick's login, renewal and logout alone)."""
    with JobsServer(frozenset(violations), jobs, jobs_api=jobs_api) as server:
        yield server


def check(url: str, *phases: str, **overrides: Any) -> Report:
    """Run the suite's `phases` against `url` quickly: mock fixtures, few examples, a fixed seed."""
    options = Options(
        base_url=url,
        fixtures="mock",
        forbidden_login=FORBIDDEN_USER[0],
        forbidden_password=FORBIDDEN_USER[1],
        max_examples=5,
        seed=1,
        timeout=3,
        phases=phases,
    )
    return run(dataclasses.replace(options, **overrides))
