"""Who may talk to the mock: the Host rule (against DNS rebinding) and, on the control API, the Origin rule.

A page on another site cannot read the mock's answers (CORS), but it can send it requests: a
form or a `no-cors` fetch reaches `/__mock__/reset` as easily as any URL. So the control API
refuses a browser's request from an origin it does not allow, and takes only JSON bodies, which
no page can send across origins without a preflight the mock would not answer. A page whose
name was rebound to 127.0.0.1 (DNS rebinding) is same-origin for the browser, but it still sends
its own name as the Host: every path refuses a Host that is not one of the mock's.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from aiohttp import web

from mockserver.domain.errors import ApiError
from mockserver.http.answers import render

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
ANY = "*"
CONTROL = "/__mock__/"
HOST_NAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?$|^\[[0-9A-Fa-f:.]+\]$")
VERDICTS = 256  # Host values remembered with their verdict; more distinct ones are judged each time


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


def check_host_names(names: Iterable[str]) -> tuple[str, ...]:
    """`--allowed-host` values as host names (lower case, no port); ValueError for one that is not a name."""
    checked = []
    for name in names:
        if name != ANY and not HOST_NAME.match(name):
            raise ValueError(f"--allowed-host: expected a host name without scheme or port (or '*'), got {name!r}")
        checked.append(name.lower())
    return tuple(checked)


def allowed_hosts(listen_host: str, extra: Iterable[str]) -> frozenset[str] | None:
    """The host names the mock answers to: loopback, the address it listens on, and `extra`; None: any."""
    extra = tuple(extra)
    if ANY in extra:
        return None
    listen = listen_host.lower()
    bracketed = f"[{listen}]" if ":" in listen and not listen.startswith("[") else listen
    return frozenset({*LOOPBACK_NAMES, bracketed, *extra})


class Guard:
    """The Host rule on every path; the Origin and JSON rules on the control API."""

    def __init__(self, hosts: frozenset[str] | None, origins: Iterable[str]) -> None:
        self.hosts = hosts  # None: any
        self.origins = frozenset(origins)
        self._verdicts: dict[str, bool] = {}

    def refusal(self, request: web.Request, path: str) -> web.Response | None:
        """The answer refusing the request (`path`: its path without a session prefix), or None to let it through."""
        host = request.headers.get("Host")
        if host is not None and self.hosts is not None and not self._host_ok(host):
            return render(
                HostRefused(
                    f"Host {host!r} is not an address of this mock; "
                    f"start it with --allowed-host {_hostname(host)} to allow it."
                )
            )
        refusal = _control_refusal(request, self.origins, host) if path.startswith(CONTROL) else None
        return None if refusal is None else render(refusal)

    def _host_ok(self, host: str) -> bool:
        verdict = self._verdicts.get(host)
        if verdict is None:
            name = _hostname(host)
            verdict = name in self.hosts if self.hosts is not None else True
            verdict = verdict or _is_ip(name)  # no rebinding without a name: an address is always fine
            if len(self._verdicts) < VERDICTS:
                self._verdicts[host] = verdict
        return verdict


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
    routed = request.match_info.http_exception is None  # a POST no route takes is a 405, whatever its body
    if request.method == "POST" and routed and request.content_type != "application/json":
        declared = request.headers.get("Content-Type")
        return NotJson(f"The control API takes application/json bodies, not {declared or 'a body without a type'}.")
    return None


def _navigation(request: web.Request) -> bool:
    """Whether a request is someone opening a control page (the live view) from a link: harmless reads."""
    return request.method in ("GET", "HEAD") and request.headers.get("Sec-Fetch-Mode") == "navigate"


def _hostname(host: str) -> str:
    """The name part of a Host header value, lower case, without port or final dot; IPv6 keeps its brackets."""
    if host.startswith("["):
        name = host[: host.find("]") + 1] if "]" in host else host
    else:
        name = host.rpartition(":")[0] if ":" in host else host
    return name.lower().rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True
