"""A live mock on a loopback port, in a background thread: for tests, ours and our users'."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from typing import Any

from aiohttp import web

from jobspec import Spec
from mockserver.app import create_app
from mockserver.clock import Clock
from mockserver.config import MockConfig
from mockserver.sessionclient import MockSession, control_call
from mockserver.state import STATE, MockState


class LiveMock:
    """Owns its event loop, runner and port; `url` is where it listens once started."""

    def __init__(self, spec: Spec | None = None, *, config: MockConfig | None = None, clock: Clock | None = None):
        config = replace(config or MockConfig(), host="127.0.0.1", port=0)
        self.app = create_app(spec, config=config, clock=clock)
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        self._thread = threading.Thread(target=self._loop.run_forever, name="live-mock", daemon=True)

    @property
    def state(self) -> MockState:
        """The server's state; read it only between requests (it belongs to the server's thread)."""
        return self.app[STATE]

    def start(self) -> LiveMock:
        """Bind a free loopback port and serve."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        """Shut the server down and end its thread."""
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the control API (`path` under /__mock__/); the decoded JSON answer, or None."""
        return control_call(self.url, method, path, body, self.state.config.control_token)

    def session(self, name: str | None = None, jobs: list[dict[str, Any]] | None = None) -> MockSession:
        """A new session of this mock (a fresh name unless given), from the starting data or from `jobs`."""
        return MockSession.create(self.url, name, jobs, token=self.state.config.control_token)

    def errors(self) -> list[dict[str, Any]]:
        """The mock's own errors so far (unexpected exceptions, strict-mode violations)."""
        return list(self.control("GET", "errors"))

    def __enter__(self) -> LiveMock:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
