"""Drift: the same requests to a deployment and to the mock, and every way their answers differ.

The request set is the differential family of the kit's tests against the real Nick: the whole
login, renewal and logout family with good, bad, missing, malformed and oversized bodies; every
kind of token; 401 and 403; unknown ids and paths; methods a path does not declare; translated
messages; the rate limit. Each answer is compared by status, media type (and charset) and body,
tokens aside. Where the mock differs from Nick on purpose, or where Nick 2.8.0 has a bug the mock
does not copy, the difference is listed once, in `KNOWN`, with its reason: those are not drift.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests
from jwt.warnings import InsecureKeyLengthWarning

from conformance.nickbugs import NICK_BUGS
from conformance.transport import BoundedAdapter, RateLimited, bounded_session

MEGABYTE = 1024 * 1024
SAME_SECOND_TRIES = 2
UNKNOWN_ID = "0b8e5d1c-0000-4000-8000-00000000d41f"  # an id no job has, the same on both sides
NONE = "no-token"  # how a probe without an Authorization header is named
FRESH = "fresh"  # a token of its own for the probe (a login just before it), for probes that end it
ADMIN, EDITOR = "admin", "editor"
TOKEN_KINDS = (
    ADMIN,
    EDITOR,
    FRESH,
    "logged-out",
    "garbage",
    "empty",
    "basic",
    "lowercase-scheme",
    "unsigned",
    "other-secret",
    "never-issued",
    "expired",
    "unknown-user",
    "documented",
)
DOCUMENTED_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiIsImZ1bGxuYW1lIjoiQWRtaW4iLCJpYXQiOjE2NDkzMTI0NDl9"
    ".RS1Ny_r0v7vIylFfK6q0JVJrkiDuTOh9iG9IL8xbzAk"
)


@dataclass(frozen=True)
class Probe:
    """One request of the family, as both sides get it."""

    name: str
    method: str
    path: str
    token: str | None = None  # one of TOKEN_KINDS, or None: no Authorization header
    body: bytes | None = None
    content_type: str | None = "application/json"  # sent only with a body
    language: str | None = None  # Accept-Language
    jobs: bool = False  # needs the deployment's jobs API
    shape_only: bool = False  # a 2xx body is the deployment's own (its jobs): only its JSON type counts


@dataclass(frozen=True)
class Answer:
    """An answer as compared: status, media type, body (tokens aside), and the rate-limit headers it had."""

    status: int
    content_type: str
    body: Any
    headers: tuple[str, ...] = ()

    def show(self) -> str:
        """The answer on one line."""
        body = self.body if isinstance(self.body, str) else json.dumps(self.body, ensure_ascii=False)
        extra = f" [{', '.join(self.headers)}]" if self.headers else ""
        return f"{self.status} {self.content_type or '(no content type)'} {body[:160]}{extra}"


@dataclass(frozen=True)
class Known:
    """A difference that is not drift: the deployment's answer that makes it so, and why."""

    probe: str
    status: int | None = None  # the deployment's status, when it matters
    html: bool = False  # the deployment answers an HTML page
    reason: str = ""  # why the mock differs (for a Nick bug: the bug's own summary)
    nick_bug: str = ""  # the key in conformance.nickbugs.NICK_BUGS, for differences that are Nick's bugs

    def why(self) -> str:
        """Why this is not drift, in words."""
        if not self.nick_bug:
            return self.reason
        bug = NICK_BUGS[self.nick_bug]
        return f"Nick 2.8.0's bug ({bug.source}): {bug.summary}; the mock answers the contract's: {bug.contract}"

    def explains(self, deployment: Answer) -> bool:
        """Whether the deployment's answer is the one this entry knows."""
        if self.status is not None and deployment.status != self.status:
            return False
        return not self.html or deployment.content_type.startswith("text/html")


@dataclass
class Difference:
    """A probe both sides answered differently."""

    probe: Probe
    deployment: Answer
    mock: Answer
    known: Known | None = None


