"""CORS as Nick answers it: listed origins, credentials allowed, preflight for every operation."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import hdrs, web

from mockserver.domain.errors import ApiError
from mockserver.http.answers import render
from mockserver.http.context import UNROUTED

ALLOW_HEADERS = "Authorization, Content-Type, X-Mock-Session"  # the last: a session per browser context
EXPOSE_HEADERS = "Allow, Content-Length, Content-Type"
MAX_AGE = "3600"  # Nick's cors.maxAge (config.ts: `maxAge: 3600`)


class PreflightRefused(ApiError):
    """A CORS preflight from an origin the mock does not allow: a clear refusal, not the router's 405."""

    status = 403
    error_type = "Forbidden"


def check_origins(origins: Iterable[str]) -> tuple[str, ...]:
    """The origins, or ValueError for `*`: with credentials allowed, Nick refuses it in production."""
    origins = tuple(origins)
    if "*" in origins:
        raise ValueError("--cors-origin '*' is refused: credentials are allowed, so every origin must be named")
    return origins


class Cors:
    """CORS for the allowed origins: preflights answered (or refused), every other answer decorated."""

    def __init__(self, origins: Iterable[str]) -> None:
        self.allowed = frozenset(check_origins(origins))

    def preflight(self, request: web.Request, origin: str | None) -> web.StreamResponse | None:
        """The answer to a preflight (from `origin`), or to one from an origin not allowed; None for every other request."""
        if origin is None or not _preflight(request):
            return None
        if origin not in self.allowed:
            return _refused(origin)
        methods = _allowed_methods(request)
        if not methods:
            return None  # a preflight for a path no route takes: answered like any request to it
        preflight = web.Response(status=204)
        preflight.headers["Access-Control-Allow-Methods"] = ", ".join(sorted(methods))
        preflight.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        preflight.headers["Access-Control-Max-Age"] = MAX_AGE
        return _decorate(preflight, origin)

    def finish(self, origin: str | None, response: web.StreamResponse) -> web.StreamResponse:
        """Every answer but a preflight's (to a request from `origin`): CORS headers if allowed, `Vary: Origin` for all."""
        if origin is None or origin not in self.allowed:
            response.headers.add("Vary", "Origin")  # a shared cache must not hand this copy to an allowed origin
            return response
        return _decorate(response, origin)  # errors too: what is inside renders them all


def _preflight(request: web.Request) -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def _refused(origin: str) -> web.StreamResponse:
    """403 in Nick's shape, naming the origin and the flag that allows it; no CORS headers, so the browser stops."""
    response = render(
        PreflightRefused(f"CORS: the origin {origin} is not allowed; start the mock with --cors-origin {origin}.")
    )
    response.headers.add("Vary", "Origin")
    return response


def _allowed_methods(request: web.Request) -> set[str]:
    """The methods the path's routes take: from the router's 405, or (where undeclared methods have Nick's 404)
    from the resource OPTIONS reached."""
    error = request.get(UNROUTED)
    if error is not None:  # no route takes the request: the methods of the router's 405, none for its 404
        return set(error.allowed_methods) if isinstance(error, web.HTTPMethodNotAllowed) else set()
    resource = request.match_info.route.resource
    return {route.method for route in resource} - {hdrs.METH_ANY} if resource is not None else set()


def _decorate(response: web.StreamResponse, origin: str) -> web.StreamResponse:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Allow-Credentials"] = "true"
    response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    response.headers.add("Vary", "Origin")
    return response
