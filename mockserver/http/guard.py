"""Who may talk to the mock: the Host rule (against DNS rebinding) and, on the control API, the Origin rule.

A page on another site cannot read the mock's answers (CORS), but it can send it requests: a
form or a `no-cors` fetch reaches `/__mock__/reset` as easily as any URL. So the control API
refuses a browser's request from an origin it does not allow, and takes only JSON bodies, which
no page can send across origins without a preflight the mock would not answer. A page whose
name was rebound to 127.0.0.1 (DNS rebinding) is same-origin for the browser, but it still sends
its own name as the Host: every path refuses a Host that is not one of the mock's.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from httpserving.hosts import HostRule, hostname
from mockserver.domain.errors import ApiError
from mockserver.http.answers import render
from mockserver.http.context import UNROUTED

CONTROL = "/__mock__/"


class HostRefused(ApiError):
    """A Host header that names none of the mock's addresses."""

    status = 403
    error_type = "Forbidden"


class OriginRefused(ApiError):
    """A browser request to the control API from an origin the mock does not allow."""

    status = 403
    error_type = "Forbidden"


class NotJson(ApiError):
    """A control API POST whose body is not declared as JSON."""

    status = 415
    error_type = "Unsupported media type"


class Guard:
    """The Host rule on every path; the Origin and JSON rules on the control API."""

    def __init__(self, hosts: HostRule, origins: Iterable[str]) -> None:
        self.hosts = hosts
        self.origins = frozenset(origins)

    def refusal(self, request: web.Request, path: str) -> web.Response | None:
        """The answer refusing the request (`path`: its path without a session prefix), or None to let it through."""
        host = request.headers.get("Host")
        if host is not None and not self.hosts.allows(host):
            return render(
                HostRefused(
                    f"Host {host!r} is not an address of this mock; "
                    f"start it with --allowed-host {hostname(host)} to allow it."
                )
            )
        refusal = _control_refusal(request, self.origins, host) if path.startswith(CONTROL) else None
        return None if refusal is None else render(refusal)


def _control_refusal(request: web.Request, allowed_origins: frozenset[str], host: str | None) -> ApiError | None:
    """What the control API's rules refuse in this request, if anything: a foreign browser origin, a body not JSON."""
    origin = request.headers.get("Origin")
    if origin is not None:
        same = host is not None and origin.partition("://")[2] == host
        if not same and origin not in allowed_origins:
            return OriginRefused(
                f"The control API does not answer pages from {origin}; "
                f"start the mock with --cors-origin {origin} to allow it."
            )
    elif request.headers.get("Sec-Fetch-Site") == "cross-site" and not _navigation(request):
        return OriginRefused("The control API does not answer requests another site's page makes.")
    routed = UNROUTED not in request  # a POST no route takes is a 405, whatever its body
    if request.method == "POST" and routed and request.content_type != "application/json":
        declared = request.headers.get("Content-Type")
        return NotJson(f"The control API takes application/json bodies, not {declared or 'a body without a type'}.")
    return None


def _navigation(request: web.Request) -> bool:
    """Whether a request is someone opening a control page (the live view) from a link: harmless reads."""
    return request.method in ("GET", "HEAD") and request.headers.get("Sec-Fetch-Mode") == "navigate"
