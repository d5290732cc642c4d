"""Exchanges as data: a request as sent, its response as received, and how a report shows them."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

EXCERPT = 2000
VARIABLE_PREFIX = "$JOBS_"  # tokens appear in reports and curl lines as these shell variables
MIN_SECRET = 4
TOKEN_FIELD = "token"  # the Token schema's one field, in login and renewal answers


@dataclass(frozen=True)
class Request:
    """A request as sent."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    raw: bool = False  # `body` is the text sent as it is, not a value sent as JSON

    def curl(self) -> str:
        """A curl command that sends this request again (tokens as shell variables, never in clear)."""
        parts = ["curl", "-i", "-X", self.method]
        for name, value in self.headers.items():
            parts += ["-H", f"{name}: {value}"]
        if self.body is not None:
            parts += ["-H", "Content-Type: application/json", "-d", self.body if self.raw else json.dumps(self.body)]
        parts.append(self.url)
        return " ".join(_quote(part) for part in parts)


@dataclass(frozen=True)
class Response:
    """A response as received; `body` is an excerpt of its text, `data` its JSON when it is JSON."""

    status: int
    headers: dict[str, str]
    body: str
    data: Any = None
    error: str = ""  # why there is no response (status 0)

    @property
    def received(self) -> str:
        """The status as messages show it: a redirect names its target, a failure says why."""
        if self.error:
            return f"no answer ({self.error})"
        location = self.headers.get("Location") or self.headers.get("location")
        return f"{self.status} redirecting to {location}" if 300 <= self.status < 400 and location else str(self.status)


@dataclass(frozen=True)
class Exchange:
    """One request and its response."""

    request: Request
    response: Response


def mask_url(url: str) -> str:
    """The URL with the password of its user part shown as `$JOBS_URL_PASSWORD`: the user part ends the URL's
    authority, before any path (`http://host/@jobs` has none)."""
    scheme, sep, rest = url.partition("://")
    end = min((at for at in (rest.find(mark) for mark in "/?#") if at >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:{VARIABLE_PREFIX}URL_PASSWORD@{host}{rest[end:]}"


def _quote(part: str) -> str:
    """Shell-quote a curl argument; one naming a token variable in double quotes, so the shell expands it."""
    if VARIABLE_PREFIX not in part:
        return shlex.quote(part)
    return '"' + part.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`") + '"'
