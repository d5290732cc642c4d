"""The suite's own HTTP client: every request goes to the base URL and is kept as data for reports."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import SplitResult, urlsplit

import requests

from conformance.options import Options
from conformance.transport import BoundedAdapter, DeadlineExceeded, RateLimited, ResponseTooLarge, bounded_session
from jobspec.loader import RateLimit
from verdicts.exchanges import (
    EXCERPT,
    MIN_SECRET,
    TOKEN_FIELD,
    VARIABLE_PREFIX,
    Exchange,
    Request,
    Response,
    mask_url,
)

REDIRECTS_ALLOWED = False


class SetupError(Exception):
    """The suite cannot run against this deployment: a user or setup error, not a finding (exit 2)."""


MOCK_CONTROL = "/__mock__/"  # the one place outside --base-url the suite may call (--fixtures mock)


class Client:
    """Talks to one deployment; refuses to follow redirects elsewhere; keeps secrets out of its records.

    A request that fails (no complete answer within the deadline, a body over the cap, a broken
    connection) is still an exchange: its response has status 0 and says what went wrong, so the
    check that sent it fails and the run goes on.
    """

    def __init__(
        self,
        base_url: str,
        *,
        adapter: BoundedAdapter,
        headers: tuple[tuple[str, str], ...] = (),
        verify: bool | str = True,
    ) -> None:
        parts = _split(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SetupError(f"--base-url must be an http(s) URL, not {mask_url(base_url)!r}")
        self.base_url = base_url.rstrip("/")
        # The server's root: a mock's control API lives there even when --base-url has a content path.
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.token: str | None = None
        self.secrets: dict[str, str] = {}  # secret -> the shell variable that stands for it in records
        if parts.password:
            self.keep_secret(parts.password, "URL_PASSWORD")
        self.shown_headers = {name: f"{VARIABLE_PREFIX}HEADER_{i}" for i, (name, _) in enumerate(headers, 1)}
        # Headers every request carries that are no secret (Accept-Language): a curl line must send them too.
        self.plain_headers = {k: v for k, v in request_headers(headers).items() if k not in dict(headers)}
        for name, value in headers:
            self.keep_secret(value, f"HEADER_{list(self.shown_headers).index(name) + 1}")
        self.adapter = adapter
        self.session = bounded_session(adapter, headers=tuple(request_headers(headers).items()), verify=verify)
        self.timeout = adapter.timeout
        self.limits: dict[tuple[str, str], RateLimit] = {}  # (method, path) -> the spec's rate limit it counts toward
        self.last_login: Exchange | None = None  # the answer of the last `login`

    def keep_secret(self, secret: str, variable: str) -> None:
        """Show `secret` as `$JOBS_<variable>` in every record (too short a secret would mask unrelated text)."""
        if len(secret) >= MIN_SECRET:
            self.secrets[secret] = VARIABLE_PREFIX + variable
            self.secrets[repr(secret)[1:-1]] = VARIABLE_PREFIX + variable  # as messages quote it (CR/LF escaped)

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = "",
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: str | None = None,
    ) -> Exchange:
        """Send a request; `token` "" means the suite's own, None no Authorization header at all.

        `body` goes as JSON; `raw` is text sent as it is, labelled JSON (a malformed body on purpose).
        """
        sent = dict(headers or {})
        token = self.token if token == "" else token
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        url = self.base_url + path if path.startswith("/") else path
        if not url.startswith((self.base_url + "/", self.origin + MOCK_CONTROL)):
            raise SetupError(f"refusing to send a request outside --base-url: {self.redact(url)}")
        shown = {
            **self.plain_headers,
            **self.shown_headers,
            **{name: self.redact(value) for name, value in sent.items()},
        }
        printable = {k: _printable(v) for k, v in shown.items()}
        request = Request(
            method, self.redact(url), printable, self._shown(body) if raw is None else raw, raw is not None
        )
        data = None
        if raw is not None:
            sent.setdefault("Content-Type", "application/json")
            data = raw.encode()
        try:
            answer = self.session.request(
                method, url, headers=sent, json=body, data=data, allow_redirects=REDIRECTS_ALLOWED
            )
        except RateLimited as exc:
            raise SetupError(self.rate_limited(exc)) from None
        except (requests.RequestException, ValueError) as exc:  # ValueError: a header requests refuses to send
            return Exchange(request, Response(0, {}, "", error=self.redact(_reason(exc, self.timeout))))
        self._keep_answered_token(answer)
        return Exchange(request, _response(answer, self.redact))

    def rate_limited(self, exc: RateLimited) -> str:
        """Why the run stops at a 429 it cannot wait out: the limit, the setting that raises it, when to try again."""
        answer = exc.answer
        method, url = str(answer.request.method), str(answer.request.url)
        path = url.removeprefix(self.base_url).split("?", 1)[0]
        limit = self.limits.get((method.upper(), path))
        body = " ".join(answer.text[:120].split())
        wait = answer.headers.get("Retry-After")
        allowed = answer.headers.get("RateLimit-Limit")
        policy = f"; {allowed} allowed per window" if allowed else ""
        when = f"try again in {wait} s" if wait else "try again later"
        if limit is None:
            what, raise_it = "the deployment's rate limit", "raise it"
        else:
            what = f"its rate limit {limit.setting} ({limit.describe()})"
            raise_it = f"raise it (Nick: {limit.setting}=1000, as Nick's own tests run)"
        return self.redact(
            f"{method} {self.redact(url)} answered 429 {body!r} (Retry-After {wait or 'not given'}{policy}): "
            f"the deployment refuses the suite's address by {what}; {raise_it}, or {when}"
        )

    def _keep_answered_token(self, answer: requests.Response) -> None:
        """A token in an answer (login, renewal) is a secret from the moment it arrives."""
        try:
            data = answer.json() if answer.content else None
        except ValueError:
            return
        token = data.get(TOKEN_FIELD) if isinstance(data, dict) else None
        if isinstance(token, str) and token not in self.secrets:
            self.keep_secret(token, "ANSWERED_TOKEN")

    def _shown(self, body: Any) -> Any:
        if isinstance(body, dict) and isinstance(body.get("password"), str):
            return {**body, "password": VARIABLE_PREFIX + "PASSWORD"}
        return body

    def redact(self, value: str) -> str:
        """`value` with every kept secret replaced by its shell variable."""
        for secret, variable in self.secrets.items():
            value = value.replace(secret, variable)
        return value

    def new_session(self, path: str, body: Any) -> Exchange:
        """A login meant to open a session of its own: never one that hands back the run's own token.

        Nick signs only `sub`, `fullname`, `iat` and `exp` (`authentication.ts`): two logins of one
        user within a second get the same token, and logging the new one out would log out the
        suite's own. Such an answer is sent again once the second has passed.
        """
        exchange = self.call("POST", path, token=None, body=body)
        for _ in range(SAME_SECOND_TRIES):
            if self.token is None or _token_of(exchange) != self.token:
                break
            time.sleep(1.1)
            exchange = self.call("POST", path, token=None, body=body)
        return exchange

    def login(self, path: str, login: str, password: str, *, flags: str = "--login/--password") -> str:
        """Log in and return a token the run does not hold yet; SetupError when the deployment refuses, naming
        `flags`."""
        exchange = self.new_session(path, {"login": login, "password": password})
        self.last_login = exchange
        response = exchange.response
        token = response.data.get("token") if isinstance(response.data, dict) else None
        if response.status == 200 and isinstance(token, str):
            if not _usable(token):
                raise SetupError(f"login as {login!r}: the token answered contains characters a header cannot carry")
            return token
        setup_problem(self, exchange)
        if response.status >= 500:
            shown = self.redact(response.body[:200])
            raise SetupError(f"login as {login!r}: POST {path} answered {response.status}, a server error: {shown!r}")
        if response.status in (400, 401) and isinstance(response.data, dict):
            shown = self.redact(response.body[:200])
            raise SetupError(
                f"login as {login!r} failed: POST {path} answered {response.status} {shown!r}; check {flags}"
            )
        raise SetupError(not_the_api(self, exchange))


def make_client(options: Options) -> Client:
    """The suite's client for the deployment, with the deadline, cap, headers and TLS the options give."""
    adapter = BoundedAdapter(
        options.timeout,
        options.max_response_bytes,
        ends=options.ends,
        probe=options.base_url.rstrip("/") + "/",  # what the run reached first (`runner.connect`)
        why=f"{options.flag('deadline')} {options.deadline:g} s",
    )
    verify: bool | str = str(options.cacert) if options.cacert else not options.insecure
    return Client(options.base_url, adapter=adapter, headers=options.header, verify=verify)


