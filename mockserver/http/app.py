"""The app factory: a mock of the jobs API built from its spec."""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from httpserving import TELLS_CONNECTION
from httpserving.hosts import HostRule
from jobspec import Spec, load_spec
from mockserver.config import MockConfig
from mockserver.domain import data, persist
from mockserver.domain.auth import DEFAULT_USERS, Authenticator
from mockserver.domain.budget import Budget
from mockserver.domain.clock import Clock
from mockserver.domain.documents import dump
from mockserver.domain.errors import BadRequest
from mockserver.domain.faults import Faults
from mockserver.domain.journal import Journal
from mockserver.domain.limits import Limits
from mockserver.domain.state import MockState
from mockserver.domain.store import JobStore
from mockserver.domain.validation import ReferenceValidator, compile_validators
from mockserver.http import control, docs, pipeline, redirects, routes, unrouted
from mockserver.http.answers import MAX_BODY, Through, json_response
from mockserver.http.context import STATE
from mockserver.http.cors import Cors
from mockserver.http.guard import Guard
from mockserver.http.saver import Saver
from mockserver.http.sessions import SESSIONS, Sessions, add_prefix_routes


def create_app(
    spec: Spec | None = None, *, config: MockConfig | None = None, clock: Clock | None = None, restore: bool = True
) -> web.Application:
    """A ready aiohttp application serving the spec's operations, its docs and the control API.

    With a state file (`config.state_file`), the app starts from what it holds unless not to `restore` it (a
    reload, which carries the running app's state over instead), and saves to it either way.
    """
    spec = spec or load_spec()
    config = config or MockConfig()
    state, saved = _state(spec, config, clock or Clock(speed=config.speed), restore)
    sessions = Sessions(state, idle=config.session_idle, limit=config.max_sessions)
    if saved is not None and config.state_file is not None:
        _restore_sessions(sessions, saved, config.state_file)
    saver = Saver(state, config.state_file, sessions) if config.state_file is not None else None
    app = web.Application(client_max_size=MAX_BODY)
    app[STATE] = state
    app[SESSIONS] = sessions
    # Every route's handler is called through the pipeline (no aiohttp middleware: see mockserver.http.pipeline).
    operations: dict[object, str] = {}  # each route of the jobs API -> its operationId, filled as they are added
    through = _pipeline(state, saver, sessions, operations).through
    add_prefix_routes(app)
    operations.update(routes.add_routes(app, spec, through))
    _add_spec_routes(app, spec, through)
    docs.add_routes(app, through)
    redirects.add_routes(app, through, control=config.control)
    if config.control:
        control.add_routes(app, through)
    unrouted.add_route(app, through)  # last: whatever no route above takes
    app[TELLS_CONNECTION] = True  # the pipeline tells each request's connection when its answer is ready
    if saver is not None:
        app.cleanup_ctx.append(saver.running)
    return app


def _pipeline(
    state: MockState, saver: Saver | None, sessions: Sessions, operations: Mapping[object, str]
) -> pipeline.Pipeline:
    """What every request passes through: the stages of `mockserver.http.pipeline`, then its route's handler."""
    spec, config = state.spec, state.config
    synced = saver is not None and config.state_sync == "always"
    return pipeline.Pipeline(
        operations=operations,
        cors=Cors(config.cors_origins),
        guard=Guard(HostRule(config.host, config.allowed_hosts), config.cors_origins),
        state=state,
        sessions=sessions,
        strict=ReferenceValidator(spec) if config.strict else None,
        durable=saver if synced else None,
    )


def _state(spec: Spec, config: MockConfig, clock: Clock, restore: bool) -> tuple[MockState, dict[str, Any] | None]:
    """The mock's state with its starting jobs loaded, its faults armed and any saved state restored (the saved state
    too, for its sessions)."""
    jobs, source = data.load_jobs(spec, config.data)
    users = data.load_users(config.users) if config.users else list(DEFAULT_USERS)
    budget = Budget(config.memory_budget * 2**20)
    state = MockState(
        spec=spec,
        config=config,
        store=JobStore(spec.lifecycle, seed=config.seed, speed=config.speed, budget=budget),
        clock=clock,
        auth=Authenticator(users, secret=config.secret),
        validators=compile_validators(spec),
        starting_jobs=zlib.compress(json.dumps(jobs, separators=(",", ":")).encode(), 1),
        faults=Faults(frozenset(spec.operations)),
        limits=Limits(spec, dict(config.rate_limits)),
        journal=Journal(config.journal_size, budget),
        budget=budget,
    )
    del jobs  # the parsed document goes before the store fills: see MockState.load
    saved = persist.read(config.state_file, state) if config.state_file is not None and restore else None
    try:
        state.load(fill=saved is None)  # restored jobs replace the starting ones: the store holds one set at a time
    except BadRequest as exc:
        raise data.DataError(f"{source}: {exc.message}") from None
    state.arm_faults()
    if config.state_file is not None and saved is not None:
        persist.restore(state, saved, config.state_file)
    return state, saved


def _restore_sessions(sessions: Sessions, saved: dict[str, Any], path: Path) -> None:
    """The sessions a state file kept, each started from the starting data and given its saved jobs back (beyond
    --max-sessions: those used last)."""
    kept = list(saved.get("sessions", {}).items())[-sessions.limit :]
    for name, session in kept:
        persist.restore_session(sessions.create(name), session, path)


def _add_spec_routes(app: web.Application, spec: Spec, through: Through) -> None:
    """/openapi.yaml and /openapi.json: the document as it was loaded, even if its file changes later."""
    text, encoded = spec.text(), dump(spec.raw)

    async def serve_yaml(request: web.Request) -> web.StreamResponse:
        return web.Response(text=text, content_type="application/yaml")

    async def serve_json(request: web.Request) -> web.StreamResponse:
        return json_response(encoded)

    app.router.add_get("/openapi.yaml", through(serve_yaml))
    app.router.add_get("/openapi.json", through(serve_json))
