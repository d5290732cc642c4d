"""The contract's operations, routed from the spec's paths and operationIds."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from jobspec import Spec
from mockserver.errors import InvalidCredentials, InvalidSession, MissingCredentials, Unauthorized
from mockserver.state import STATE, MockState
from mockserver.validation import RequestInvalid

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JSON = "application/json"
SAFE_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def json_response(body: bytes, status: int = 200) -> web.Response:
    """A JSON response with exactly `Content-Type: application/json`."""
    return web.Response(body=body, status=status, content_type=JSON)


def dump(data: object) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(data, separators=(",", ":")).encode()


def base_url(request: web.Request) -> str:
    """The client's view of this server: scheme and Host, honouring X-Forwarded-Proto/-Host."""
    proto = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip().lower()
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    if proto not in ("http", "https"):
        proto = request.scheme
    if not SAFE_HOST.match(host):
        host = request.host if SAFE_HOST.match(request.host) else "localhost"
    return f"{proto}://{host}"


async def login(request: web.Request) -> web.StreamResponse:
    """POST /@login: a token for valid credentials."""
    state = request.app[STATE]
    try:
        body = state.validators["login"].parse_body(await request.read(), request.content_type)
    except RequestInvalid as invalid:
        raise (MissingCredentials() if invalid.only_missing else invalid) from None
    token = state.auth.login(body["login"], body["password"])
    if token is None:
        raise InvalidCredentials()
    return json_response(dump({"token": token}))


async def renew_login(request: web.Request) -> web.StreamResponse:
    """POST /@login-renew: a fresh token for a logged-in user."""
    state = request.app[STATE]
    try:
        identity = state.auth.identify(request.headers.get("Authorization"))
    except Unauthorized:
        raise InvalidSession() from None
    return json_response(dump({"token": state.auth.issue(identity.user)}))


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /@logout: the token presented stops working; always 204."""
    request.app[STATE].auth.revoke(request.headers.get("Authorization"))
    return web.Response(status=204)


def _authorized(request: web.Request) -> MockState:
    state = request.app[STATE]
    state.auth.authorize_jobs(request.headers.get("Authorization"))
    return state


async def get_jobs(request: web.Request) -> web.StreamResponse:
    """GET /@jobs: every job."""
    state = _authorized(request)
    state.now_ms()
    return json_response(state.store.encoded_list())


async def get_job(request: web.Request) -> web.StreamResponse:
    """GET /@jobs/{id}: one job with its absolute URL."""
    state = _authorized(request)
    state.now_ms()
    job = state.store.get(request.match_info["id"])
    url = dump(f"{base_url(request)}/@jobs/{job.uuid}")
    return json_response(b'{"@id":' + url + b"," + job.body[1:])


async def delete_job(request: web.Request) -> web.StreamResponse:
    """DELETE /@jobs/{id}: the job is gone."""
    state = _authorized(request)
    state.now_ms()
    state.store.delete(request.match_info["id"])
    return web.Response(status=state.spec.lifecycle.removal.status)


def transition_handler(operation_id: str) -> Handler:
    """A handler firing what the lifecycle says `operation_id` does to a job."""

    async def handler(request: web.Request) -> web.StreamResponse:
        state = _authorized(request)
        transition = state.store.apply(operation_id, request.match_info["id"], state.now_ms())
        return web.Response(status=transition.trigger.status or 204)

    handler.__doc__ = f"{operation_id}: a lifecycle transition."
    return handler


def handlers(spec: Spec) -> dict[str, Handler]:
    """A handler for every operationId of the spec; a missing one fails at start-up."""
    table: dict[str, Handler] = {
        "login": login,
        "renewLogin": renew_login,
        "logout": logout,
        "getJobs": get_jobs,
        "getJob": get_job,
        spec.lifecycle.removal.operation: delete_job,
    }
    for operation_id in spec.lifecycle.client_operations():
        table.setdefault(operation_id, transition_handler(operation_id))
    missing = sorted(set(spec.operations) - set(table))
    if missing:
        raise ValueError(f"the mock has no handler for the spec's operations {missing}")
    return table


def add_routes(app: web.Application, spec: Spec) -> dict[tuple[str, str], str]:
    """Route every operation of the spec; return (method, path) -> operationId."""
    table = handlers(spec)
    routes: dict[tuple[str, str], str] = {}
    for operation_id, operation in spec.operations.items():
        app.router.add_route(operation.method, operation.path, table[operation_id])
        routes[(operation.method, operation.path)] = operation_id
    return routes
