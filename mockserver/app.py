"""The app factory: a mock of the jobs API built from its spec."""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections.abc import Awaitable, Callable

from aiohttp import web

from jobspec import Spec, load_spec
from mockserver import control, data, docs, persist
from mockserver.auth import DEFAULT_USERS, Authenticator
from mockserver.clock import Clock
from mockserver.config import MockConfig
from mockserver.cors import cors_middleware
from mockserver.errors import ApiError, BadRequest, MethodNotAllowed, NotFound, PayloadTooLarge
from mockserver.faults import Fault, Faults, InjectedFault
from mockserver.prefer import forced_response
from mockserver.routes import add_routes, dump, json_response
from mockserver.state import STATE, MockState
from mockserver.store import JobStore
from mockserver.validation import ReferenceValidator, compile_validators

log = logging.getLogger("mockserver")
STREAM_CHUNK = 1 << 20  # bodies larger than this are written a slice at a time
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(
    spec: Spec | None = None,
    *,
    config: MockConfig | None = None,
    store: JobStore | None = None,
    clock: Clock | None = None,
) -> web.Application:
    """A ready aiohttp application serving the spec's operations, its docs and the control API."""
    spec = spec or load_spec()
    config = config or MockConfig()
    clock = clock or Clock(speed=config.speed)
    jobs, source = data.load_jobs(spec, config.data)
    users = data.load_users(config.users) if config.users else list(DEFAULT_USERS)
    state = MockState(
        spec=spec,
        config=config,
        store=store or JobStore(spec.lifecycle, seed=config.seed, speed=config.speed),
        clock=clock,
        auth=Authenticator(users, secret=config.secret),
        validators=compile_validators(spec),
        starting_jobs=zlib.compress(json.dumps(jobs, separators=(",", ":")).encode(), 1),
        reference=ReferenceValidator(spec) if config.strict else None,
        faults=Faults(frozenset(spec.operations)),
    )
    del jobs  # the parsed document goes before the store fills: see MockState.load
    try:
        state.load()
    except BadRequest as exc:
        raise data.DataError(f"{source}: {exc.message}") from None
    state.arm_faults()
    if config.state_file is not None:
        saved = persist.read(config.state_file, state)
        if saved is not None:
            persist.restore(state, saved, config.state_file)
    middlewares = [cors_middleware(config.cors_origins), answer_middleware]
    app = web.Application(middlewares=middlewares, client_max_size=config.max_body)
    app[STATE] = state
    state.operations = add_routes(app, spec)
    app.router.add_get("/openapi.yaml", serve_spec_yaml)
    app.router.add_get("/openapi.json", serve_spec_json)
    docs.add_routes(app)
    if config.control:
        control.add_routes(app)
    if config.state_file is not None:
        app.cleanup_ctx.append(persist.saver(config.state_file))
    return app


async def serve_spec_yaml(request: web.Request) -> web.StreamResponse:
    """The spec this mock serves, as YAML."""
    return web.Response(text=request.app[STATE].spec.text(), content_type="application/yaml")


async def serve_spec_json(request: web.Request) -> web.StreamResponse:
    """The spec this mock serves, as JSON."""
    return json_response(dump(request.app[STATE].spec.raw))


@web.middleware
async def answer_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every error in Nick's shape, apply faults and Prefer, check in strict mode, journal every answer."""
    state = request.app[STATE]
    operation_id = _operation_id(request, state)
    faults = state.faults.take(operation_id) if operation_id else []
    notes = [fault.describe() for fault in faults]
    deliberate = False
    try:
        response = await _respond(request, handler, state, operation_id, faults, notes)
    except ApiError as error:
        response, deliberate = render(error), error.deliberate
    except web.HTTPException as exc:
        response = render(_from_aiohttp(request, exc))
    except Exception as exc:  # the mock's own fault: logged and journaled, never a traceback to the client
        log.exception("mock fault on %s %s", request.method, request.path)
        state.journal.fault(request.method, request.path, f"{type(exc).__name__}: {exc}")
        response = render(ApiError("The mock server failed; see GET /__mock__/errors."), status=500)
    if state.reference is not None and operation_id and not deliberate and isinstance(response, web.Response):
        response = _strict(request, state, operation_id, response)
    if any(fault.drop for fault in faults) and request.transport is not None:
        request.transport.abort()
    state.journal.record(
        request.method, request.path, operation_id, response.status, request.match_info.get("id"), "; ".join(notes)
    )
    trickle = next((fault.trickle for fault in faults if fault.trickle), None)
    if trickle and isinstance(response, web.Response):
        return await _stream(request, response, *trickle)
    if isinstance(response, web.Response) and isinstance(response.body, bytes) and len(response.body) > STREAM_CHUNK:
        return await _stream(request, response, STREAM_CHUNK, 0)
    return response