@dataclass
class Drift:
    """What the probes found: the differences, and the probes not sent (with why)."""

    differences: list[Difference] = field(default_factory=list)
    same: int = 0
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def unexplained(self) -> list[Difference]:
        """The differences `KNOWN` does not explain: the drift."""
        return [d for d in self.differences if d.known is None]


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


def _login_probes() -> list[Probe]:
    good = {"login": "{login}", "password": "{password}"}
    bodies: list[tuple[str, bytes | None, str | None]] = [
        ("good", _json(good), "application/json"),
        ("wrong-password", _json({"login": "{login}", "password": "{password}-not"}), "application/json"),
        ("unknown-user", _json({"login": "nobody-{nonce}", "password": "{password}"}), "application/json"),
        ("no-login", _json({"password": "{password}"}), "application/json"),
        ("no-password", _json({"login": "{login}"}), "application/json"),
        ("empty-strings", _json({"login": "", "password": ""}), "application/json"),
        ("empty-object", b"{}", "application/json"),
        ("no-body", None, None),
        ("null-login", _json({"login": None, "password": "{password}"}), "application/json"),
        ("json-array", b"[]", "application/json"),
        ("json-null", b"null", "application/json"),
        ("json-string", b'"admin"', "application/json"),
        ("not-json", b'{"login": ', "application/json"),
        ("text-plain", _json(good), "text/plain"),
        ("no-content-type", _json(good), None),
        ("form-encoded", b"login={login}&password={password}", "application/x-www-form-urlencoded"),
        ("latin-1-charset", _json(good), "application/json; charset=iso-8859-1"),
        ("login-number", _json({"login": 12345, "password": "{password}"}), "application/json"),
        ("login-object", _json({"login": {"a": 1}, "password": "{password}"}), "application/json"),
        ("login-true", _json({"login": True, "password": "{password}"}), "application/json"),
        ("login-array", _json({"login": ["{login}"], "password": "{password}"}), "application/json"),
        ("password-number", _json({"login": "{login}", "password": 12345}), "application/json"),
        ("extra-field", _json({**good, "remember": True}), "application/json"),
        ("unicode-login", _json({"login": "ädmïn-ü", "password": "{password}"}), "application/json"),
        ("spaced-login", _json({"login": " {login} ", "password": "{password}"}), "application/json"),
        ("too-large", _json({**good, "pad": "x" * (MEGABYTE + 10)}), "application/json"),
        ("large-under-limit", _json({**good, "pad": "x" * (100 * 1024)}), "application/json"),
    ]
    return [Probe(f"login/{name}", "POST", "/@login", body=body, content_type=kind) for name, body, kind in bodies]


def _session_probes() -> list[Probe]:
    renew = [Probe(f"renew/{kind or NONE}", "POST", "/@login-renew", token=kind) for kind in (None, *TOKEN_KINDS[2:])]
    renew.append(Probe("renew/admin", "POST", "/@login-renew", token=ADMIN))
    logout = [
        Probe(f"logout/{kind}", "POST", "/@logout", token=kind) for kind in (None, FRESH, "logged-out", "garbage")
    ]
    return renew + logout


def _jobs_probes() -> list[Probe]:
    probes = [
        Probe(f"list/{kind or NONE}", "GET", "/@jobs", token=kind, jobs=True, shape_only=True)
        for kind in (None, *TOKEN_KINDS)
    ]
    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/abort"), ("POST", "/retry")):
        path = f"/@jobs/{UNKNOWN_ID}{suffix}"
        name = f"{method.lower()}-job{suffix.replace('/', '-')}"
        probes += [
            Probe(f"{name}/{kind or NONE}", method, path, token=kind, jobs=True) for kind in (None, EDITOR, ADMIN)
        ]
    probes.append(Probe("get-job/not-a-uuid", "GET", "/@jobs/not-a-uuid", token=ADMIN, jobs=True))
    return probes


