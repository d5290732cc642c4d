"""An evil proxy: a real mock behind a reverse proxy that corrupts the jobs API's answers in one way.

The control API (`/__mock__/`) passes through untouched, so `--fixtures mock` works through the
proxy. Every other request goes on to the mock, and its answer comes back changed as one
`Breakage` says: a departure from the contract the suite must fail, or (`harmless`) a difference
the contract allows, which the suite must pass. The breakages are written from
../shared/CONTRACT.md and spec/jobs.yaml, not from the suite's checks.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt
from aiohttp import ClientSession, web
from yarl import URL

from tests.helpers import ThreadedServer

MOCK_SECRET = "secret"  # the mock's signing secret: Nick's development default
ADMIN = {"login": "admin", "password": "admin"}
USERS = {"admin": "admin", "editor": "editor123"}
UNAUTHORIZED = {"message": "You are not authorized to access this resource."}
HOP_HEADERS = {"content-length", "transfer-encoding", "content-encoding", "connection", "date", "server", "keep-alive"}
ITEM = re.compile(r"^/@jobs/([^/]+)$")
ACTION = re.compile(r"^/@jobs/([^/]+)/(abort|retry)$")
ANY_JOB = re.compile(r"^/@jobs/([^/]+)(/.*)?$")
# The methods each path of the API declares (a proxy knows no spec): for answering 405 with `Allow` instead of 404.
DECLARED = (
    (re.compile(r"^/@(login|login-renew|logout)$"), "POST"),
    (re.compile(r"^/@jobs$"), "GET, HEAD"),
    (re.compile(r"^/@jobs/[^/]+$"), "DELETE, GET, HEAD"),
    (ACTION, "POST"),
)
MISSING: Any = object()
Job = dict[str, Any]


@dataclass
class Answer:
    """What the mock answered."""

    status: int
    headers: dict[str, str]
    body: bytes

    def data(self) -> Any:
        """The JSON body, or None."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def response(
        self, *, status: int | None = None, data: Any = MISSING, headers: dict[str, str] | None = None
    ) -> web.Response:
        """This answer, with a new status, JSON body or headers."""
        body = self.body if data is MISSING else json.dumps(data).encode()
        kept = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        return web.Response(status=status or self.status, body=body, headers={**kept, **(headers or {})})


def json_answer(data: Any, status: int = 200, content_type: str = "application/json") -> web.Response:
    """A JSON answer made up by the proxy."""
    return web.Response(status=status, body=json.dumps(data).encode(), headers={"Content-Type": content_type})


class Hop:
    """One request passing through the proxy."""

    def __init__(self, request: web.Request, proxy: EvilProxy, body: bytes) -> None:
        self.request = request
        self.proxy = proxy
        self.body = body

    @property
    def path(self) -> str:
        """The request's path."""
        return self.request.path

    @property
    def method(self) -> str:
        """The request's method."""
        return self.request.method

    def token(self) -> str | None:
        """The bearer token the request carries."""
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def json(self) -> Any:
        """The request's JSON body, or None."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    async def forward(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Answer:
        """Send the request (or a changed one) on to the mock, as if the client had sent it there."""
        sent = {k: v for k, v in self.request.headers.items() if k.lower() not in HOP_HEADERS | {"host"}}
        sent.update({"X-Forwarded-Host": self.request.host, "X-Forwarded-Proto": self.request.scheme})
        sent.update(headers or {})
        url = URL(self.proxy.upstream + (path or self.request.raw_path), encoded=True)
        data = self.body if body is None else body
        async with self.proxy.session.request(
            method or self.method, url, headers=sent, data=data, allow_redirects=False
        ) as answer:
            payload = await answer.read()
            return Answer(answer.status, dict(answer.headers), payload)

    async def passed(self) -> web.Response:
        """The mock's answer, unchanged."""
        return (await self.forward()).response()

    async def as_admin(self) -> web.Response:
        """The request sent with the admin's valid token instead of the one it carries."""
        token = await self.proxy.admin_token()
        return (await self.forward(headers={"Authorization": f"Bearer {token}"})).response()