async def _respond(
    request: web.Request,
    handler: Handler,
    state: MockState,
    operation_id: str | None,
    faults: list[Fault],
    notes: list[str],
) -> web.StreamResponse:
    """The answer before strict checks: a fault's status, a preferred example, or the handler's own."""
    await state.faults.delay(faults)
    for fault in faults:
        if fault.status:
            raise InjectedFault(fault.status, fault.id)
    prefer = request.headers.get("Prefer")
    if operation_id and prefer:
        forced = forced_response(state.spec.operation(operation_id), prefer)
        if forced is not None:
            notes.append(f"Prefer: {forced.status}" + (f" example {forced.example}" if forced.example else ""))
            if forced.body is None:
                return web.Response(status=forced.status)
            return json_response(dump(forced.body), status=forced.status)
    return await handler(request)


async def _stream(request: web.Request, response: web.Response, size: int, interval: float) -> web.StreamResponse:
    """Send `response` `size` bytes at a time, each written out before the next (a trickle when `interval` > 0).

    Large bodies go this way too: handed to the transport whole, the part the socket cannot take at
    once is copied into its buffer, and a 35 MB list would cost the process 35 MB more.
    """
    body = memoryview(response.body if isinstance(response.body, bytes) else b"")
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    stream.content_length = len(body)
    await stream.prepare(request)
    for start in range(0, len(body), size):
        await stream.write(body[start : start + size])
        await asyncio.sleep(interval)
    await stream.write_eof()
    return stream


def render(error: ApiError, status: int | None = None) -> web.Response:
    """Nick's error body for `error`, with its status and headers."""
    response = json_response(dump(error.body()), status=status or error.status)
    response.headers.update(error.headers())
    return response


def _from_aiohttp(request: web.Request, exc: web.HTTPException) -> ApiError:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return MethodNotAllowed(request.method, request.path, sorted(exc.allowed_methods))
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge(f"The request body is larger than {request.app[STATE].config.max_body} bytes.")
    if exc.status == 404:
        return NotFound(f"No such path: {request.path}")
    error = ApiError(exc.reason)
    error.status = exc.status
    return error


def _operation_id(request: web.Request, state: MockState) -> str | None:
    route = request.match_info.route
    resource = route.resource
    if resource is None:
        return None
    return state.operations.get((request.method, resource.canonical))


def _strict(request: web.Request, state: MockState, operation_id: str, response: web.Response) -> web.Response:
    """In strict mode, a response the spec does not allow becomes a loud 500 and a journaled fault."""
    body = response.body if isinstance(response.body, bytes) else b""
    checks = state.validators[operation_id]
    problems = checks.response_problems(response.status, response.content_type if body else None, body)
    if state.reference is not None:
        headers = {k: v for k, v in response.headers.items()}
        if body:
            headers["Content-Type"] = response.content_type
        problems += state.reference.response_problems(request.method, request.path, response.status, headers, body)
    if not problems:
        return response
    message = f"strict mode: {request.method} {request.path} -> {response.status} breaks the spec: {problems}"
    log.error(message)
    state.journal.fault(request.method, request.path, message)
    return json_response(json.dumps({"error": {"type": "Mock fault", "message": message}}).encode(), status=500)
