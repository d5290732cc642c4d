"""The control API under /__mock__/: shape the mock's state from tests and frontends."""

from __future__ import annotations

import math
import re
from importlib import resources
from typing import Any

import yaml
from aiohttp import web

from jobspec import Spec
from jobspec.lifecycle import MAX_SECONDS, valid_seconds
from jobspec.timestamps import LATEST_MS, timestamp
from mockserver.domain import documents
from mockserver.domain.documents import dump
from mockserver.domain.errors import ApiError, BadRequest, NotFound
from mockserver.domain.journal import Query
from mockserver.domain.state import MockState
from mockserver.domain.store import describe, mock_settings_schema
from mockserver.domain.validation import compile_schema, schema_problems
from mockserver.http.answers import Handler, Through, json_response, read_body
from mockserver.http.context import STATE, state_of
from mockserver.http.sessions import SESSIONS

PREFIX = "/__mock__"
JOURNAL_FILTERS = ("operation", "job", "status", "method", "since")
METHOD = re.compile(r"^[A-Za-z]{1,16}$")
SINCE_1970 = r"^(19[7-9][0-9]|[2-9][0-9]{3})-"  # a timestamp's year, as a string pattern
DROPPED = "X-Mock-Dropped"  # how many older journal entries (or errors) the bounded lists let go


class ControlUnauthorized(ApiError):
    """A control request without the right `X-Mock-Token`."""

    status = 401
    error_type = "Unauthorized"


def add_routes(app: web.Application, through: Through) -> None:
    """Mount the control API (its own OpenAPI document at /__mock__/openapi.yaml), each handler called `through` the
    pipeline."""
    spec = app[STATE].spec
    new_job = compile_schema(new_job_schema(spec))
    document = control_document(spec)

    async def serve_document(request: web.Request) -> web.StreamResponse:
        """The control API's own OpenAPI document."""
        return web.Response(text=document, content_type="application/yaml")

    table = [
        web.get(f"{PREFIX}/", serve_live_view),
        web.get(f"{PREFIX}/openapi.yaml", serve_document),
        web.get(f"{PREFIX}/jobs", guarded(list_jobs)),
        web.post(f"{PREFIX}/jobs", guarded(lambda r: create_job(r, new_job))),
        web.post(f"{PREFIX}/jobs/{{id}}/move", guarded(move_job)),
        web.post(f"{PREFIX}/reset", guarded(reset)),
        web.get(f"{PREFIX}/clock", guarded(read_clock)),
        web.post(f"{PREFIX}/clock/advance", guarded(advance_clock)),
        web.get(f"{PREFIX}/journal", guarded(read_journal)),
        web.get(f"{PREFIX}/journal/count", guarded(count_journal)),
        web.delete(f"{PREFIX}/journal", guarded(clear_journal)),
        web.get(f"{PREFIX}/errors", guarded(read_errors)),
        web.get(f"{PREFIX}/faults", guarded(list_faults)),
        web.post(f"{PREFIX}/faults", guarded(add_fault)),
        web.delete(f"{PREFIX}/faults", guarded(clear_faults)),
        web.delete(f"{PREFIX}/faults/{{id}}", guarded(remove_fault)),
        web.post(f"{PREFIX}/tokens", guarded(issue_token)),
        web.get(f"{PREFIX}/sessions", guarded(list_sessions)),
        web.post(f"{PREFIX}/sessions", guarded(lambda r: create_session(r, new_job))),
        web.post(f"{PREFIX}/sessions/{{name}}/reset", guarded(reset_session)),
        web.delete(f"{PREFIX}/sessions/{{name}}", guarded(delete_session)),
    ]
    app.router.add_routes([web.RouteDef(r.method, r.path, through(handler(r)), r.kwargs) for r in table])


def handler(route: web.RouteDef) -> Handler:
    """A route's handler (never a class-based view here)."""
    assert not isinstance(route.handler, type)
    return route.handler