def _path_probes() -> list[Probe]:
    cases = [
        ("GET", "/@nosuch"),
        ("GET", "/no/such/path"),
        ("POST", "/@nosuch"),
        ("HEAD", "/@nosuch"),
        ("GET", "/@login"),
        ("DELETE", "/@login"),
        ("PUT", "/@login"),
        ("PATCH", "/@logout"),
        ("GET", "/@logout"),
        ("OPTIONS", "/@login"),
        ("POST", "/@login/"),
        ("POST", "/@LOGIN"),
        ("POST", "/no-such-content/@login"),
    ]
    good = _json({"login": "{login}", "password": "{password}"})
    probes = [
        Probe(f"path/{method} {path}", method, path, token=ADMIN, body=good if "login" in path.lower() else None)
        for method, path in cases
    ]
    jobs = [("PUT", "/@jobs"), ("POST", "/@jobs"), ("PATCH", f"/@jobs/{UNKNOWN_ID}"), ("GET", f"/@jobs/{UNKNOWN_ID}/x")]
    probes += [Probe(f"path/{method} {path}", method, path, token=ADMIN, jobs=True) for method, path in jobs]
    return probes


def _language_probes() -> list[Probe]:
    probes = []
    for language in ("nl", "sv", "de", "nl-BE", "nl;q=0.5, de;q=0.9", "*", "xx"):
        probes += [
            Probe(
                f"language/{language.replace(' ', '')}/missing-credentials",
                "POST",
                "/@login",
                body=b"{}",
                language=language,
            ),
            Probe(f"language/{language.replace(' ', '')}/invalid-session", "POST", "/@login-renew", language=language),
            Probe(f"language/{language.replace(' ', '')}/unknown-path", "GET", "/@nosuch", language=language),
        ]
        probes.append(
            Probe(
                f"language/{language.replace(' ', '')}/wrong-password",
                "POST",
                "/@login",
                body=_json({"login": "{login}", "password": "{password}-not"}),
                language=language,
            )
        )
        probes += [
            Probe(
                f"language/{language.replace(' ', '')}/not-authorized", "GET", "/@jobs", language=language, jobs=True
            ),
            Probe(
                f"language/{language.replace(' ', '')}/forbidden",
                "GET",
                "/@jobs",
                token=EDITOR,
                language=language,
                jobs=True,
            ),
            Probe(
                f"language/{language.replace(' ', '')}/not-found",
                "GET",
                f"/@jobs/{UNKNOWN_ID}",
                ADMIN,
                language=language,
                jobs=True,
            ),
        ]
    return probes


PROBES: tuple[Probe, ...] = (
    *_login_probes(),
    *_session_probes(),
    *_jobs_probes(),
    *_path_probes(),
    *_language_probes(),
)
RATE_LIMIT_PROBE = "rate-limit/login"  # logins from one address until the limit answers; sent last
RATE_LIMIT_MOST = 20  # the largest limit probed (a larger one would take that many requests)

KNOWN: tuple[Known, ...] = (
    # Nick 2.8.0's bugs (conformance.nickbugs): the mock answers the contract (a 4xx in Nick's JSON shape).
    *(
        Known(f"login/{name}", html=True, nick_bug="body-parser-html")
        for name in ("not-json", "json-null", "json-string", "too-large", "latin-1-charset")
    ),
    *(
        Known(f"login/{name}", status=500, nick_bug="unparsed-login-body")
        for name in ("no-body", "text-plain", "no-content-type", "form-encoded")
    ),
    Known("login/password-number", status=500, nick_bug="password-not-a-string"),
    Known("login/login-array", status=200, nick_bug="array-login"),
    *(Known(probe, status=500, nick_bug="unknown-user-token") for probe in ("renew/unknown-user", "list/unknown-user")),
    *(Known(f"path/PUT {path}", html=True, nick_bug="unrouted-method-html") for path in ("/@login", "/@jobs")),
    # The mock's own choices, each for a reason.
    Known(
        "path/OPTIONS /@login",
        status=200,
        reason="Express answers OPTIONS itself (200, Allow: every method); the contract promises no Allow, "
        "and the mock answers a method a path does not declare (a CORS preflight aside) with Nick's JSON 404",
    ),
    *(
        Known(
            f"path/POST {path}",
            reason="Express routes case-insensitively and ignores a trailing slash; the mock's paths are exact",
        )
        for path in ("/@login/", "/@LOGIN")
    ),
    Known(
        "path/POST /no-such-content/@login",
        status=404,
        reason="Nick serves views under the content paths its site has; the mock, knowing none, under any",
    ),
    *(
        Known(
            probe,
            status=401,
            reason="the mock accepts the published documentation's token as admin's, a documented convenience",
        )
        for probe in ("renew/documented", "list/documented")
    ),
)