SAME_SECOND_TRIES = 2  # logins sent again when a deployment hands back the run's own token (see new_session)
# Nick translates its messages per Accept-Language, and the spec's texts are the English ones: the suite asks for
# them, whatever language the deployment defaults to (a header the user gives wins).
LANGUAGE = ("Accept-Language", "en")


def request_headers(given: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """The headers every request of the run carries: the user's (`-H`), and Accept-Language unless they name one."""
    headers = dict(given)
    if not any(name.lower() == LANGUAGE[0].lower() for name in headers):
        headers[LANGUAGE[0]] = LANGUAGE[1]
    return headers


def _token_of(exchange: Exchange) -> str | None:
    data = exchange.response.data
    token = data.get(TOKEN_FIELD) if isinstance(data, dict) else None
    return token if isinstance(token, str) else None


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise SetupError(f"--base-url is not a valid URL: {mask_url(url)!r}") from None
    return parts


def _usable(token: str) -> bool:
    return token.isascii() and token.isprintable() and " " not in token


def _printable(value: str) -> str:
    return value if _usable(value.replace(" ", "")) else "(not printable: not shown)"


def setup_problem(client: Client, exchange: Exchange) -> None:
    """SetupError for a setup request that got no answer or a redirect, naming why or where."""
    response, request = exchange.response, exchange.request
    if response.error:
        raise SetupError(f"{request.method} {request.url} failed: {response.error}")
    if 300 <= response.status < 400:
        raise SetupError(
            f"{request.method} {request.url} answered {response.received}; the suite follows no redirects: "
            "pass the address it redirects to as --base-url"
        )


def not_the_api(client: Client, exchange: Exchange) -> str:
    """A message for an answer no jobs API gives, naming what answered."""
    response = exchange.response
    server = response.headers.get("Server") or response.headers.get("server")
    kind = response.headers.get("Content-Type") or response.headers.get("content-type") or "no content type"
    what = f"{response.received}, {kind}" + (f", server {server}" if server else "")
    excerpt = " ".join(response.body[:120].split())
    return (
        f"{mask_url(client.base_url)} does not look like the Nick jobs API: {exchange.request.method} "
        f"{exchange.request.url} answered {what}" + (f": {excerpt!r}" if excerpt else "")
    )


def _reason(exc: Exception, timeout: float) -> str:
    if isinstance(exc, DeadlineExceeded):
        return f"no complete answer within {timeout:g} s (--timeout)"
    if isinstance(exc, ResponseTooLarge):
        return f"{exc} (--max-response-bytes)"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS failed: {_innermost(exc)} (an https URL for a plain-HTTP server? else --cacert FILE or --insecure)"
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s (--timeout)"
    if isinstance(exc, requests.ConnectionError):
        return f"cannot connect ({_innermost(exc)})"
    if isinstance(exc, requests.RequestException):
        return f"{type(exc).__name__}: {_innermost(exc)}"
    return f"the request cannot be sent: {exc}"


def _innermost(exc: BaseException) -> str:
    """The most specific reason in a chain of wrapped network errors."""
    seen: BaseException = exc
    for _ in range(8):
        inner = seen.__cause__ or seen.__context__ or getattr(seen, "reason", None)
        if not isinstance(inner, BaseException):
            break
        seen = inner
    text = str(seen) or type(seen).__name__
    return text.split("] ", 1)[-1] if text.startswith("[") else text


def _response(answer: requests.Response, redact: Callable[[str], str]) -> Response:
    text = redact(answer.content.decode(answer.encoding or "utf-8", "replace"))
    try:
        data = answer.json() if answer.content else None
    except ValueError:
        data = None
    return Response(answer.status_code, {k: redact(v) for k, v in answer.headers.items()}, text[:EXCERPT], data)