def new_job_schema(spec: Spec) -> dict[str, Any]:
    """What `POST /__mock__/jobs` takes: the spec's Job schema with every field optional, and `params.mock`."""
    job = spec.schema("Job")
    properties = dict(job.get("properties", {}))
    if "params" in properties:
        mock = {"mock": mock_settings_schema(spec.lifecycle)}
        properties["params"] = {
            **properties["params"],
            "properties": {**properties["params"].get("properties", {}), **mock},
        }
    return {**job, "properties": properties, "required": []}


def control_document(spec: Spec) -> str:
    """control.yaml with what depends on the served spec filled in from it: a new job's fields, the states."""
    document = yaml.safe_load(resources.files("mockserver.http").joinpath("control.yaml").read_text(encoding="utf-8"))
    schemas = document["components"]["schemas"]
    field = spec.lifecycle.status_field
    state = {"$ref": "#/components/schemas/State"}
    schemas["State"]["enum"] = list(spec.lifecycle.states)
    job = new_job_schema(spec)
    schemas["NewJob"] = {**job, "description": schemas["NewJob"]["description"]}
    properties = {**job.get("properties", {}), field: state}
    for name in spec.lifecycle.invariants.ordered_timestamps:  # times before 1970 are refused (see the store)
        if name in properties:
            properties[name] = {"allOf": [properties[name], {"pattern": SINCE_1970}]}
    schemas["NewJob"]["properties"] = properties
    schemas["Move"].update(required=[field], properties={field: state})
    schemas["NewFault"]["properties"]["operation"]["enum"] = sorted(spec.operations)
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def guarded(handler: Handler) -> Handler:
    """`handler`, behind the control token when one is set."""

    async def checked(request: web.Request) -> web.StreamResponse:
        token = state_of(request).config.control_token
        if token is not None and request.headers.get("X-Mock-Token") != token:
            raise ControlUnauthorized("The control API needs the X-Mock-Token header.")
        return await handler(request)

    return checked


async def serve_live_view(request: web.Request) -> web.StreamResponse:
    """The live view: jobs and their states, with buttons that drive this API."""
    page = resources.files("mockserver.http").joinpath("static/live.html").read_text(encoding="utf-8")
    return web.Response(text=page, content_type="text/html")


async def list_jobs(request: web.Request) -> web.StreamResponse:
    """GET /__mock__/jobs: every job, without authentication."""
    state = state_of(request)
    state.catch_up()
    return json_response(state.store.encoded_list())


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await read_body(request, request.app[STATE].config.request_timeout)
    if not raw.strip():
        return {}
    try:
        data = documents.loads(raw)
    except documents.DocumentError as exc:
        raise BadRequest(str(exc)) from None
    if not isinstance(data, dict):
        raise BadRequest("body: expected a JSON object")
    return data


async def create_job(request: web.Request, validator: Any) -> web.StreamResponse:
    """POST /__mock__/jobs: a job in any state, completed consistently."""
    state = state_of(request)
    fields = await _body(request)
    problems = schema_problems(validator, fields)
    if problems:
        raise BadRequest("; ".join(problems))
    job = state.store.add(fields, state.catch_up(), client=True)
    return json_response(job.written(), status=201)


async def move_job(request: web.Request) -> web.StreamResponse:
    """POST /__mock__/jobs/{id}/move: put a job in a state directly."""
    state = state_of(request)
    field = state.spec.lifecycle.status_field
    target = (await _body(request)).get(field)
    if not isinstance(target, str):
        raise BadRequest(f'body: expected {{"{field}": "<state>"}}')
    job = state.store.move(request.match_info["id"], target, state.catch_up())
    return json_response(job.written())


async def reset(request: web.Request) -> web.StreamResponse:
    """POST /__mock__/reset: back to the starting data."""
    await _body(request)  # ignored, but JSON like every control POST's
    state_of(request).reset()
    return web.Response(status=204)


