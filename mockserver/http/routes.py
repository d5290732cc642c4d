"""The jobs API's handlers and their routes, each route mapped to the operationId it serves."""

from __future__ import annotations

import math

from aiohttp import hdrs, web

from jobspec import Spec
from mockserver.domain.documents import dump
from mockserver.domain.errors import (
    BadRequest,
    InvalidCredentials,
    InvalidSession,
    MissingCredentials,
    PathNotFound,
    Unauthorized,
)
from mockserver.domain.state import MockState
from mockserver.http.answers import Handler, Through, base_url, json_response, media_type, read_body
from mockserver.http.context import PATH_PREFIX, context_of, inner_path, state_of

# Nick mounts every view under any content path: /news/@jobs is /@jobs, /a/b/@jobs/{id}/abort too.
# One or more path segments, none starting with "@" (a view), before the spec's own path.
CONTENT = "content"
CONTENT_PATTERN = r"(?:[^/@][^/]*/)*[^/@][^/]*"


def spec_path(request: web.Request) -> str:
    """The request's path as the spec writes it: without the content path a view was reached under."""
    path = inner_path(request)  # without a session's /__session/NAME prefix
    content = request.match_info.get(CONTENT)
    return path[len(content) + 1 :] if content and path.startswith(f"/{content}/") else path


async def login(request: web.Request) -> web.StreamResponse:
    """POST /@login: a token for valid credentials, the body judged as Nick's login judges it.

    Nick (`src/routes/authentication/authentication.ts`) asks `!body.login || !body.password`: a
    field absent, null, empty, 0 or false is missing, and so are both in a JSON array (which has
    no `.login`); a login that is not a string names no user (401). Where Nick itself fails (a
    password that is not a string: 500; JSON that is not an object or an array: an HTML page), the
    mock answers the contract's 400 in Nick's shape.
    """
    state = state_of(request)
    raw = await read_body(request, state.config.request_timeout)
    body = state.validators["login"].parse_json(raw, media_type(request))
    if not isinstance(body, dict | list | None):
        raise BadRequest(f"the body must be a JSON object, not {type(body).__name__}")
    fields = body if isinstance(body, dict) else {}
    login, password = fields.get("login"), fields.get("password")
    if _falsy(login) or _falsy(password):
        raise MissingCredentials()
    if not isinstance(password, str):
        raise BadRequest(f"password: {dump(password).decode()[:100]} is not a string")
    token = state.auth.login(login, password) if isinstance(login, str) else None
    if token is None:
        raise InvalidCredentials()
    return json_response(dump({"token": token}))


def _falsy(value: object) -> bool:
    """Whether JavaScript takes `value` (as JSON gave it) for false: absent, null, false, 0, NaN or ""."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value == 0 or math.isnan(value)
    return value is None or value == ""


async def renew_login(request: web.Request) -> web.StreamResponse:
    """POST /@login-renew: a fresh token for a logged-in user."""
    state = state_of(request)
    try:
        identity = state.auth.identify(request.headers.get("Authorization"))
    except Unauthorized:
        raise InvalidSession() from None
    return json_response(dump({"token": state.auth.issue(identity.user)}))


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /@logout: the token presented stops working; always 204."""
    state_of(request).auth.revoke(request.headers.get("Authorization"))
    return web.Response(status=204)


def _authorized(request: web.Request) -> MockState:
    state = state_of(request)
    state.auth.authorize_jobs(request.headers.get("Authorization"))
    return state


async def get_jobs(request: web.Request) -> web.StreamResponse:
    """GET /@jobs: every job."""
    state = _authorized(request)
    state.catch_up()
    return json_response(state.store.encoded_list())


async def get_job(request: web.Request) -> web.StreamResponse:
    """GET /@jobs/{id}: one job with its absolute URL."""
    state = _authorized(request)
    state.catch_up()
    # The job's URL is the one it was read by: the spec's path for getJob, on this server as the client sees it.
    return json_response(state.store.encoded_job(request.match_info["id"], f"{base_url(request)}{request.path}"))


async def lifecycle_operation(request: web.Request) -> web.StreamResponse:
    """Any operation the lifecycle rules on: the transition it fires, the removal, or its refusal."""
    context = context_of(request)
    state = context.state
    state.auth.authorize_jobs(request.headers.get("Authorization"))
    outcome = state.store.act(str(context.operation), request.match_info["id"], state.catch_up())
    return web.Response(status=outcome.status)


async def undeclared(request: web.Request) -> web.StreamResponse:
    """A method the spec does not declare on a path: Nick's 404 for a path it does not have (no 405, no `Allow`)."""
    raise PathNotFound(nick_path(request))


def nick_path(request: web.Request) -> str:
    """The path as Nick names it in "Not found: <path>": the request's path, without a session's prefix (also where
    the prefix leads to no route)."""
    path = inner_path(request)
    if path.startswith(PATH_PREFIX):
        path = "/" + path[len(PATH_PREFIX) :].partition("/")[2]
    return path


HANDLERS: dict[str, Handler] = {
    "login": login,
    "renewLogin": renew_login,
    "logout": logout,
    "getJobs": get_jobs,
    "getJob": get_job,
}


def handlers(spec: Spec) -> dict[str, Handler]:
    """A handler for every operationId of the spec; a missing one fails at start-up."""
    table = dict(HANDLERS)
    for name in spec.lifecycle.job_operations():
        table.setdefault(name, lifecycle_operation)
    missing = sorted(set(spec.operations) - set(table))
    if missing:
        raise ValueError(f"the mock has no handler for the spec's operations {missing}")
    return table


def add_routes(app: web.Application, spec: Spec, through: Through) -> dict[object, str]:
    """Route every operation of the spec, at the root and under any content path, each handler called `through` the
    pipeline; each route -> its operationId.

    The operations of one path share one resource: the router tries a path's resources one after
    another, each a regular expression, so `/@jobs/{id}` with GET, HEAD and DELETE is one try, not
    two, on the way to `/@jobs/{id}/abort`. Routes carry no names (aiohttp would take only Python
    identifiers, and the spec's operationIds need not be); the mapping returned gives each its operationId.
    """
    table = {name: through(handler) for name, handler in handlers(spec).items()}
    refused = through(undeclared)
    operations: dict[object, str] = {}
    views = {name: operation for name, operation in spec.operations.items() if operation.path.startswith("/@")}
    # The root forms first, so that they match first; then every view (a path starting with /@) under a content path.
    for prefix, chosen in (("", spec.operations), (f"/{{{CONTENT}:{CONTENT_PATTERN}}}", views)):
        resources: dict[str, web.Resource] = {}
        for name, operation in chosen.items():
            path = prefix + operation.path
            if path not in resources:
                resources[path] = app.router.add_resource(path)
            operations[resources[path].add_route(operation.method, table[name])] = name
        # The GET's answer without its body, as HTTP says (unless the spec has its own HEAD).
        for resource in resources.values():
            methods = {route.method: route for route in resource}
            if "GET" in methods and "HEAD" not in methods:
                get = methods["GET"]
                operations[resource.add_route("HEAD", get.handler)] = operations[get]
        # Any other method: Nick's 404, unless the spec promises 405 on the path (then the router's own 405).
        for path, resource in resources.items():
            if not spec.promises_405(path.removeprefix(prefix)):
                resource.add_route(hdrs.METH_ANY, refused)
    return operations
