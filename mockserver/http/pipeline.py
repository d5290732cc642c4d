"""What every request passes through: `Pipeline`, running the mock's stages in order, then the route's handler.

Each stage does one job; where it has a module of its own, its work is a function or method there:

1. context: what the stages and the handler need to know of the request, worked out once (`Context`);
2. CORS: a preflight answered here; every other answer decorated on its way out (`cors.Cors`);
3. journal: every answer from here on recorded, with what faults and Prefer did to it;
4. guard: the Host rule, and the control API's Origin and JSON rules (`guard.Guard`);
5. session: the session the request names becomes the state it works on (`sessions.Sessions.enter`);
6. faults: injected latency, status, drop or trickle; a large body sent a slice at a time;
7. strict (`--strict`): an answer the spec does not allow becomes a loud 500 and a journaled mock error;
8. durable (`--state-sync always`): the change on disk before the answer (`saver.Saver.durable`);
9. errors: every exception rendered in Nick's shape, the mock's own failures journaled, never a traceback;
10. rate limits (`--rate-limit`): a limited operation counted per client address, 429 past the limit (`limits`);
11. Prefer: a documented response on demand instead of the handler's;

then the handler. One coroutine, not ten: each further one costs every request a coroutine and a
call, and the profile of an abort found a chain of middlewares costing more than the handler. Nor
is it aiohttp's middleware: each route is given its handler called through the pipeline
(`Pipeline.through`), so aiohttp, with no middleware to run, goes straight from the route to it
(with one, it builds or looks up a chain for the route and wraps it for every request: about 9 µs
of a renew, measured in process). The requests no route takes have a route of their own for that
(mockserver.http.unrouted). The pipeline tells the connection that the answer is ready
(`httpserving.answered`) instead of a middleware of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from functools import partial
from typing import TypeGuard

from aiohttp import web

from httpserving import answered
from mockserver.domain.documents import dump
from mockserver.domain.errors import ApiError, MethodNotAllowed, MockFailure, PathNotFound, PayloadTooLarge
from mockserver.domain.faults import Fault, InjectedFault
from mockserver.domain.journal import DISCONNECTED
from mockserver.domain.languages import DEFAULT, negotiate
from mockserver.domain.state import MockState
from mockserver.domain.validation import ReferenceValidator
from mockserver.http.answers import MAX_BODY, Handler, client_address, json_response, render
from mockserver.http.context import CONTEXT, PATH_PREFIX, PREFIXED, Context
from mockserver.http.cors import Cors
from mockserver.http.guard import Guard
from mockserver.http.prefer import about_job, forced_response
from mockserver.http.routes import nick_path, spec_path
from mockserver.http.saver import Saver
from mockserver.http.sessions import Sessions

log = logging.getLogger("mockserver")
STREAM_CHUNK = 1 << 19  # response bodies larger than this are written a slice at a time (see `_stream`)


class Pipeline:
    """The stages of the module's docstring, around each route's handler; the optional ones given or None."""

    def __init__(
        self,
        *,
        operations: Mapping[object, str],
        cors: Cors,
        guard: Guard,
        state: MockState,
        sessions: Sessions,
        strict: ReferenceValidator | None = None,
        durable: Saver | None = None,
    ) -> None:
        self.operations = operations  # each route of the jobs API -> the operationId it serves (routes.add_routes)
        self.cors, self.guard, self.state, self.sessions = cors, guard, state, sessions
        self.strict, self.durable = strict, durable

    def through(self, handler: Handler) -> Handler:
        """`handler` called through the pipeline: what a route is given to call (see the module's docstring)."""
        return partial(self.run, handler)

    async def run(self, handler: Handler, request: web.Request) -> web.StreamResponse:
        """The stages, then `handler` (unless a stage answers first), for one request."""
        # The common path in one coroutine: each further await of a stage would cost every request a coroutine. The
        # connection is told here that its answer is ready (`httpserving.answered`), not by a middleware of its own.
        try:
            path = request.path
            prefixed = request.get(PREFIXED) if path.startswith(PATH_PREFIX) else None  # the session its prefix named
            context = Context(
                self.state,
                path if prefixed is None else prefixed[1],
                self.operations.get(request.match_info.route),
                None if prefixed is None else prefixed[0],
            )
            request[CONTEXT] = context
            origin = request.headers.get("Origin")
            if origin is not None:  # a request without one is no preflight
                preflight = self.cors.preflight(request, origin)
                if preflight is not None:
                    return preflight
            refusal = self.guard.refusal(request, context.path) or self.sessions.enter(request, context)
            response: web.StreamResponse
            if refusal is not None:
                response = refusal
            else:
                faults, name = context.state.faults, context.operation
                taken = faults.take(name) if faults.active and name is not None else None
                forced = await _before(context, taken) if taken else None
                if forced is not None:
                    response = forced  # the handler never runs: nothing changes
                else:
                    # Strict mode, around durable saving, around errors, around Prefer, around the handler: inline,
                    # as a coroutine of its own would cost every request one more.
                    limited = None
                    try:
                        if context.state.limits.by_operation:
                            limited = context.state.limits.check(name, client_address(request))
                        preferred = _prefer(request, context)
                        response = preferred if preferred is not None else await handler(request)
                    except Exception as exc:
                        response = _failure(request, context, exc)
                    if limited is not None:
                        response.headers.update(limited)
                    if self.durable is not None:
                        response = await self.durable.durable(request, response)
                    if self.strict is not None:
                        response = _strict(request, context, self.strict, response)
                if taken:
                    response = await _after(request, response, taken)
                # How the answer goes out is the faults stage's business: large ones a slice at a time.
                if _large(response):
                    response = await _stream(request, response, STREAM_CHUNK, 0)
            context.state.journal.record(
                request.method,
                path,
                context.operation,
                response.status,
                request.match_info.get("id"),
                "; ".join(context.notes) if context.notes else "",
            )
            return self.cors.finish(origin, response)
        finally:
            answered(request)


async def _before(context: Context, taken: list[Fault]) -> web.Response | None:
    """The faults taken for this request, before its answer: noted, their latency waited; a status instead of it."""
    context.notes += [fault.describe() for fault in taken]
    await context.state.faults.delay(taken)
    forced = next((fault for fault in taken if fault.status is not None), None)
    if forced is not None and forced.status is not None:
        return render(InjectedFault(forced.status, forced.id))
    return None


async def _after(request: web.Request, response: web.StreamResponse, taken: list[Fault]) -> web.StreamResponse:
    """The faults taken for a request, on its answer: the connection dropped, the answer trickled."""
    if any(fault.drop for fault in taken) and request.transport is not None:
        request.transport.abort()
    trickle = next((fault.trickle for fault in taken if fault.trickle), None)
    if trickle and isinstance(response, web.Response):
        return await _stream(request, response, *trickle)
    return response


def _failure(request: web.Request, context: Context, exc: Exception) -> web.Response:
    """The answer to an exception from the handler: an API error rendered, the mock's own failure journaled."""
    if isinstance(exc, ApiError):
        context.deliberate = exc.deliberate
        asked = request.headers.get("Accept-Language")
        language = negotiate(asked) if asked else DEFAULT
        if language != DEFAULT:
            context.deliberate = True  # Nick's texts in another language: the spec's are the English ones
        return render(exc, language=language)
    if isinstance(exc, web.HTTPException):
        return render(_from_aiohttp(request, exc))
    if isinstance(exc, ConnectionError):
        return _client_left(request, "before its answer")
    log.error("mock error on %s %s", request.method, request.path, exc_info=exc)
    context.state.journal.error(request.method, request.path, f"{type(exc).__name__}: {exc}")
    context.deliberate = True  # already reported: strict mode would only report it twice
    return render(MockFailure("The mock server failed; see GET /__mock__/errors."))


def _strict(
    request: web.Request, context: Context, reference: ReferenceValidator, response: web.StreamResponse
) -> web.StreamResponse:
    """Strict mode: an answer the spec does not allow becomes a loud 500 and a journaled mock error."""
    name = context.operation
    if name is None or context.deliberate or not isinstance(response, web.Response):
        return response
    problems = _problems(request, context.state, reference, name, response)
    if not problems:
        return response
    message = f"strict mode: {request.method} {request.path} -> {response.status} breaks the spec: {problems}"
    log.error(message)
    context.state.journal.error(request.method, request.path, message)
    return render(MockFailure(message))


def _prefer(request: web.Request, context: Context) -> web.Response | None:
    """`Prefer: code=N` / `example=NAME`: the spec's documented response instead of the handler's; None without."""
    header = request.headers.get("Prefer")
    name = context.operation
    if not header or name is None:
        return None
    state = context.state
    forced = forced_response(state.spec.operation(name), header)
    if forced is None:
        return None
    job_id = request.match_info.get("id")
    if job_id is not None:
        state.catch_up()
        job = state.store.jobs.get(job_id)
        if job is not None:
            forced = about_job(forced, state.spec.lifecycle, name, job_id, job.state)
    context.notes.append(f"Prefer: {forced.status}" + (f" example {forced.example}" if forced.example else ""))
    response = (
        web.Response(status=forced.status)
        if forced.body is None
        else json_response(dump(forced.body), status=forced.status)
    )
    response.headers.update(forced.headers)
    return response


def _client_left(request: web.Request, when: str) -> web.Response:
    """A client that closed its connection (a body cut short, say): its doing, journaled as such, no traceback."""
    context = request[CONTEXT]
    context.notes.append(f"the client closed the connection {when}")
    context.deliberate = True
    return web.Response(status=DISCONNECTED)  # never sent: the journal's record of what happened


def _from_aiohttp(request: web.Request, exc: web.HTTPException) -> ApiError:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return MethodNotAllowed(request.method, request.path, sorted(exc.allowed_methods))
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge(f"The request body is larger than {MAX_BODY} bytes.")
    if exc.status == 404:
        return PathNotFound(nick_path(request))
    error = ApiError(exc.reason)
    error.status = exc.status
    return error


def _problems(
    request: web.Request, state: MockState, reference: ReferenceValidator, name: str, response: web.Response
) -> list[str]:
    """Every way `response` departs from the spec: the compiled validators' verdict, then openapi-core's."""
    body = response.body if isinstance(response.body, bytes) else b""
    problems = state.validators[name].response_problems(response.status, response.content_type if body else None, body)
    headers = dict(response.headers)
    if body:
        headers["Content-Type"] = response.content_type
    method = "GET" if request.method == "HEAD" else request.method  # the spec documents the GET; HEAD is its twin
    path = spec_path(request)  # a view under a content path (or in a session) is checked as the spec's own path
    if path == request.path:
        # The path as sent: decoded, an id of `%2e%2e%2f` would read as `../` and match no path of the spec.
        path = request.rel_url.raw_path
    return problems + reference.response_problems(method, path, response.status, headers, body)


def _large(response: web.StreamResponse) -> TypeGuard[web.Response]:
    """Whether a body is large enough to go out a slice at a time (see `_stream`)."""
    return isinstance(response, web.Response) and isinstance(response.body, bytes) and len(response.body) > STREAM_CHUNK


async def _stream(request: web.Request, response: web.Response, size: int, interval: float) -> web.StreamResponse:
    """Send `response` `size` bytes at a time, each written out before the next (a trickle when `interval` > 0).

    Large bodies go this way too: handed to the transport whole, the part the socket cannot take at
    once is copied into its buffer, and a 35 MB list would cost the process 35 MB more. Without a
    trickle, the transport takes up to two slices before the next write waits (its high-water mark,
    for this answer), so that the next slice is handed over while the last one is still being sent:
    the socket never waits for the mock (the slowest 10,000-job lists took several times the bare
    route's). Slices of 512 KiB: with 1 MiB ones, the benchmark's 10,000-job list (3.8 MB) went out
    in bursts its client took at twice the cost in system time, and half of the runs served half as
    many lists, the slowest several times slower than the bare route's (p99 430 to 780 ms against
    60 to 380); with 512 KiB, 861 to 1,037 lists a second, p99 45 to 61 ms, the mock's CPU a list
    unchanged (943 to 1,129 µs); smaller slices cost more CPU (256 KiB: 1,345 to 1,827 µs).
    A client must take each slice within the request timeout: one that stops reading holds no
    connection.
    """
    body = memoryview(response.body if isinstance(response.body, bytes) else b"")
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    stream.content_length = len(body)
    context = request[CONTEXT]
    deadline = context.state.config.request_timeout
    transport = request.transport
    if transport is not None and not interval:
        transport.set_write_buffer_limits(high=2 * size)
    try:
        await stream.prepare(request)
        for start in range(0, len(body), size):
            async with asyncio.timeout(deadline):
                await stream.write(body[start : start + size])
            await asyncio.sleep(interval)
        await stream.write_eof()
    except ConnectionError:
        context.notes.append(f"the client closed the connection during the answer ({response.status})")
    except TimeoutError:
        context.notes.append(f"the client did not take the answer ({response.status}) in {deadline:g} s: cut off")
        if request.transport is not None:
            request.transport.abort()
    finally:
        if transport is not None and not interval and not transport.is_closing():
            transport.set_write_buffer_limits()
    return stream
