"""Small helpers for talking to the live mock in tests."""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

import requests
import yaml

from jobspec import load_spec
from jobspec.invariants import invariant_problems
from jobspec.loader import packaged_spec_path
from mockserver.testing import LiveMock

LIFECYCLE = load_spec().lifecycle
ROOT = Path(__file__).resolve().parents[1]
HOLD = {"mock": {"delay": 86400, "duration": 86400}}
# What a loaded machine may add to a deadline a test waits for: no test holds a server to less (issue 28).
SLACK = 5.0


def trickle_until_closed(sock: socket.socket, request: bytes) -> tuple[int, float]:
    """Send `request` a byte every 50 ms until it is all sent or the server closes the connection (a deadline): how
    many bytes were sent, and how long it took. Leaves `sock`'s timeout at 0.2 s."""
    began, sent = time.monotonic(), 0
    sock.settimeout(0.2)
    try:
        for byte in request:
            sock.sendall(bytes([byte]))
            sent += 1
            time.sleep(0.05)
    except OSError:
        pass  # closed while we were still sending: the deadline
    return sent, time.monotonic() - began


def create(mock: LiveMock, status: str, **fields: Any) -> dict[str, Any]:
    """A new job in `status`, held there (a day's delay and duration) unless params say otherwise."""
    fields.setdefault("params", dict(HOLD))
    job: dict[str, Any] = mock.control("POST", "jobs", {"status": status, **fields})
    return job


def read(session: requests.Session, mock: LiveMock, job_id: str) -> dict[str, Any]:
    """GET /@jobs/{id}, asserting it answers 200."""
    response = session.get(f"{mock.url}/@jobs/{job_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def listed(session: requests.Session, mock: LiveMock) -> dict[str, dict[str, Any]]:
    """GET /@jobs as a mapping uuid -> job."""
    response = session.get(f"{mock.url}/@jobs")
    assert response.status_code == 200, response.text
    return {job["uuid"]: job for job in response.json()}


def assert_invariants(job: dict[str, Any]) -> None:
    """The spec's invariants on one observation of a job (state fields, timestamp order), as jobspec reads them."""
    assert invariant_problems(LIFECYCLE, job) == [], job


def fresh(server: LiveMock) -> Iterator[LiveMock]:
    """For a fixture: the server reset to its starting data; the test fails if the mock reported its own errors meanwhile."""
    server.control("POST", "reset")
    yield server
    assert server.errors() == [], "the mock reported its own errors"


def spec_copy(directory: Path, edit: Callable[[dict[str, Any]], object]) -> Path:
    """A copy of the packaged spec changed by `edit` (which changes the parsed document in place), as a file."""
    document = yaml.safe_load(packaged_spec_path().read_text(encoding="utf-8"))
    edit(document)
    path = directory / "jobs.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def typed_error_response(description: str, error_type: str) -> dict[str, Any]:
    """A documented error answer for a spec copy: Nick's typed error shape with exactly this `error.type`."""
    exact = {
        "type": "object",
        "properties": {"error": {"type": "object", "properties": {"type": {"const": error_type}}}},
    }
    schema = {"allOf": [{"$ref": "#/components/schemas/TypedError"}, exact]}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def packages() -> list[str]:
    """The kit's top-level packages, as pyproject.toml's package discovery names them."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]


def source_files() -> list[Path]:
    """What a build of the kit reads (pyproject, readme, licence, packages), relative to the repository."""
    names = [Path(name) for name in ("pyproject.toml", "README.md", "LICENSE") if (ROOT / name).is_file()]
    for package in packages():
        names += sorted(
            path.relative_to(ROOT)
            for path in (ROOT / package).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
        )
    return names


def source_copy(directory: Path) -> Path:
    """A clean copy of what a build reads: no stale build/ to leak from."""
    source = directory / "source"
    for name in source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    return source


class ThreadedServer:
    """A test server on an event loop of its own in a daemon thread: `_start` runs there on entering, `_stop` on leaving."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        raise NotImplementedError

    async def _stop(self) -> None:
        raise NotImplementedError


def processes() -> dict[int, tuple[int, int]]:
    """Every process running now, each with its parent's process id and its process group (from /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # ended meanwhile
            continue
        found[int(stat.parent.name)] = (int(fields[1]), int(fields[2]))
    return found