Corruption = Callable[[Hop], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Breakage:
    """One way the proxy changes the mock's answers."""

    name: str
    description: str
    corrupt: Corruption
    harmless: bool = False


class EvilProxy(ThreadedServer):
    """A reverse proxy in front of `upstream` on its own thread and loopback port, applying one breakage."""

    def __init__(self, upstream: str, breakage: Breakage | None) -> None:
        self.upstream = upstream
        self.breakage = breakage
        self.url = ""
        self.session: ClientSession = None  # type: ignore[assignment]  (made on the proxy's loop)
        self.memory: dict[str, Any] = {}  # what a breakage remembers between requests
        self._admin: str | None = None
        super().__init__("evil-proxy")
        self._runner: web.AppRunner | None = None

    async def _start(self) -> None:
        self.session = ClientSession()
        # A middleware, not a route: it sees every request, whatever its path (routes match decoded paths).
        app = web.Application(client_max_size=4 * 1024 * 1024, middlewares=[self._everything])
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def _stop(self) -> None:
        await self.session.close()
        assert self._runner is not None
        await self._runner.cleanup()

    @web.middleware
    async def _everything(self, request: web.Request, handler: Any) -> web.StreamResponse:
        return await self.handle(request)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Control API and unbroken proxies: straight through; the jobs API: through the breakage."""
        hop = Hop(request, self, await request.read())
        if request.path.startswith("/__mock__") or self.breakage is None:
            return await hop.passed()
        return await self.breakage.corrupt(hop)

    async def admin_token(self) -> str:
        """A valid token of the mock's admin, logged in once."""
        if self._admin is None:
            async with self.session.post(f"{self.upstream}/@login", json=ADMIN) as answer:
                self._admin = str((await answer.json())["token"])
        return self._admin


# ---- building blocks -------------------------------------------------------------------------


def jobs_in(data: Any) -> list[Job]:
    """The jobs a body holds: itself or the items of a list."""
    items = data if isinstance(data, list) else [data]
    return [item for item in items if isinstance(item, dict) and "uuid" in item]


def on_jobs(change: Callable[[Job], None], where: Callable[[Hop], bool] = lambda hop: True) -> Corruption:
    """Every job of every successful answer (where `where` holds) changed in place by `change`."""

    async def corrupt(hop: Hop) -> web.StreamResponse:
        answer = await hop.forward()
        data = answer.data()
        if answer.status != 200 or data is None or not where(hop):
            return answer.response()
        for job in jobs_in(data):
            change(job)
        return answer.response(data=data)

    return corrupt


def on_status(status: int, change: Callable[[Hop, Answer], web.StreamResponse]) -> Corruption:
    """Answers with `status` replaced by what `change` makes of them."""

    async def corrupt(hop: Hop) -> web.StreamResponse:
        answer = await hop.forward()
        return change(hop, answer) if answer.status == status else answer.response()

    return corrupt


def accepting(token_kind: Callable[[str], bool]) -> Corruption:
    """Requests whose token is of this kind are served as the admin's."""

    async def corrupt(hop: Hop) -> web.StreamResponse:
        token = hop.token()
        if token is not None and token_kind(token):
            return await hop.as_admin()
        return await hop.passed()

    return corrupt


def claims(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A JWT's header and claims, unverified; None when it is not a JWT."""
    try:
        return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None


def signed_by_mock(token: str) -> dict[str, Any] | None:
    """The claims of a token the mock's secret signed (expiry not checked)."""
    try:
        found: dict[str, Any] = jwt.decode(token, MOCK_SECRET, algorithms=["HS256"], options={"verify_exp": False})
    except jwt.PyJWTError:
        return None
    return found


def is_item(hop: Hop) -> bool:
    """A GET of one job."""
    return hop.method == "GET" and ITEM.match(hop.path) is not None


def is_jobs(hop: Hop) -> bool:
    """Any jobs operation."""
    return hop.path == "/@jobs" or ANY_JOB.match(hop.path) is not None


def stamp_shift(value: Any, seconds: int) -> Any:
    """A Timestamp moved by `seconds`."""
    if not isinstance(value, str):
        return value
    moved = time.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.mktime(moved) + seconds)) + value[19:]


