"""A live proxy on a loopback port, in a background thread: for tests, ours and our users'."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from typing import Any

from httpserving import Serving
from jobspec import Spec
from jobsproxy.app import PROXY, Proxy, create_app
from jobsproxy.config import ProxyConfig
from jobsproxy.journal import VIOLATION, Echo
from jobsproxy.report import ProxyReport


class LiveProxy:
    """Owns its event loop, runner and port; `url` is where clients reach the upstream through it once started."""

    def __init__(
        self, upstream: str, spec: Spec | None = None, *, config: ProxyConfig | None = None, echo: Echo | None = None
    ) -> None:
        config = dataclasses.replace(config or ProxyConfig(upstream), upstream=upstream, host="127.0.0.1", port=0)
        self.app = create_app(spec, config=config, echo=echo)
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._serving = Serving(self.app, request_timeout=config.request_timeout, idle_timeout=config.idle_timeout)
        self._thread = threading.Thread(target=self._loop.run_forever, name="live-proxy", daemon=True)

    @property
    def proxy(self) -> Proxy:
        """The proxy's parts."""
        return self.app[PROXY]

    def start(self) -> LiveProxy:
        """Bind a free loopback port and serve."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        await self._serving.start("127.0.0.1", 0, owns_loop=True)  # its own loop, in its own thread
        host, port = self._serving.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        """Shut the proxy down (the checks finish first) and end its thread."""
        asyncio.run_coroutine_threadsafe(self._serving.stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def settle(self) -> None:
        """Wait until every finished exchange has been judged (answers reach clients before their checks)."""
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self._loop).result(timeout=10)
        self.proxy.settle()

    def violations(self) -> list[dict[str, Any]]:
        """Every violation so far, once the checks have caught up."""
        self.settle()
        return self.proxy.journal.since(0, VIOLATION)

    def report(self) -> ProxyReport:
        """The report as things stand, once the checks have caught up."""
        self.settle()
        return self.proxy.report()

    def __enter__(self) -> LiveProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