def known(probe: str, deployment: Answer) -> Known | None:
    """The entry of `KNOWN` that explains the deployment's answer to `probe`, if any."""
    return next((entry for entry in KNOWN if entry.probe == probe and entry.explains(deployment)), None)


@dataclass
class Side:
    """One server the probes go to, with the credentials of a user who may manage jobs and one who may not."""

    url: str
    login: str
    password: str
    forbidden: tuple[str, str] | None
    secret: str
    timeout: float = 10.0
    session: requests.Session = field(init=False)
    tokens: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self.session = bounded_session(BoundedAdapter(self.timeout, 8 * MEGABYTE))

    def send(self, probe: Probe, path: str | None = None) -> requests.Response:
        """The probe's request, its placeholders filled in for this side."""
        headers = {"Accept-Language": probe.language} if probe.language else {}
        if probe.token is not None:
            headers["Authorization"] = self.authorization(probe.token)
        body = self.fill(probe.body) if probe.body is not None else None
        if body is not None and probe.content_type:
            headers["Content-Type"] = probe.content_type
        try:
            return self.session.request(
                probe.method, self.url + (path or probe.path), headers=headers, data=body, allow_redirects=False
            )
        except RateLimited as exc:  # the rate limit's own answer: compared like any other
            return exc.answer

    def fill(self, body: bytes) -> bytes:
        text = body.decode("utf-8", "surrogateescape")
        text = text.replace("{login}", self.login).replace("{password}", self.password)
        return text.replace("{nonce}", uuid.uuid4().hex[:8]).encode("utf-8", "surrogateescape")

    def log_in(self, login: str, password: str) -> str:
        """A new token of this user (never one the probes hold already), or DriftError.

        Nick hands one user the same token within a second (conformance.nickbugs, same-second-tokens): logging
        out a fresh one would log out the probes' own. Such a login is sent again once the second has passed.
        """
        for _ in range(SAME_SECOND_TRIES):
            token = self._log_in(login, password)
            if token not in self.tokens.values():
                return token
            time.sleep(1.1)
        return self._log_in(login, password)

    def _log_in(self, login: str, password: str) -> str:
        try:
            answer = self.session.post(f"{self.url}/@login", json={"login": login, "password": password})
        except RateLimited as exc:
            raise DriftError(
                f"{self.url}: login as {login!r} answered 429 (Retry-After {exc.answer.headers.get('Retry-After')}): "
                "the login rate limit is spent for this address; raise it (Nick: AUTH_RATE_LIMIT) or try again later"
            ) from None
        token = (
            answer.json().get("token")
            if answer.headers.get("Content-Type", "").startswith("application/json")
            else None
        )
        if answer.status_code != 200 or not isinstance(token, str):
            raise DriftError(f"{self.url}: login as {login!r} answered {answer.status_code} {answer.text[:200]!r}")
        return token

    def authorization(self, kind: str) -> str:
        """The Authorization header for a token kind."""
        plain = {"garbage": "Bearer not-a-valid-token", "empty": "Bearer", "basic": "Basic YWRtaW46YWRtaW4="}
        if kind in plain:
            return plain[kind]
        if kind == "lowercase-scheme":
            return f"bearer {self.token(ADMIN)}"
        return f"Bearer {self.token(kind)}"

    def token(self, kind: str) -> str:
        """A token of the kind, made for this side (fresh ones anew each time)."""
        if kind in self.tokens and kind != FRESH:
            return self.tokens[kind]
        made = self._make(kind)
        if kind != FRESH:
            self.tokens[kind] = made
        return made

    def _make(self, kind: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"sub": self.login, "fullname": "Admin", "iat": now, "exp": now + 3600}
        if kind in (ADMIN, FRESH):
            return self.log_in(self.login, self.password)
        if kind == EDITOR:
            if self.forbidden is None:
                raise DriftError("no user who may not manage jobs: pass --forbidden-login/--forbidden-password")
            return self.log_in(*self.forbidden)
        if kind == "logged-out":
            token = self.log_in(self.login, self.password)
            self.session.post(f"{self.url}/@logout", headers={"Authorization": f"Bearer {token}"})
            return token
        if kind == "documented":
            return DOCUMENTED_TOKEN
        if kind == "unsigned":
            head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
            return f"{head}.{base64.urlsafe_b64encode(_json(claims)).rstrip(b'=').decode()}."
        secret = "not-the-deployments-secret" if kind == "other-secret" else self.secret
        kinds: dict[str, dict[str, Any]] = {
            "never-issued": {},
            "other-secret": {},
            "expired": {"iat": now - 7200, "exp": now - 3600},
            "unknown-user": {"sub": f"nobody-{uuid.uuid4().hex[:8]}"},
        }
        with warnings.catch_warnings():  # a short secret (Nick's development one) is the point, not a mistake
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            return jwt.encode({**claims, **kinds[kind]}, secret, algorithm="HS256")