def rename_stamps(change: Callable[[str], str]) -> Callable[[Job], None]:
    """Every set timestamp of a job rewritten by `change`."""

    def apply(job: Job) -> None:
        for name in ("created", "started", "finished"):
            if isinstance(job.get(name), str):
                job[name] = change(job[name])

    return apply


def setter(**values: Any) -> Callable[[Job], None]:
    """Set these fields."""
    return lambda job: job.update(values)


def dropper(name: str) -> Callable[[Job], None]:
    """Remove this field."""
    return lambda job: job.pop(name, None)


# ---- the breakages ---------------------------------------------------------------------------


def _id_host(job: Job) -> None:
    job["@id"] = re.sub(r"^https?://[^/]+", "https://jobs.example.org", job.get("@id", ""))


def _id_relative(job: Job) -> None:
    job["@id"] = re.sub(r"^https?://[^/]+", "", job.get("@id", ""))


def _uuid_prefixed(job: Job) -> None:
    job["uuid"] = "job-" + job["uuid"]


async def uuid_not_a_uuid(hop: Hop) -> web.StreamResponse:
    """Jobs are shown with `job-<uuid>` ids, and such ids are understood on the way in."""
    path = re.sub(r"/@jobs/job-", "/@jobs/", hop.request.raw_path)
    answer = await hop.forward(path=path)
    data = answer.data()
    if answer.status == 200 and data is not None:
        for job in jobs_in(data):
            _uuid_prefixed(job)
        return answer.response(data=data)
    return answer.response()


def _title_case(job: Job) -> None:
    job["status"] = str(job["status"]).title()


def _null_empty_result(job: Job) -> None:
    if job.get("result") == {}:
        job["result"] = None


def _started_early(job: Job) -> None:
    if isinstance(job.get("started"), str):
        job["started"] = stamp_shift(job["created"], -3600)


def _finished_early(job: Job) -> None:
    if isinstance(job.get("finished"), str):
        job["finished"] = stamp_shift(job["started"], -60)


def _running_finished(job: Job) -> None:
    if job.get("status") == "running":
        job["finished"] = job["started"]


