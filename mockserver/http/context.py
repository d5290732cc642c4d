"""What a request carries through the pipeline: the state it works on, its context, and the session it names."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from mockserver.domain.state import MockState

STATE = web.AppKey("state", MockState)
PATH_PREFIX = "/__session/"  # /__session/NAME/...: a request in the session NAME (see mockserver.http.sessions)
PREFIXED = web.RequestKey("prefixed", tuple[str, str])  # the session a path prefix named, and the path without it
# What the router would have answered a request no route takes (a 404, or a 405 with the path's methods): see
# mockserver.http.unrouted.
UNROUTED = web.RequestKey("unrouted", web.HTTPException)


@dataclass(slots=True)
class Context:
    """What the pipeline's stages work out about one request once, for each other and for its handler."""

    state: MockState  # what it works on: the mock's shared state, or its session's (see sessions.Sessions.enter)
    path: str  # its path without a /__session/NAME prefix: the spec's path for the operation it reached
    operation: str | None  # the operationId it was routed to; None outside the jobs API
    session: str | None  # the session its path prefix named, if any
    notes: list[str] = field(default_factory=list)  # what faults and Prefer did to its answer, for the journal
    deliberate: bool = False  # its answer is one strict mode must let pass (an error given on purpose)


CONTEXT = web.RequestKey("context", Context)


def context_of(request: web.Request) -> Context:
    """The request's context, made as it enters the pipeline (see mockserver.http.pipeline.Pipeline)."""
    return request[CONTEXT]


def state_of(request: web.Request) -> MockState:
    """The state a request works on: its session's, or the mock's shared state when it names no session."""
    try:
        return request[CONTEXT].state
    except KeyError:  # a request the pipeline never saw
        return request.app[STATE]


def inner_path(request: web.Request) -> str:
    """A request's path without any session prefix: the spec's path for the operation it reached."""
    try:
        return request[CONTEXT].path
    except KeyError:
        return request.path