def _clock(state: MockState) -> bytes:
    now = state.catch_up()
    return dump({"now": timestamp(now), "frozen": state.config.frozen, "speed": state.clock.speed})


async def read_clock(request: web.Request) -> web.StreamResponse:
    """GET /__mock__/clock."""
    return json_response(_clock(state_of(request)))


async def advance_clock(request: web.Request) -> web.StreamResponse:
    """POST /__mock__/clock/advance: move time on; the worker catches up even when frozen."""
    state = state_of(request)
    seconds = (await _body(request)).get("seconds")
    if not isinstance(seconds, int | float) or not valid_seconds(seconds):
        raise BadRequest(f'seconds: expected {{"seconds": <a number from 0 to {MAX_SECONDS}>}}, got {seconds!r}')
    if seconds > state.clock.room():
        room = math.floor(state.clock.room() * 1000) / 1000
        raise BadRequest(
            f"seconds: the clock would pass {timestamp(LATEST_MS)}, the latest time a timestamp can show; "
            f"it can advance {room:.3f} s more"
        )
    state.clock.advance(float(seconds))
    state.store.advance(state.clock.now_ms())
    return json_response(_clock(state))


async def read_journal(request: web.Request) -> web.StreamResponse:
    """GET /__mock__/journal?operation=&job=&status=&method=&since=: the matching entries."""
    journal = state_of(request).journal
    entries = journal.query(journal_query(request))
    return _counted(json_response(dump(entries)), journal.dropped)


async def count_journal(request: web.Request) -> web.StreamResponse:
    """GET /__mock__/journal/count?...: how many entries the same filters match."""
    journal = state_of(request).journal
    return _counted(json_response(dump({"count": journal.count(journal_query(request))})), journal.dropped)


def journal_query(request: web.Request) -> Query:
    """The journal filters of the query string; BadRequest naming the parameter that is wrong."""
    params = request.query
    unknown = sorted(set(params) - set(JOURNAL_FILTERS))
    if unknown:
        raise BadRequest(f"{unknown[0]}: not a journal filter; the filters are {', '.join(JOURNAL_FILTERS)}")
    for name in params:
        if len(params.getall(name)) > 1:
            raise BadRequest(f"{name}: given more than once")
    operations = state_of(request).spec.operations
    operation = params.get("operation")
    if operation is not None and operation not in operations:
        raise BadRequest(f"operation: {operation!r} is not an operationId of the spec ({', '.join(operations)})")
    method = params.get("method")
    if method is not None and not METHOD.match(method):
        raise BadRequest(f"method: expected an HTTP method such as GET or POST, got {method!r}")
    job = params.get("job")
    if job == "":
        raise BadRequest("job: expected a job id, got an empty value")
    return Query(
        operation=operation,
        job=job,
        status=_whole(params, "status", 100, 599),
        method=method.upper() if method else None,
        since=_whole(params, "since", 0, None) or 0,
    )


def _whole(params: Any, name: str, low: int, high: int | None) -> int | None:
    """The query parameter `name` as a whole number from `low` (to `high`), None when absent."""
    text = params.get(name)
    if text is None:
        return None
    # Digits only, and few enough of them: int() would take " 1", "+1", "1_0" and a 10,000-digit number.
    fits = text.isascii() and text.isdigit() and len(text) <= 18 and low <= int(text) <= (high or int(text))
    if not fits:
        span = f"from {low} to {high}" if high is not None else f"from {low}"
        raise BadRequest(f"{name}: expected a whole number {span}, got {text!r}")
    return int(text)


async def clear_journal(request: web.Request) -> web.StreamResponse:
    """DELETE /__mock__/journal."""
    state_of(request).journal.clear()
    return web.Response(status=204)


async def read_errors(request: web.Request) -> web.StreamResponse:
    """GET /__mock__/errors: the mock's own errors."""
    errors = state_of(request).journal.errors
    return _counted(json_response(dump([vars(error) for error in errors])), errors.dropped)


