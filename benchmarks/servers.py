"""A server under test in its own process: started, announced, measured and stopped."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from benchmarks.peers import BY_NAME, free_port

LISTENING = re.compile(r"Listening on (http://\S+)")


class ServerError(RuntimeError):
    """A server process did not start, or answered a setup request unexpectedly."""


class ServerProcess:
    """A child process that prints `Listening on http://HOST:PORT` once it accepts connections.

    A server told its address on the command line (a peer, benchmarks/peers.py) is given `url` and
    `log` instead: it is ready once its port accepts a connection, and its output goes to the file
    `log`, not through a pipe the harness would spend CPU reading while the server is under load.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        startup_timeout: float = 120.0,
        url: str = "",
        log: Path | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.env = env
        self.startup_timeout = startup_timeout
        self.url, self.log = url, log
        self.base_url = ""
        self.startup_seconds = 0.0
        self._process: subprocess.Popen[str] | None = None
        self._output: list[str] = []
        self._drainer: threading.Thread | None = None

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self._process is not None, "not started"
        return self._process.pid

    def start(self) -> ServerProcess:
        """Start the process and wait for its `Listening on` line."""
        began = time.perf_counter()
        if self.log is not None:
            return self._start_logged(began, self.log)
        self._process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=self.env
        )
        found = threading.Event()
        self._drainer = threading.Thread(target=self._drain, args=(found,), daemon=True)
        self._drainer.start()
        if not found.wait(self.startup_timeout):
            self.stop()
            raise ServerError(
                f"{self.name} did not announce its address in {self.startup_timeout:.0f} s: {self.tail()}"
            )
        self.startup_seconds = time.perf_counter() - began
        return self

    def _start_logged(self, began: float, log: Path) -> ServerProcess:
        """Start a server whose address is known, its output to `log`; wait until its port takes a connection."""
        with log.open("w", encoding="utf-8") as output:
            process = subprocess.Popen(
                self.command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env, text=True
            )
        self._process = process
        address = urllib.parse.urlsplit(self.url)
        deadline = began + self.startup_timeout
        while time.perf_counter() < deadline and process.poll() is None:
            try:
                socket.create_connection((address.hostname, address.port), timeout=1).close()
            except OSError:
                time.sleep(0.2)
                continue
            self.base_url = self.url
            self.startup_seconds = time.perf_counter() - began
            return self
        if process.poll() is None:
            self.stop()
            raise ServerError(f"{self.name} did not take a connection in {self.startup_timeout:.0f} s: {self.tail()}")
        return self  # it exited: base_url stays empty

    def _drain(self, found: threading.Event) -> None:
        # Reads the output to the end so a chatty server never blocks on a full pipe.
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self._output.append(line.rstrip())
            del self._output[:-50]
            match = LISTENING.search(line)
            if match and not found.is_set():
                self.base_url = match.group(1).rstrip("/")
                found.set()
        found.set()  # the process ended: stop waiting (base_url stays empty)
        self._process.stdout.close()

    def tail(self) -> str:
        """The last lines the process printed."""
        lines = self._output
        if self.log is not None:
            try:
                lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                lines = []
        return " | ".join(line[:500] for line in lines[-8:]) or "(no output)"

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 10 s)."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)
        if self._drainer is not None:
            self._drainer.join(10)  # it closes the pipe once it has read it to the end

    def __enter__(self) -> ServerProcess:
        self.start()
        if not self.base_url:
            raise ServerError(f"{self.name} exited before listening: {self.tail()}")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def fetch(self, method: str, path: str, body: Any = None, token: str = "") -> tuple[int, bytes]:
        """One request to the server (setup, not load): its status and raw body."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None or method == "POST":  # the mock's control API takes JSON only, an empty body too
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def request(self, method: str, path: str, body: Any = None, token: str = "") -> Any:
        """One JSON request that must succeed; the decoded answer, None when empty."""
        status, raw = self.fetch(method, path, body, token)
        if not 200 <= status < 300:
            raise ServerError(f"{self.name}: {method} {path} answered {status}: {raw[:200]!r}")
        return json.loads(raw) if raw else None

    def login(self) -> str:
        """A token for admin/admin."""
        answer = self.request("POST", "/@login", {"login": "admin", "password": "admin"})
        return str(answer["token"])

    def rss(self) -> dict[str, int]:
        """Resident memory now and at its peak, in bytes, from /proc/PID/status."""
        fields = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
        return fields


def python_module(module: str, *args: str) -> list[str]:
    """The command that runs `python -m module args` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def baseline(data: Path) -> ServerProcess:
    """The bare route over the jobs in `data`."""
    # The harness runs from a checkout, not an install: the child finds `benchmarks` wherever it is started.
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    return ServerProcess("bare", python_module("benchmarks.baseline", "--port", "0", "--data", str(data)), env=env)


def mock(data: Path | None, *, frozen: bool = True, options: Sequence[str] = ()) -> ServerProcess:
    """The mock over the jobs in `data` (its own starting data when None), clock frozen by default."""
    args = ["--port", "0", *options]
    if data is not None:
        args += ["--data", str(data)]
    if frozen:
        args.append("--frozen")
    return ServerProcess("mock", python_module("mockserver", *args))


def mock_available() -> str | None:
    """None when `python -m mockserver` runs; otherwise why it does not."""
    try:
        run = subprocess.run(python_module("mockserver", "--help"), capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "`python -m mockserver --help` did not answer in 60 s"
    if run.returncode != 0:
        lines = (run.stderr or run.stdout).strip().splitlines()
        return f"`python -m mockserver --help` failed: {lines[-1] if lines else run.returncode}"
    return None


def peer(name: str, workdir: Path, jobs: list[dict[str, Any]]) -> ServerProcess:
    """A peer (benchmarks/peers.py) serving the jobs API over `jobs`, configured in `workdir`, on a free port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    workdir.mkdir(parents=True, exist_ok=True)
    command = BY_NAME[name].configure(workdir, jobs, url, port)
    return ServerProcess(name, command, url=url, log=workdir / "output.log")
