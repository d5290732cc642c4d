"""The jobs API's handlers, each route named by the operationId it serves."""

from __future__ import annotations

from aiohttp import web

from jobspec import Spec
from mockserver.errors import InvalidCredentials, InvalidSession, MissingCredentials, Unauthorized
from mockserver.http import Handler, base_url, dump, json_response
from mockserver.state import MockState, state_of
from mockserver.validation import RequestInvalid


def operation_id(request: web.Request) -> str | None:
    """The operationId a request was routed to (its route's name); None outside the jobs API."""
    return request.match_info.route.name


async def login(request: web.Request) -> web.StreamResponse:
    """POST /@login: a token for valid credentials."""
    state = state_of(request)
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
    state = _authorized(request)
    now = state.catch_up()
    outcome = state.store.act(str(operation_id(request)), request.match_info["id"], now)
    return web.Response(status=outcome.status)


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


def add_routes(app: web.Application, spec: Spec) -> None:
    """Route every operation of the spec, each route named by its operationId."""
    table = handlers(spec)
    for name, operation in spec.operations.items():
        try:
            app.router.add_route(operation.method, operation.path, table[name], name=name)
        except ValueError as exc:  # aiohttp names routes by Python identifiers only
            raise ValueError(f"operationId {name!r} ({operation.method} {operation.path}): {exc}") from None
