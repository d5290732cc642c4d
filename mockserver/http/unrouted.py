"""The requests no route takes, routed too: through the pipeline like every other, to Nick's 404 or the router's 405.

The pipeline is called from each route's handler (see mockserver.http.pipeline), not as aiohttp's
middleware: a request the router finds no route for would never reach it, and aiohttp would answer
with its own text page. So one resource, registered after every other, takes what they do not,
and notes on the request what the router would have said (`UNROUTED`): a 404, or a 405 naming the
methods the path takes. The guard and CORS read that note; the route's handler raises it, and the
pipeline renders it in Nick's shape as it renders any error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiohttp import hdrs, web
from yarl import URL

from mockserver.http.answers import Handler, Through
from mockserver.http.context import UNROUTED


async def unrouted(request: web.Request) -> web.StreamResponse:
    """The router's own error for a request no route takes (noted by `Unrouted.resolve`)."""
    raise request[UNROUTED]


class Unrouted(web.AbstractResource):
    """Every request no other resource of the router takes; registered last (see the module's docstring)."""

    def __init__(self, router: web.UrlDispatcher, handler: Handler) -> None:
        super().__init__()
        self._router = router
        self._route = web.ResourceRoute(hdrs.METH_ANY, handler, self)

    @property
    def canonical(self) -> str:
        return "/"  # the router tries "/" last, after every other resource a path could reach

    async def resolve(self, request: web.Request) -> tuple[web.UrlMappingMatchInfo | None, set[str]]:
        # The router's own verdict, worked out again from every other resource: the methods a resource takes on
        # this path (a 405) or none (a 404). Only requests that no route takes come here.
        allowed: set[str] = set()
        for resource in self._router.resources():
            if resource is not self:
                match, methods = await resource.resolve(request)
                if match is not None:
                    return match, methods
                allowed |= methods
        request[UNROUTED] = web.HTTPMethodNotAllowed(request.method, allowed) if allowed else web.HTTPNotFound()
        return web.UrlMappingMatchInfo({}, self._route), set()

    def url_for(self, **kwargs: str) -> URL:
        return URL("/")

    def add_prefix(self, prefix: str) -> None:
        raise NotImplementedError("the resource of unrouted requests belongs to the top application")

    def get_info(self) -> Any:  # aiohttp types it with a private TypedDict
        return {"unrouted": True}

    def raw_match(self, path: str) -> bool:
        return False  # no route is ever added to it: add_resource must make a resource of its own for every path

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[web.AbstractRoute]:
        return iter((self._route,))


def add_route(app: web.Application, through: Through) -> None:
    """Register the resource of unrouted requests, its handler called `through` the pipeline; after every other."""
    app.router.register_resource(Unrouted(app.router, through(unrouted)))
