"""Who may talk to the proxy, and what it will forward: the app's middlewares, each with one rule, in order.

- `host_rule`: the Host rule against DNS rebinding, as the mock has it (`httpserving.hosts`): a
  Host that is none of the proxy's names is a 403 on every path, so a page whose name was rebound
  to 127.0.0.1 reaches neither the upstream through the proxy (its login, its control API) nor the
  proxy's own pages. For a full URL as the request target, its authority is the Host.
- `request_target`: a path is forwarded as sent; a full URL (`GET http://host/path`, what a client
  sends to a forward proxy, and a server must accept) is forwarded by its path, its authority
  standing for the Host (RFC 9112, 3.2.2); any other form (`OPTIONS *`, `CONNECT host:port`) is a 400.
- `own_pages`: the proxy's pages under /__proxy__/ answer no other site's page (its `Origin`, or
  `Sec-Fetch-Site: cross-site` unless someone follows a link): the jobs API itself answers any
  origin, as Nick does, and its CORS decides what a page may read.
- `forwardable_headers`: a header the proxy cannot pass on unchanged (bytes not UTF-8, a control
  character) is a 400 rather than passed on altered (see `framing`).

Every refusal is in Nick's typed error shape and reaches no upstream.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web
from yarl import URL

from httpserving.hosts import HostRule, hostname
from jobsproxy import framing, refusals
from jobsproxy.page import PREFIX

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ABSOLUTE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<authority>[^/?#]*)(?P<rest>[^#]*)")


class Middleware(Protocol):
    """What `web.Application(middlewares=...)` takes."""

    def __call__(self, request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]: ...


def host_rule(listen_host: str, allowed: tuple[str, ...]) -> Middleware:
    """The middleware refusing a Host that names none of the proxy's addresses."""
    rule = HostRule(listen_host, allowed)

    @web.middleware
    async def hosts(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = named_host(request)
        if host is not None and not rule.allows(host):
            name = hostname(host)
            return refusals.forbidden(
                f"Host {host!r} is not an address of this proxy; start it with --allowed-host {name} to allow it."
            )
        return await handler(request)

    return hosts


@web.middleware
async def request_target(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A path goes on as sent; a full URL goes on by its path; any other form is refused."""
    target = request.raw_path
    if target.startswith("/"):
        return await handler(request)
    found = ABSOLUTE.match(target)
    if found is None:
        return refusals.bad_request(
            f"the request target {target[:100]!r} is neither a path nor a URL (jobs-proxy is no forward proxy)."
        )
    if found["scheme"].lower() not in ("http", "https") or not found["authority"]:
        return refusals.bad_request(f"the request target {target[:100]!r} is no http(s) URL with a host.")
    rest = found["rest"] if found["rest"].startswith("/") else "/" + found["rest"]
    return await handler(request.clone(rel_url=URL(rest, encoded=True), host=found["authority"]))


def named_host(request: web.Request) -> str | None:
    """The Host a request names: its target's authority when the target is a full URL, else its Host header."""
    found = ABSOLUTE.match(request.raw_path)
    return found["authority"] if found is not None else request.headers.get("Host")


@web.middleware
async def own_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The proxy's pages answer no other site's page."""
    if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
        origin = request.headers.get("Origin")
        if origin is not None and origin.partition("://")[2] != named_host(request):
            return refusals.forbidden(f"its pages do not answer pages from {origin}.")
        if origin is None and request.headers.get("Sec-Fetch-Site") == "cross-site" and not _navigation(request):
            return refusals.forbidden("its pages do not answer requests another site's page makes.")
    return await handler(request)


@web.middleware
async def forwardable_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request whose headers cannot pass unchanged is refused, never passed on altered."""
    problem = framing.unforwardable(request.raw_headers)
    if problem is not None:
        return refusals.bad_request(f"the request has {problem.why}.")
    return await handler(request)


def _navigation(request: web.Request) -> bool:
    """Someone opening a page of the proxy from a link: a harmless read."""
    return request.method in ("GET", "HEAD") and request.headers.get("Sec-Fetch-Mode") == "navigate"
