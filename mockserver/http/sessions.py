"""Isolated sessions: one mock, many parallel test runs, each with its own jobs, clock, faults, journal and tokens.

A request names its session by the `X-Mock-Session` header or the path prefix `/__session/NAME/`;
a request naming none works on the mock's shared state, as before. A session is a MockState of
its own that shares the spec, the configuration, the validators and the users with the mock's,
and its starting jobs with every other session started from the same data (copy-on-write: see
JobStore.share). Sessions are bounded: idle ones expire, and there is a maximum count.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Iterator, Sized
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractMatchInfo
from yarl import URL

from mockserver.domain.auth import SCHEME, digest
from mockserver.domain.clock import Clock
from mockserver.domain.errors import ApiError, BadRequest, NotFound
from mockserver.domain.faults import Faults
from mockserver.domain.journal import Journal
from mockserver.domain.state import MockState, Template
from mockserver.domain.store import JobStore
from mockserver.http.answers import render
from mockserver.http.context import PATH_PREFIX, PREFIXED, UNROUTED, Context
from mockserver.sessionclient import HEADER

CONTROL_PREFIX = "/__mock__/"  # the control API, under a session's prefix too
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


class TooManySessions(ApiError):
    """A new session beyond --max-sessions: 503, the mock's capacity is full (not the client's rate: that is 429)."""

    status = 503
    error_type = "Too many sessions"

    def __init__(self, limit: int, retry_after: float) -> None:
        super().__init__(
            f"The mock holds its maximum of {limit} sessions (--max-sessions {limit}); delete one "
            f"(DELETE /__mock__/sessions/NAME) or wait for an idle one to expire (--session-idle)."
        )
        self.retry_after = max(1, round(retry_after))

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class SessionExists(ApiError):
    """Creating a session under a name already in use."""

    status = 409
    error_type = "Session exists"


def check_name(name: str) -> str:
    """A valid session name, or BadRequest saying what one is."""
    if not NAME.fullmatch(name):
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise BadRequest(f"session: {shown!r} is not a session name (1 to 64 of A-Z a-z 0-9 . _ -)")
    return name


@dataclass
class Entry:
    """One named session and when it was last used (monotonic seconds)."""

    state: MockState
    used: float


class Sessions(Sized):
    """The named sessions, least recently used first; idle ones expire as others are used."""

    def __init__(self, base: MockState, *, idle: float, limit: int) -> None:
        self.base, self.idle, self.limit = base, idle, limit
        self.named: OrderedDict[str, Entry] = OrderedDict()
        self.changes = 0  # sessions started, deleted or expired so far
        # The operations that start a session: those without credentials that change something (the login).
        self.logins = {name for name, op in base.spec.operations.items() if op.definition.get("security") == []}
        self._starting: Template | None = None

    def __len__(self) -> int:
        return len(self.named)

    def enter(self, request: web.Request, context: Context) -> web.Response | None:
        """Make the session the request names (header, else path prefix) the state its context holds.

        None when it names none, or its session is found or started; otherwise the refusal (a bad
        name, too many sessions). A session a request names is started only by a request no other
        site's page can send: one with a token the mock holds, a login sent as JSON, or a change
        through the control API (whose guard keeps other sites' pages out). Anything else (a page's
        `<img>` of `/__session/N/openapi.json`, a request without credentials) is answered from the
        mock's shared state and starts nothing: no page can fill --max-sessions.
        """
        name = request.headers.get(HEADER)
        if name is None and (name := context.session) is None:  # the whole cost for a request that names no session
            return None
        try:
            named = {*request.headers.getall(HEADER, []), *([context.session] if context.session else [])}
            if len(named) > 1 or len(request.headers.getall(HEADER, [])) > 1:  # never one of them, silently
                raise BadRequest(
                    f"the request names more than one session ({HEADER} headers, a {PATH_PREFIX}NAME/ prefix): "
                    f"{', '.join(sorted(named))}; name one"
                )
            entry = self.named.get(name)
            if entry is None and not self.may_start(request, context):
                check_name(name)
                if context.path.startswith(CONTROL_PREFIX):  # not the shared state's jobs, shown as the session's
                    raise NotFound(f"No session {name!r}: a session starts with a change, a login or a token.")
                return None  # an answer that depends on no session's data: 401s, the spec, the docs
            context.state = self.find(name)
        except ApiError as error:
            return render(error)
        return None

    def may_start(self, request: web.Request, context: Context) -> bool:
        """Whether a request may start the session it names (see `enter`)."""
        if request.headers.get("Sec-Fetch-Site") == "cross-site":  # a browser says another site's page sent it
            return False
        changes = request.method not in SAFE_METHODS
        if changes and context.path.startswith(CONTROL_PREFIX):
            return True
        if changes and context.operation in self.logins and request.content_type == "application/json":
            return True  # a page of another site cannot send JSON without a preflight the mock refuses
        authorization = request.headers.get("Authorization", "")
        token = authorization.removeprefix(SCHEME)
        return token != authorization and digest(token) in self.base.auth.tokens.held

    def find(self, name: str) -> MockState:
        """The session `name`, started from the starting data on first use."""
        entry = self.named.get(name)
        if entry is None:
            return self.create(check_name(name))
        entry.used = time.monotonic()
        self.named.move_to_end(name)
        self.expire()
        return entry.state

    def create(
        self, name: str, jobs: list[Any] | None = None, *, clock: Clock | None = None, template: Template | None = None
    ) -> MockState:
        """A new session: the starting data, or `jobs` (BadRequest naming a bad one), on a clock of its own;
        SessionExists, TooManySessions. A reload's carried session brings its `clock` and `template`."""
        check_name(name)
        self.expire()
        self.base.budget.check()  # a session's jobs and journal take memory from the one budget
        if name in self.named:
            raise SessionExists(f"A session {name!r} exists already; DELETE /__mock__/sessions/{name} first.")
        if len(self.named) >= self.limit:
            oldest = next(iter(self.named.values()))
            raise TooManySessions(self.limit, oldest.used + self.idle - time.monotonic())
        if template is None:
            template = self.starting() if jobs is None else self.base.new_template(jobs)
        state = self._new_state(template, clock)
        self.named[name] = Entry(state, time.monotonic())
        self.changes += 1
        return state

    def starting(self) -> Template:
        """The starting data, loaded once on the first session's start and shared by every session."""
        if self._starting is None:
            self._starting = self.base.new_template()
        return self._starting

    def from_starting_data(self, state: MockState) -> bool:
        """Whether a session began with the starting data (not with jobs of its own)."""
        return self._starting is not None and state.template is self._starting

    def _new_state(self, template: Template, clock: Clock | None = None) -> MockState:
        base = self.base
        auth = base.auth.fresh()  # the server's users and tokens; the logouts here are the session's own
        state = replace(
            base,
            store=JobStore(base.spec.lifecycle, seed=base.config.seed, speed=base.config.speed, budget=base.budget),
            clock=clock or Clock(speed=base.clock.speed, manual=base.clock.manual, start=base.clock.now()),
            auth=auth,
            faults=Faults(base.faults.operations),
            limits=base.limits.fresh(),
            journal=Journal(base.config.journal_size, base.budget),
            template=template,
        )
        state.load()
        state.arm_faults()
        return state

    def delete(self, name: str) -> None:
        """Forget a session; NotFound if there is none by that name."""
        entry = self.named.pop(check_name(name), None)
        if entry is None:
            raise NotFound(f"No session {name!r}.")
        self._forget(entry.state)
        self.changes += 1

    def get(self, name: str) -> MockState:
        """An existing session, without starting it; NotFound otherwise."""
        self.expire()
        entry = self.named.get(check_name(name))
        if entry is None:
            raise NotFound(f"No session {name!r}.")
        return entry.state

    def expire(self) -> None:
        """Forget the sessions idle longer than `idle` seconds (the least recently used come first)."""
        horizon = time.monotonic() - self.idle
        while self.named:
            name, entry = next(iter(self.named.items()))
            if entry.used > horizon:
                break
            del self.named[name]
            self._forget(entry.state)
            self.changes += 1

    def _forget(self, state: MockState) -> None:
        """Give back to the budget what a session forgotten kept: its jobs, its journal, the jobs it was given."""
        state.store.account.release()
        state.journal.account.release()
        if state.template is not None and state.template is not self._starting:
            state.template.store.account.release()

    def states(self) -> dict[str, MockState]:
        """Each session's state, by name (what a state file keeps)."""
        return {name: entry.state for name, entry in self.named.items()}

    def revision(self) -> int:
        """A number that grows with every change a state file must reflect: a session started, deleted or expired,
        a session's jobs or logouts changed, or its clock into another minute."""
        return self.changes + sum(
            e.state.store.revision + e.state.auth.logouts + e.state.clock.now_ms() // 60_000
            for e in self.named.values()
        )

    def describe(self) -> dict[str, Any]:
        """The sessions and the limits, as the control API shows them."""
        self.expire()
        now = time.monotonic()
        return {
            "maxSessions": self.limit,
            "idleSeconds": self.idle,
            "sessions": [
                {
                    "name": name,
                    "jobs": len(entry.state.store.jobs),
                    "shared": entry.state.store.shared,
                    "idle": round(now - entry.used, 3),
                }
                for name, entry in self.named.items()
            ],
        }


