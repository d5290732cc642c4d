"""The mock's middlewares, one job each; `app.py` lists them in the order a request passes them.

The first, `context`, works out once what the others and the handler need (the state, the path
without a session prefix, the operation); they share what they did through it: what faults and
Prefer did (for the journal), and whether an answer was given on purpose (strict mode lets those pass).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TypeGuard

from aiohttp import web
from aiohttp.typedefs import Middleware

from mockserver.contract import operation_id, spec_path
from mockserver.errors import ApiError, MethodNotAllowed, MockFailure, NotFound, PayloadTooLarge
from mockserver.faults import InjectedFault
from mockserver.http import MAX_BODY, Handler, dump, json_response
from mockserver.journal import DISCONNECTED
from mockserver.prefer import about_job, forced_response
from mockserver.state import CONTEXT, STATE, Context, MockState, prefix
from mockserver.validation import ReferenceValidator

log = logging.getLogger("mockserver")
STREAM_CHUNK = 1 << 20  # response bodies larger than this are written a slice at a time


@web.middleware
async def context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The request's context (see `Context`): the mock's shared state until the session middleware says otherwise."""
    prefixed = prefix(request)
    request[CONTEXT] = Context(
        request.app[STATE],
        request.path if prefixed is None else prefixed[1],
        operation_id(request),
        None if prefixed is None else prefixed[0],
    )
    return await handler(request)


@web.middleware
async def journal(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record every answer, with what faults and Prefer did to it."""
    response = await handler(request)
    context = request[CONTEXT]
    context.state.journal.record(
        request.method,
        request.path,
        context.operation,
        response.status,
        request.match_info.get("id"),
        "; ".join(context.notes),
    )
    return response


@web.middleware
async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the injected faults of this operation: latency, a status instead of the answer, a drop, a trickle.

    How the answer goes out is this middleware's business, so large bodies are sliced here too.
    """
    context = request[CONTEXT]
    state, name = context.state, context.operation
    taken = state.faults.take(name) if name is not None and state.faults.active else []
    if not taken:
        answer = await handler(request)
        return await _stream(request, answer, STREAM_CHUNK, 0) if _large(answer) else answer
    context.notes += [fault.describe() for fault in taken]
    await state.faults.delay(taken)
    forced = next((fault for fault in taken if fault.status is not None), None)
    response: web.StreamResponse
    if forced is not None and forced.status is not None:
        response = render(InjectedFault(forced.status, forced.id))  # the handler never runs: nothing changes
    else:
        response = await handler(request)
    if any(fault.drop for fault in taken) and request.transport is not None:
        request.transport.abort()
    trickle = next((fault.trickle for fault in taken if fault.trickle), None)
    if trickle and isinstance(response, web.Response):
        return await _stream(request, response, *trickle)
    return await _stream(request, response, STREAM_CHUNK, 0) if _large(response) else response


def strict(reference: ReferenceValidator) -> Middleware:
    """Strict mode: an answer the spec does not allow becomes a loud 500 and a journaled mock error."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        context = request[CONTEXT]
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

    return check


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every error in Nick's shape; the mock's own failures are logged and journaled, never a traceback."""
    try:
        return await handler(request)
    except ApiError as error:
        request[CONTEXT].deliberate = error.deliberate
        return render(error)
    except web.HTTPException as exc:
        return render(_from_aiohttp(request, exc))
    except ConnectionError:
        return _client_left(request, "before its answer")
    except Exception as exc:
        log.exception("mock error on %s %s", request.method, request.path)
        context = request[CONTEXT]
        context.state.journal.error(request.method, request.path, f"{type(exc).__name__}: {exc}")
        context.deliberate = True  # already reported: strict mode would only report it twice
        return render(MockFailure("The mock server failed; see GET /__mock__/errors."))


@web.middleware
async def prefer(request: web.Request, handler: Handler) -> web.StreamResponse:
    """`Prefer: code=N` / `example=NAME`: the spec's documented response instead of the handler's."""
    header = request.headers.get("Prefer")
    if not header:
        return await handler(request)
    context = request[CONTEXT]
    state, name = context.state, context.operation
    if name is None:
        return await handler(request)
    forced = forced_response(state.spec.operation(name), header)
    if forced is None:
        return await handler(request)
    job_id = request.match_info.get("id")
    if job_id is not None:
        state.catch_up()
        job = state.store.jobs.get(job_id)
        if job is not None:
            forced = about_job(forced, state.spec.lifecycle, name, job_id, job.state)
    context.notes.append(f"Prefer: {forced.status}" + (f" example {forced.example}" if forced.example else ""))
    if forced.body is None:
        return web.Response(status=forced.status)
    return json_response(dump(forced.body), status=forced.status)


def _client_left(request: web.Request, when: str) -> web.Response:
    """A client that closed its connection (a body cut short, say): its doing, journaled as such, no traceback."""
    context = request[CONTEXT]
    context.notes.append(f"the client closed the connection {when}")
    context.deliberate = True
    return web.Response(status=DISCONNECTED)  # never sent: the journal's record of what happened


def render(error: ApiError, status: int | None = None) -> web.Response:
    """Nick's error body for `error`, with its status and headers."""
    response = json_response(dump(error.body()), status=status or error.status)
    response.headers.update(error.headers())
    if error.closes:
        response.force_close()
    return response


def _from_aiohttp(request: web.Request, exc: web.HTTPException) -> ApiError:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return MethodNotAllowed(request.method, request.path, sorted(exc.allowed_methods))
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge(f"The request body is larger than {MAX_BODY} bytes.")
    if exc.status == 404:
        return NotFound(f"No such path: {request.path}")
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
    once is copied into its buffer, and a 35 MB list would cost the process 35 MB more. A client
    must take each slice within the request timeout: one that stops reading holds no connection.
    """
    body = memoryview(response.body if isinstance(response.body, bytes) else b"")
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    stream.content_length = len(body)
    context = request[CONTEXT]
    deadline = context.state.config.request_timeout
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
    return stream
