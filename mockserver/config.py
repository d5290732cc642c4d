"""The mock's settings, as the CLI and tests give them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class MockConfig:
    """Everything that shapes one mock server."""

    host: str = "127.0.0.1"
    port: int = 8080
    data: Path | None = None
    frozen: bool = False
    speed: float = 1.0
    schedule: float | None = None
    seed: int | None = None
    users: Path | None = None
    secret: str = "secret"
    control: bool = True
    control_token: str | None = None
    strict: bool = False
    log_level: str = "info"
    log_format: str = "text"  # "json": one JSON object per log line
    reload: bool = False  # watch the spec, data and users files and serve their edits (cli.serve)
    cors_origins: tuple[str, ...] = ("http://localhost:3000",)  # Nick's frontend
    faults: tuple[dict[str, Any], ...] = ()
    state_file: Path | None = None
    state_sync: str = "interval"  # "interval": saved four times a second; "always": before each answer
    journal_size: int = 10_000  # journal entries kept, and as many of the mock's own errors
    request_timeout: float = 10.0  # seconds for a request's line and headers, and again for its body
    idle_timeout: float = 60.0  # seconds a kept-alive connection may wait for its next request
    session_idle: float = 600.0  # seconds an unused session lives on (X-Mock-Session, /__session/NAME/)
    max_sessions: int = 1000  # sessions held at once; one more is a 503
    memory_budget: int = 1024  # MB of jobs, lists and journal entries, the mock's and every session's; past it, 507
    allowed_hosts: tuple[str, ...] = ()  # Host names to answer besides the loopback ones and --host; "*": any
    # (the spec's x-rate-limit setting, requests per window); none: no limit
    rate_limits: tuple[tuple[str, int], ...] = ()
    owns_process: bool = False  # its CLI: it may tune the garbage collector; embedded (LiveMock, create_app), never
