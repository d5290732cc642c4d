"""The suite's own HTTP client: every request goes to the base URL and is kept as data for reports."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

EXCERPT = 2000
VARIABLE_PREFIX = "$JOBS_"  # tokens appear in reports and curl lines as these shell variables
REDIRECTS_ALLOWED = False


class SetupError(Exception):
    """The suite cannot run against this deployment: a user or setup error, not a finding (exit 2)."""


@dataclass(frozen=True)
class Request:
    """A request as sent."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    def curl(self) -> str:
        """A curl command that sends this request again (tokens as shell variables, never in clear)."""
        parts = ["curl", "-i", "-X", self.method]
        for name, value in self.headers.items():
            parts += ["-H", f"{name}: {value}"]
        if self.body is not None:
            parts += ["-H", "Content-Type: application/json", "-d", json.dumps(self.body)]
        parts.append(self.url)
        return " ".join(_quote(part) for part in parts)


@dataclass(frozen=True)
class Response:
    """A response as received; `body` is an excerpt of its text, `data` its JSON when it is JSON."""

    status: int
    headers: dict[str, str]
    body: str
    data: Any = None


@dataclass(frozen=True)
class Exchange:
    """One request and its response."""

    request: Request
    response: Response


def _quote(part: str) -> str:
    """Shell-quote a curl argument; one naming a token variable in double quotes, so the shell expands it."""
    if VARIABLE_PREFIX not in part:
        return shlex.quote(part)
    return '"' + part.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`") + '"'


class Client:
    """Talks to one deployment; refuses to follow redirects elsewhere; keeps tokens out of its records."""

    def __init__(self, base_url: str, *, timeout: float, token: str | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SetupError(f"--base-url must be an http(s) URL, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.token = token
        self.secrets: dict[str, str] = {}  # token -> the shell variable that stands for it in records
        self.session = requests.Session()

    def keep_secret(self, token: str, variable: str) -> None:
        """Show `token` as `$JOBS_<variable>` in every record of a request."""
        self.secrets[token] = VARIABLE_PREFIX + variable

    def call(
        self, method: str, path: str, *, token: str | None = "", body: Any = None, headers: dict[str, str] | None = None
    ) -> Exchange:
        """Send a request; `token` "" means the suite's own, None no Authorization header at all."""
        sent = dict(headers or {})
        token = self.token if token == "" else token
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        shown = {name: self.redact(value) for name, value in sent.items()}
        request = Request(method, self.base_url + path if path.startswith("/") else path, shown, body)
        if not request.url.startswith(self.base_url + "/"):
            raise SetupError(f"refusing to send a request outside --base-url: {request.url}")
        try:
            answer = self.session.request(
                method,
                request.url,
                headers=sent,
                json=body,
                timeout=self.timeout,
                allow_redirects=REDIRECTS_ALLOWED,
            )
        except requests.RequestException as exc:
            raise SetupError(f"{method} {request.url} failed: {_reason(exc, self.timeout)}") from exc
        return Exchange(request, _response(answer))

    def redact(self, value: str) -> str:
        """`value` with every kept token replaced by its shell variable."""
        for token, variable in self.secrets.items():
            value = value.replace(token, variable)
        return value

    def login(self, path: str, login: str, password: str) -> str:
        """Log in and return the token; SetupError when the deployment refuses."""
        exchange = self.call("POST", path, token=None, body={"login": login, "password": password})
        token = exchange.response.data.get("token") if isinstance(exchange.response.data, dict) else None
        if exchange.response.status != 200 or not isinstance(token, str):
            raise SetupError(
                f"login as {login!r} failed: POST {path} answered {exchange.response.status} "
                f"{exchange.response.body[:200]!r}; check --login/--password or pass --token"
            )
        return token


def _reason(exc: requests.RequestException, timeout: float) -> str:
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s (--timeout)"
    if isinstance(exc, requests.ConnectionError):
        return "cannot connect (nothing listening there, or no such host)"
    return str(exc)


def _response(answer: requests.Response) -> Response:
    text = answer.text
    try:
        data = answer.json() if text else None
    except ValueError:
        data = None
    return Response(answer.status_code, dict(answer.headers), text[:EXCERPT], data)
