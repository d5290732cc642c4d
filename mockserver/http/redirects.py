"""Permanent redirects from the near misses of a canonical path: `/docs/` to `/docs`, `/__mock__` to `/__mock__/`."""

from __future__ import annotations

from aiohttp import web

from mockserver.http.answers import Handler, Through

# 308 keeps the method and body (301 lets clients turn a POST into a GET); browsers and curl -L follow both.
STATUS = 308


def to(canonical: str) -> Handler:
    """A handler answering 308 to `canonical`, with the request's query string kept (a ?token= among others)."""

    async def redirect(request: web.Request) -> web.StreamResponse:
        query = request.rel_url.raw_query_string  # as sent: the decoded one would put a raw space in Location
        location = f"{canonical}?{query}" if query else canonical
        return web.Response(status=STATUS, headers={"Location": location})

    return redirect


def add_routes(app: web.Application, through: Through, *, control: bool) -> None:
    """The redirects to /docs, and to the control API's live view when it is on (each called `through` the
    pipeline)."""
    app.router.add_get("/docs/", through(to("/docs")))
    if control:
        app.router.add_get("/__mock__", through(to("/__mock__/")))