SESSIONS = web.AppKey("sessions", Sessions)


# The methods the path after a session prefix takes, where no route takes the request: worked out once a request.
UNROUTED_INNER = web.RequestKey("unrouted_inner", frozenset[str])


class PrefixResource(web.AbstractResource):
    """`/__session/NAME/...`: routed as `...` would be, the name noted for the session stage."""

    def __init__(self, router: web.UrlDispatcher) -> None:
        super().__init__()
        self._router = router

    @property
    def canonical(self) -> str:
        return PATH_PREFIX.rstrip("/")

    async def resolve(self, request: web.Request) -> tuple[web.UrlMappingMatchInfo | None, set[str]]:
        name, slash, rest = request.rel_url.path[len(PATH_PREFIX) :].partition("/")
        if not request.rel_url.path.startswith(PATH_PREFIX) or not slash:
            return None, set()
        if ("/" + rest).startswith(PATH_PREFIX):  # one session per request: a prefix inside a prefix names no path
            return None, set()
        tried = request.get(UNROUTED_INNER)
        if tried is not None:  # asked again by the resource of unrouted requests: the path no route takes, as before
            return None, set(tried)
        inner = URL.build(path="/" + rest, query_string=request.rel_url.query_string)
        routed = request.clone(rel_url=inner)
        match: AbstractMatchInfo = await self._router.resolve(routed)
        error = routed.get(UNROUTED) or match.http_exception  # no route takes the path (see unrouted.Unrouted)
        if error is not None or not isinstance(match, web.UrlMappingMatchInfo):
            request[UNROUTED_INNER] = allowed = frozenset(getattr(error, "allowed_methods", ()) or ())
            return None, set(allowed)
        request[PREFIXED] = (name, "/" + rest)
        return match, set()

    def url_for(self, **kwargs: str) -> URL:
        return URL(PATH_PREFIX)

    def add_prefix(self, prefix: str) -> None:
        raise NotImplementedError("the session prefix resource belongs to the top application")

    def get_info(self) -> Any:  # aiohttp types it with a private TypedDict
        return {"prefix": PATH_PREFIX}

    def raw_match(self, path: str) -> bool:
        return path.startswith(PATH_PREFIX)

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Iterator[web.AbstractRoute]:
        return iter(())


def add_prefix_routes(app: web.Application) -> None:
    """Route `/__session/NAME/...` to whatever `...` routes to."""
    app.router.register_resource(PrefixResource(app.router))