def _counted(response: web.Response, dropped: int) -> web.Response:
    """A bounded list's answer, saying how many older items were dropped to keep it bounded."""
    response.headers[DROPPED] = str(dropped)
    return response


async def list_faults(request: web.Request) -> web.StreamResponse:
    """GET /__mock__/faults: the faults in force."""
    return json_response(dump([fault.to_json() for fault in state_of(request).faults.active]))


async def add_fault(request: web.Request) -> web.StreamResponse:
    """POST /__mock__/faults: inject a fault."""
    fault = state_of(request).faults.add(await _body(request))
    return json_response(dump(fault.to_json()), status=201)


async def clear_faults(request: web.Request) -> web.StreamResponse:
    """DELETE /__mock__/faults: remove every fault."""
    state_of(request).faults.clear()
    return web.Response(status=204)


async def remove_fault(request: web.Request) -> web.StreamResponse:
    """DELETE /__mock__/faults/{id}: remove one fault."""
    try:
        removed = state_of(request).faults.remove(int(request.match_info["id"]))
    except ValueError:
        removed = False
    if not removed:
        raise NotFound(f"No fault {request.match_info['id']}.")
    return web.Response(status=204)


async def issue_token(request: web.Request) -> web.StreamResponse:
    """POST /__mock__/tokens: a token for an existing user, chosen by login or by whether they may manage jobs."""
    body = await _body(request)
    login, manage_jobs = body.get("login"), body.get("manageJobs")
    if (
        set(body) - {"login", "manageJobs"}
        or None in body.values()
        or (login is None and manage_jobs is None)
        or not (login is None or (isinstance(login, str) and login))
        or not (manage_jobs is None or isinstance(manage_jobs, bool))
    ):
        raise BadRequest('body: expected {"login": "<login>"} or {"manageJobs": true|false}, or both')
    auth = state_of(request).auth
    user = auth.find(login, manage_jobs)
    if user is None:
        raise NotFound(_no_such_user(login, manage_jobs))
    return json_response(dump({"login": user.login, "token": auth.issue(user)}), status=201)


def _no_such_user(login: str | None, manage_jobs: bool | None) -> str:
    who = "" if manage_jobs is None else f" who may{'' if manage_jobs else ' not'} manage jobs"
    if login is not None:
        return f"No user {login!r}{who}."
    return f"No user{who}: the users file (--users) has none with manageJobs: {str(manage_jobs).lower()}."


async def list_sessions(request: web.Request) -> web.StreamResponse:
    """GET /__mock__/sessions: the sessions and the limits they live under."""
    return json_response(dump(request.app[SESSIONS].describe()))


async def create_session(request: web.Request, validator: Any) -> web.StreamResponse:
    """POST /__mock__/sessions: a session from the starting data, or from `jobs` (as POST /__mock__/jobs takes them)."""
    body = await _body(request)
    name, jobs = body.get("name"), body.get("jobs")
    if set(body) - {"name", "jobs"} or not isinstance(name, str) or not (jobs is None or isinstance(jobs, list)):
        raise BadRequest('body: expected {"name": "<session>"} and optionally "jobs": [<job>, ...]')
    sessions = request.app[SESSIONS]
    for index, job in enumerate(jobs or []):
        problems = schema_problems(validator, job)
        if problems:
            raise BadRequest(f"jobs: {describe(index, job)}: {'; '.join(problems)}")
    state = sessions.create(name, jobs)
    return json_response(dump({"name": name, "jobs": len(state.store.jobs)}), status=201)


async def reset_session(request: web.Request) -> web.StreamResponse:
    """POST /__mock__/sessions/{name}/reset: the session back to its starting jobs, clock, tokens and faults."""
    request.app[SESSIONS].get(request.match_info["name"]).reset()
    return web.Response(status=204)


async def delete_session(request: web.Request) -> web.StreamResponse:
    """DELETE /__mock__/sessions/{name}: forget a session."""
    request.app[SESSIONS].delete(request.match_info["name"])
    return web.Response(status=204)
