"""The Host rule against DNS rebinding: a server on loopback answers only requests that name it.

A page whose name an attacker rebinds to 127.0.0.1 is same-origin for the browser, so it can
read what a loopback server answers; but the browser still sends the page's own name as `Host`.
A server that answers only its own names (loopback, the address it listens on, the names it is
told with `--allowed-host`, and any IP address: rebinding needs a name) cannot be reached that way.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
ANY = "*"
HOST_NAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?$|^\[[0-9A-Fa-f:.]+\]$")
VERDICTS = 256  # Host values remembered with their verdict; more distinct ones are judged each time


def check_host_names(names: Iterable[str]) -> tuple[str, ...]:
    """`--allowed-host` values as host names (lower case, no port); ValueError for one that is not a name."""
    checked = []
    for name in names:
        if name != ANY and not HOST_NAME.match(name):
            raise ValueError(f"--allowed-host: expected a host name without scheme or port (or '*'), got {name!r}")
        checked.append(name.lower())
    return tuple(checked)


class HostRule:
    """The names a server answers to: loopback, the address it listens on, `extra` (`*`: any), any IP address."""

    def __init__(self, listen_host: str, extra: Iterable[str] = ()) -> None:
        extra = tuple(extra)
        listen = listen_host.lower()
        bracketed = f"[{listen}]" if ":" in listen and not listen.startswith("[") else listen
        self.names: frozenset[str] | None = None if ANY in extra else frozenset({*LOOPBACK_NAMES, bracketed, *extra})
        self._verdicts: dict[str, bool] = {}

    def allows(self, host: str) -> bool:
        """Whether a `Host` value (name and port) names this server."""
        verdict = self._verdicts.get(host)
        if verdict is None:
            name = hostname(host)
            verdict = self.names is None or name in self.names or _is_ip(name)
            if len(self._verdicts) < VERDICTS:
                self._verdicts[host] = verdict
        return verdict


def hostname(host: str) -> str:
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