def _created_now(job: Job) -> None:
    now = time.time()
    job["created"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def _aborted_title(job: Job) -> None:
    if job.get("status") == "aborted":
        job["title"] = f"{job['title']} (aborted)"


def _401_extra(hop: Hop, answer: Answer) -> web.StreamResponse:
    return json_answer({**UNAUTHORIZED, "status": 401}, 401) if is_jobs(hop) else answer.response()


def _401_typed(hop: Hop, answer: Answer) -> web.StreamResponse:
    error = {"type": "Unauthorized", "message": UNAUTHORIZED["message"]}
    return json_answer({"error": error}, 401) if is_jobs(hop) else answer.response()


def _401_text(hop: Hop, answer: Answer) -> web.StreamResponse:
    return answer.response(headers={"Content-Type": "text/plain; charset=utf-8"}) if is_jobs(hop) else answer.response()


def _as_status(status: int) -> Callable[[Hop, Answer], web.StreamResponse]:
    return lambda hop, answer: answer.response(status=status) if is_jobs(hop) else answer.response()


async def logout_needs_token(hop: Hop) -> web.StreamResponse:
    """Logging out without a token answers 401."""
    if hop.path == "/@logout" and hop.token() is None:
        return json_answer(UNAUTHORIZED, 401)
    return await hop.passed()


async def logout_twice(hop: Hop) -> web.StreamResponse:
    """Logging out with a token that is no longer valid answers 401."""
    if hop.path != "/@logout" or hop.token() is None:
        return await hop.passed()
    check = await hop.forward(method="POST", path="/@login-renew", body=b"")
    if check.status == 401:
        return json_answer(UNAUTHORIZED, 401)
    return await hop.passed()


async def renew_without_token(hop: Hop) -> web.StreamResponse:
    """Renewal without a valid session hands out the admin's token."""
    if hop.path == "/@login-renew":
        answer = await hop.forward()
        if answer.status == 401:
            return json_answer({"token": await hop.proxy.admin_token()})
        return answer.response()
    return await hop.passed()


async def renew_401_message(hop: Hop) -> web.StreamResponse:
    """Renewal without a session answers 401 `{"message"}`, the jobs operations' shape."""
    answer = await hop.forward()
    if hop.path == "/@login-renew" and answer.status == 401:
        return json_answer(UNAUTHORIZED, 401)
    return answer.response()


async def list_duplicates(hop: Hop) -> web.StreamResponse:
    """The list holds its first job twice."""
    answer = await hop.forward()
    data = answer.data()
    if hop.path == "/@jobs" and answer.status == 200 and isinstance(data, list) and data:
        return answer.response(data=[*data, data[0]])
    return answer.response()


async def list_without_aborted(hop: Hop) -> web.StreamResponse:
    """The list leaves out aborted jobs."""
    answer = await hop.forward()
    data = answer.data()
    if hop.path == "/@jobs" and answer.status == 200 and isinstance(data, list):
        return answer.response(data=[job for job in data if job.get("status") != "aborted"])
    return answer.response()


async def list_wrapped(hop: Hop) -> web.StreamResponse:
    """The list is an object, plone.restapi's batching style."""
    answer = await hop.forward()
    data = answer.data()
    if hop.path == "/@jobs" and answer.status == 200 and isinstance(data, list):
        return answer.response(data={"items": data, "items_total": len(data)})
    return answer.response()


async def list_octet_stream(hop: Hop) -> web.StreamResponse:
    """The list is served without its JSON content type."""
    answer = await hop.forward()
    if hop.path == "/@jobs" and answer.status == 200:
        return answer.response(headers={"Content-Type": "application/octet-stream"})
    return answer.response()


def _unknown_item(status: int, body: Any) -> Corruption:
    async def corrupt(hop: Hop) -> web.StreamResponse:
        answer = await hop.forward()
        if is_item(hop) and answer.status == 404:
            return json_answer(body if body is not None else answer.data(), status)
        return answer.response()

    return corrupt


async def non_uuid_400(hop: Hop) -> web.StreamResponse:
    """An id that is not a UUID is refused as a bad request."""
    match = ANY_JOB.match(hop.path)
    if match and not re.fullmatch(r"[0-9a-fA-F-]{36}", match.group(1)):
        return json_answer({"error": {"type": "Bad Request", "message": "Not a UUID."}}, 400)
    return await hop.passed()


async def delete_twice(hop: Hop) -> web.StreamResponse:
    """Deleting a job that does not exist answers 204."""
    answer = await hop.forward()
    if hop.method == "DELETE" and answer.status == 404:
        return web.Response(status=204)
    return answer.response()


async def abort_gone_400(hop: Hop) -> web.StreamResponse:
    """Aborting a job that does not exist answers a 400 refusal."""
    answer = await hop.forward()
    match = ACTION.match(hop.path)
    if match and match.group(2) == "abort" and answer.status == 404:
        message = f"Job {match.group(1)} is gone; only a running job can be aborted."
        return json_answer({"error": message}, 400, "application/json; charset=utf-8")
    return answer.response()


def _pretends(action: str, state: str) -> Corruption:
    async def corrupt(hop: Hop) -> web.StreamResponse:
        match = ACTION.match(hop.path)
        if match and match.group(2) == action:
            current = (await hop.forward(method="GET", path=f"/@jobs/{match.group(1)}", body=b"")).data()
            if isinstance(current, dict) and current.get("status") == state:
                return web.Response(status=204)
        return await hop.passed()

    return corrupt


def _refusal(change: Callable[[str], tuple[int, Any]]) -> Corruption:
    """A refused abort or retry (400 `{"error": message}`) answered as `change(message)` says: (status, body)."""

    async def corrupt(hop: Hop) -> web.StreamResponse:
        answer = await hop.forward()
        data = answer.data()
        if ACTION.match(hop.path) and answer.status == 400 and isinstance(data, dict):
            if isinstance(data.get("error"), str):
                status, body = change(data["error"])
                return answer.response(status=status, data=body)
        return answer.response()

    return corrupt


def _no_state(message: str) -> tuple[int, Any]:
    return 400, {"error": "This operation is not possible now."}


def _state_worded(message: str) -> tuple[int, Any]:
    found = re.match(r"Job (\S+) is (\w+);", message)
    if found:
        message = f"Cannot do that to job {found.group(1)}: its status is {found.group(2)}."
    return 400, {"error": message}


def _old_refusal(message: str) -> tuple[int, Any]:
    return 409, {"error": {"type": "Conflict", "message": message}}


def _typed_refusal(message: str) -> tuple[int, Any]:
    return 400, {"error": {"type": "Bad Request", "message": message}}


def _job_404(change: Callable[[str], Any]) -> Callable[[Hop, Answer], web.StreamResponse]:
    """A job's 404 (`{"error": "Not found."}`) with the body `change` makes of its message."""

    def corrupt(hop: Hop, answer: Answer) -> web.StreamResponse:
        data = answer.data()
        if isinstance(data, dict) and data.get("error") == "Not found.":
            return answer.response(data=change(data["error"]))
        return answer.response()

    return corrupt


def _login_400_type(hop: Hop, answer: Answer) -> web.StreamResponse:
    data = answer.data()
    if hop.path == "/@login" and isinstance(data, dict) and isinstance(data.get("error"), dict):
        data["error"]["type"] = "Bad credentials"
    return answer.response(data=data)


def _other_403(hop: Hop, answer: Answer) -> web.StreamResponse:
    return json_answer({"message": "Forbidden."}, 403) if is_jobs(hop) else answer.response()


def _completed_empty(job: Job) -> None:
    if job.get("status") == "completed":
        job["result"] = {}


def _method_405(hop: Hop, answer: Answer) -> web.StreamResponse:
    """Nick's 404 for a method a path of the API does not declare, answered 405 with `Allow` instead."""
    data = answer.data()
    allow = next((methods for pattern, methods in DECLARED if pattern.match(hop.path)), None)
    if allow is None or data != {"error": f"Not found: {hop.path}"}:
        return answer.response()
    answer = json_answer(
        {"error": {"type": "Method Not Allowed", "message": f"{hop.method} is not allowed here."}}, 405
    )
    answer.headers["Allow"] = allow
    return answer


def _in_language(language: str, *, always: bool) -> Corruption:
    """Requests sent on asking for `language`: those that name none (or, `always`, every one)."""

    async def corrupt(hop: Hop) -> web.StreamResponse:
        if always or "Accept-Language" not in hop.request.headers:
            return (await hop.forward(headers={"Accept-Language": language})).response()
        return await hop.passed()

    return corrupt


def _login_rate_limited(retry_after: str | None) -> Corruption:
    """The third login answers 429 (as a rate limit would), with this `Retry-After` (None: without one)."""

    async def corrupt(hop: Hop) -> web.StreamResponse:
        if hop.path == "/@login":
            logins = hop.proxy.memory["logins"] = hop.proxy.memory.get("logins", 0) + 1
            if logins == 3:
                headers = {"RateLimit-Limit": "2", "RateLimit-Remaining": "0", "RateLimit-Reset": "1"}
                if retry_after is not None:
                    headers["Retry-After"] = retry_after
                answer = json_answer({"message": "Too many authentication attempts"}, 429)
                answer.headers.update(headers)
                return answer
        return await hop.passed()

    return corrupt


def _login_as_known(password_ok: Callable[[str], bool]) -> Corruption:
    async def corrupt(hop: Hop) -> web.StreamResponse:
        body = hop.json()
        if hop.path == "/@login" and isinstance(body, dict) and body.get("login") in USERS:
            password = body.get("password")
            if isinstance(password, str) and password_ok(password):
                fixed = {"login": body["login"], "password": USERS[body["login"]]}
                return (await hop.forward(body=json.dumps(fixed).encode())).response()
        return await hop.passed()

    return corrupt


def _token_answers(change: Callable[[Hop, str], Any]) -> Corruption:
    async def corrupt(hop: Hop) -> web.StreamResponse:
        answer = await hop.forward(headers=_real_token(hop))
        data = answer.data()
        if answer.status == 200 and isinstance(data, dict) and isinstance(data.get("token"), str):
            return answer.response(data=change(hop, data["token"]))
        return answer.response()

    return corrupt


def _real_token(hop: Hop) -> dict[str, str]:
    token = hop.token()
    real = hop.proxy.memory.get(token) if token else None
    return {"Authorization": f"Bearer {real}"} if real else {}


def _opaque(hop: Hop, token: str) -> dict[str, str]:
    handle = secrets.token_hex(20)
    hop.proxy.memory[handle] = token
    return {"token": handle}


def _without_exp(hop: Hop, token: str) -> dict[str, str]:
    found = signed_by_mock(token)
    if found is None:
        return {"token": token}
    found.pop("exp", None)
    handle = jwt.encode(found, MOCK_SECRET, algorithm="HS256")
    hop.proxy.memory[handle] = token  # the mock accepts only the tokens it issued: sent on as the real one
    return {"token": handle}


async def abort_200_with_job(hop: Hop) -> web.StreamResponse:
    """A successful abort answers 200 with the aborted job."""
    answer = await hop.forward()
    match = ACTION.match(hop.path)
    if match and match.group(2) == "abort" and answer.status == 204:
        job = await hop.forward(method="GET", path=f"/@jobs/{match.group(1)}", body=b"")
        return job.response(status=200)
    return answer.response()


async def slow(hop: Hop) -> web.StreamResponse:
    """A few answers 2 s late: slow, but within the suite's timeout."""
    seen = hop.proxy.memory["answers"] = hop.proxy.memory.get("answers", 0) + 1
    if seen in (5, 60, 150):
        await asyncio.sleep(2)
    return await hop.passed()


def _with_headers(headers: dict[str, str]) -> Corruption:
    async def corrupt(hop: Hop) -> web.StreamResponse:
        answer = await hop.forward()
        if answer.body and answer.headers.get("Content-Type", "").startswith("application/json"):
            return answer.response(headers=headers)
        return answer.response()

    return corrupt


async def list_items_with_id(hop: Hop) -> web.StreamResponse:
    """List items carry their correct `@id` (allowed: they may)."""
    answer = await hop.forward()
    data = answer.data()
    if hop.path == "/@jobs" and answer.status == 200 and isinstance(data, list):
        for job in jobs_in(data):
            job["@id"] = f"{hop.request.scheme}://{hop.request.host}/@jobs/{job['uuid']}"
        return answer.response(data=data)
    return answer.response()


async def list_reversed(hop: Hop) -> web.StreamResponse:
    """The list in another order (the contract fixes none)."""
    answer = await hop.forward()
    data = answer.data()
    if hop.path == "/@jobs" and answer.status == 200 and isinstance(data, list):
        return answer.response(data=data[::-1])
    return answer.response()


def _expired(token: str) -> bool:
    found = signed_by_mock(token)
    return found is not None and float(found.get("exp", 1e12)) < time.time()


def _alg_none(token: str) -> bool:
    found = claims(token)
    return found is not None and str(found[0].get("alg", "")).lower() == "none"


def _other_secret(token: str) -> bool:
    found = claims(token)
    return found is not None and found[1].get("sub") in USERS and signed_by_mock(token) is None


def _unknown_user(token: str) -> bool:
    found = signed_by_mock(token)
    return found is not None and found.get("sub") not in USERS


B = Breakage
ALL: list[Breakage] = [
    B("item-without-@id", "GET /@jobs/{id} answers lack `@id`", on_jobs(dropper("@id"), is_item)),
    B("@id-other-host", "`@id` names another host than the client used", on_jobs(_id_host, is_item)),
    B("@id-relative", "`@id` is a path, not an absolute URL", on_jobs(_id_relative, is_item)),
    B("stamps-without-ms", "timestamps lack milliseconds", on_jobs(rename_stamps(lambda s: s[:19] + "Z"))),
    B("stamps-with-offset", "timestamps end in +00:00, not Z", on_jobs(rename_stamps(lambda s: s[:-1] + "+00:00"))),
    B("uuid-not-a-uuid", "`uuid` is not a UUID (`job-<uuid>`)", uuid_not_a_uuid),
    B("status-title-case", "status in title case ('Running')", on_jobs(_title_case)),
    B("result-null", "`result` is null until the job produces one", on_jobs(_null_empty_result)),
    B("params-null", "`params` is null", on_jobs(setter(params=None))),
    B("started-before-created", "`started` is before `created`", on_jobs(_started_early)),
    B("finished-before-started", "`finished` is before `started`", on_jobs(_finished_early)),
    B("running-with-finished", "running jobs show `finished`", on_jobs(_running_finished)),
    B("created-moves", "`created` is the time of each read", on_jobs(_created_now)),
    B("title-changes-on-abort", "an aborted job's title changes", on_jobs(_aborted_title)),
    B("401-extra-member", "401 bodies carry a member besides `message`", on_status(401, _401_extra)),
    B("401-typed-shape", "401 bodies use the typed-error shape", on_status(401, _401_typed)),
    B("401-text-plain", "401 bodies are served as text/plain", on_status(401, _401_text)),
    B("403-as-401", "a user who may not manage jobs gets 401", on_status(403, _as_status(401))),
    B("401-as-403", "no or a bad token gets 403", on_status(401, _as_status(403))),
    B("expired-token-accepted", "an expired token is accepted", accepting(_expired)),
    B("alg-none-accepted", "an unsigned (alg none) token is accepted", accepting(_alg_none)),
    B("other-secret-accepted", "a token signed with another secret is accepted", accepting(_other_secret)),
    B("unknown-user-accepted", "a token of an unknown user is accepted", accepting(_unknown_user)),
    B("logout-needs-token", "logout without a token answers 401", logout_needs_token),
    B("logout-twice-401", "logout with a logged-out token answers 401", logout_twice),
    B("renew-without-token", "renewal without a session answers 200", renew_without_token),
    B("renew-401-message", "renewal without a session answers {message}", renew_401_message),
    B("list-duplicates", "the list holds a job twice", list_duplicates),
    B("list-without-aborted", "the list leaves out aborted jobs", list_without_aborted),
    B("list-wrapped", "the list is an object {items, items_total}", list_wrapped),
    B("list-octet-stream", "the list is served as application/octet-stream", list_octet_stream),
    B("unknown-id-500", "GET of an unknown id answers 500", _unknown_item(500, {"message": "Internal error"})),
    B("unknown-id-200", "GET of an unknown id answers 200", _unknown_item(200, None)),
    B("non-uuid-id-400", "an id that is not a UUID answers 400", non_uuid_400),
    B("delete-twice-204", "deleting a deleted job answers 204", delete_twice),
    B("abort-gone-400", "aborting a deleted job answers a 400 refusal", abort_gone_400),
    B("retry-does-nothing", "retry of a failed job answers 204 and leaves it failed", _pretends("retry", "failed")),
    B("abort-does-nothing", "abort of a running job answers 204 and leaves it running", _pretends("abort", "running")),
    B("refusal-as-message", "refusal bodies use the {message} shape", _refusal(lambda m: (400, {"message": m}))),
    B("refusal-without-state", "refusal messages do not name the job's state", _refusal(_no_state)),
    B("refusal-worded", "refusals worded otherwise, still naming the state", _refusal(_state_worded)),
    B("refusal-as-409", "refusals answer the old contract's 409 Conflict", _refusal(_old_refusal)),
    B("refusal-typed-shape", "refusals in the typed shape {error: {type, message}}", _refusal(_typed_refusal)),
    B(
        "404-typed-shape",
        "404 bodies in the old typed shape {error: {type: 'Not found', message}}",
        on_status(404, _job_404(lambda m: {"error": {"type": "Not found", "message": m}})),
    ),
    B("404-capitalised", "404 says 'Not Found.'", on_status(404, _job_404(lambda m: {"error": "Not Found."}))),
    B(
        "404-other-message",
        "404 says 'There is no such job here.', not Nick's 'Not found.'",
        on_status(404, _job_404(lambda m: {"error": "There is no such job here."})),
    ),
    B("403-other-message", "403 bodies say 'Forbidden.', not Nick's message", on_status(403, _other_403)),
    B("completed-result-empty", "completed jobs show `result` {}", on_jobs(_completed_empty)),
    B("dutch-always", "Nick's texts in Dutch, even to a request asking for English", _in_language("nl", always=True)),
    B(
        "login-429-without-retry-after",
        "the third login answers 429 without the documented `Retry-After`",
        _login_rate_limited(None),
    ),
    B("empty-password-accepted", "login with an empty password succeeds", _login_as_known(lambda p: p == "")),
    B("wrong-password-accepted", "login with a wrong password succeeds", _login_as_known(lambda p: True)),
    B("token-not-a-jwt", "login hands out opaque tokens, not JWTs", _token_answers(_opaque)),
    B("token-without-exp", "tokens carry no `exp`: they never expire", _token_answers(_without_exp)),
    B("login-token-renamed", "login answers {access_token}", _token_answers(lambda hop, t: {"access_token": t})),
    B("abort-200-with-job", "abort answers 200 with the job", abort_200_with_job),
    B("login-400-other-type", "a missing login field: 400 'Bad credentials'", on_status(400, _login_400_type)),
]
HARMLESS: list[Breakage] = [
    B("extra-job-fields", "jobs carry an extra field (the Job schema allows it)", on_jobs(setter(progress=0)), True),
    B("list-reversed", "the list in another order", list_reversed, True),
    B("list-items-with-@id", "list items carry their `@id`", list_items_with_id, True),
    B("slow-answers", "three answers 2 s late (within the timeout)", slow, True),
    B(
        "plain-json-and-headers",
        "JSON as `application/json` without a charset, and extra headers",
        _with_headers({"Content-Type": "application/json", "X-Powered-By": "Nick", "Cache-Control": "no-store"}),
        True,
    ),
    B(
        "methods-405",
        "a method a path does not declare answers 405 with `Allow` (the contract promises neither)",
        on_status(404, _method_405),
        True,
    ),
    B(
        "dutch-by-default",
        "Nick's texts in Dutch to a request naming no language",
        _in_language("nl", always=False),
        True,
    ),
    B("login-429-once", "the third login answers 429 with `Retry-After: 1`", _login_rate_limited("1"), True),
]
BREAKAGES: dict[str, Breakage] = {b.name: b for b in [*ALL, *HARMLESS]}
