"""The app factory: a proxy in front of one upstream, checking the traffic against one spec."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from aiohttp import web

from jobspec import Spec, load_spec
from jobsproxy import guard, page
from jobsproxy.config import ProxyConfig
from jobsproxy.inspector import Inspector
from jobsproxy.journal import Echo, Journal
from jobsproxy.relay import Relay
from jobsproxy.report import ProxyReport, build
from jobsproxy.sequencer import Sequencer


@dataclass
class Proxy:
    """A proxy's parts: the relay forwards, the sequencer orders, the inspector judges on its own thread."""

    config: ProxyConfig
    spec: Spec
    journal: Journal
    inspector: Inspector
    relay: Relay
    sequencer: Sequencer
    executor: ThreadPoolExecutor
    started: float = field(default_factory=time.monotonic)

    def report(self) -> ProxyReport:
        """The report as things stand (the checks hold still meanwhile)."""
        with self.inspector.lock:
            return build(self.inspector, self.journal, self.config.upstream, time.monotonic() - self.started)

    def settle(self) -> None:
        """Wait until every exchange handed to the checks has been judged."""
        self.executor.submit(lambda: None).result()

    async def checking(self, app: web.Application) -> AsyncIterator[None]:
        """The checks' thread, drained at shutdown (for `cleanup_ctx`): every exchange that ended is judged."""
        yield
        self.sequencer.flush()
        self.executor.shutdown(wait=True)


PROXY = web.AppKey("proxy", Proxy)
ANY_PATH = "/{tail:[\\s\\S]*}"  # every path, also one whose decoded form holds a line break (%0A)


def create_app(spec: Spec | None = None, *, config: ProxyConfig, echo: Echo | None = None) -> web.Application:
    """A ready aiohttp application: the live page under /__proxy__/, every other path forwarded."""
    spec = spec or load_spec(config.spec)
    journal = Journal(echo, size=config.journal_size)
    inspector = Inspector(spec, journal, shared=config.shared, max_jobs=config.max_jobs)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobs-proxy-checks")  # one: order matters
    sequencer = Sequencer(
        lambda exchange, overlapping: executor.submit(inspector.inspect, exchange, overlapping),
        patience=config.check_window,
    )
    relay = Relay(config, sequencer)
    proxy = Proxy(config, spec, journal, inspector, relay, sequencer, executor)
    app = web.Application(
        middlewares=[
            guard.host_rule(config.host, config.allowed_hosts),
            guard.request_target,
            guard.own_pages,
            guard.forwardable_headers,
        ]
    )
    app[PROXY] = proxy
    page.add_routes(app, PROXY)
    app.router.add_route("*", ANY_PATH, relay.forward)
    app.cleanup_ctx.extend([relay.running, proxy.checking])
    return app