class DriftError(Exception):
    """The probes cannot run (a side does not answer, a login fails): exit 2."""


def answer_of(response: requests.Response, probe: Probe) -> Answer:
    """A response as it is compared."""
    kind = response.headers.get("Content-Type", "")
    media, _, parameters = kind.partition(";")
    charset = parameters.strip().lower()
    content_type = media.strip().lower() + (f"; {charset}" if charset else "")
    limited = tuple(sorted(name for name in response.headers if name.lower().startswith(("ratelimit-", "retry-after"))))
    body: Any = ""
    if response.content and media.strip().lower().endswith("json"):
        try:
            body = _tokens_aside(response.json())
        except ValueError:
            body = response.text[:200]
    elif response.content:
        body = "<an HTML page>" if "html" in media else response.text[:200]
    if probe.shape_only and 200 <= response.status_code < 300 and not isinstance(body, str):
        body = f"<a JSON {type(body).__name__}>"
    headers = limited if response.status_code == 429 else ()
    return Answer(response.status_code, content_type, body, headers)


def _tokens_aside(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            key: "<token>" if key == "token" and isinstance(value, str) else _tokens_aside(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_tokens_aside(item) for item in data]
    return data


def logins(probes: Iterable[Probe]) -> int:
    """About the requests the probes send to login and renewal (what Nick's login rate limit counts)."""
    sent = sum(probe.path.lower().rstrip("/").endswith(("/@login", "/@login-renew")) for probe in probes)
    tokens = sum(probe.token in (FRESH, "logged-out") for probe in probes)
    return sent + tokens + len(TOKEN_KINDS)


def has_jobs_api(side: Side) -> bool:
    """Whether the side answers the jobs list (stock Nick has no jobs API)."""
    return (
        side.session.get(f"{side.url}/@jobs", headers={"Authorization": f"Bearer {side.token(ADMIN)}"}).status_code
        != 404
    )


def compare(
    deployment: Side, mock: Side, probes: Iterable[Probe] = PROBES, progress: Callable[[str], None] = lambda _: None
) -> Drift:
    """Every probe to both sides, and how their answers differ."""
    drift = Drift()
    jobs = has_jobs_api(deployment)
    for probe in probes:
        if probe.jobs and not jobs:
            drift.skipped[probe.name] = "the deployment has no jobs API (GET /@jobs answers 404)"
            continue
        if probe.token == EDITOR and deployment.forbidden is None:
            drift.skipped[probe.name] = "no user who may not manage jobs: pass --forbidden-login/--forbidden-password"
            continue
        theirs, ours = answer_of(deployment.send(probe), probe), answer_of(mock.send(probe), probe)
        if theirs == ours:
            drift.same += 1
            continue
        difference = Difference(probe, theirs, ours, known(probe.name, theirs))
        drift.differences.append(difference)
        progress(f"{'known' if difference.known else 'DIFFERENT'}: {probe.name}")
    rate_limit(deployment, mock, drift)
    return drift


def rate_limit(deployment: Side, mock: Side, drift: Drift) -> None:
    """Logins from one address past the deployment's limit, to both sides: the answers that end it compared."""
    probe = Probe(RATE_LIMIT_PROBE, "POST", "/@login", body=_json({"login": "{login}", "password": "{password}-not"}))
    first = deployment.send(probe)
    allowed = first.headers.get("RateLimit-Limit", "")
    left = first.headers.get("RateLimit-Remaining", "")
    if not (allowed.isdigit() and left.isdigit()) or int(left) > RATE_LIMIT_MOST:
        reason = (
            "the deployment advertises no rate limit on login"
            if not allowed.isdigit()
            else (f"{left} logins left before the limit: more than {RATE_LIMIT_MOST} requests to reach it")
        )
        drift.skipped[RATE_LIMIT_PROBE] = reason
        return
    answers = []
    for side, budget in ((deployment, int(left) + 1), (mock, int(allowed) + 2)):
        response = first if side is deployment else mock.send(probe)
        for _ in range(budget):
            if response.status_code == 429:
                break
            response = side.send(probe)
        answers.append(answer_of(response, probe))
    theirs, ours = answers
    if theirs == ours:
        drift.same += 1
    else:
        drift.differences.append(Difference(probe, theirs, ours, known(probe.name, theirs)))


def report(drift: Drift, verbose: bool = False) -> list[str]:
    """The drift as lines for people."""
    lines = []
    for difference in drift.unexplained:
        probe = difference.probe
        lines += [
            f"DIFFERENT {probe.name}: {probe.method} {probe.path}",
            f"  deployment: {difference.deployment.show()}",
            f"  mock:       {difference.mock.show()}",
        ]
    known_ones = [d for d in drift.differences if d.known is not None]
    if verbose:
        for difference in known_ones:
            entry = difference.known
            assert entry is not None
            lines.append(f"known {difference.probe.name}: {entry.why()}")
            lines.append(f"  deployment: {difference.deployment.show()}")
            lines.append(f"  mock:       {difference.mock.show()}")
    reasons: dict[str, list[str]] = {}
    for name, why in drift.skipped.items():
        reasons.setdefault(why, []).append(name)
    for why, names in reasons.items():
        shown = names[0] if len(names) == 1 else f"{len(names)} requests ({names[0]}, ...)"
        lines.append(f"not sent: {shown}: {why}")
    verdict = "NO DRIFT" if not drift.unexplained else f"DRIFT: {len(drift.unexplained)} differences"
    lines.append(
        f"{verdict}; {drift.same} answers the same, {len(known_ones)} known differences (-v shows them), "
        f"{len(drift.skipped)} not sent"
    )
    return lines


def summary(drift: Drift) -> Mapping[str, Any]:
    """The drift as JSON data."""

    def answer(a: Answer) -> dict[str, Any]:
        return {"status": a.status, "contentType": a.content_type, "body": a.body, "headers": list(a.headers)}

    return {
        "same": drift.same,
        "differences": [
            {
                "probe": d.probe.name,
                "request": f"{d.probe.method} {d.probe.path}",
                "deployment": answer(d.deployment),
                "mock": answer(d.mock),
                "known": None if d.known is None else {"why": d.known.why(), "nickBug": d.known.nick_bug or None},
            }
            for d in drift.differences
        ],
        "notSent": dict(drift.skipped),
    }
