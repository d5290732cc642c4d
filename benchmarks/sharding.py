"""Several jobs-mock processes behind nginx, which hashes on the session so each session stays on one process."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

NGINX = "/usr/sbin/nginx"

# The part a deployment copies (README, "Sharding"): the session from the header, else from the path prefix;
# requests naming none share one key, so the mock's shared state lives on one process too.
ROUTING = """
    map $uri $mock_session_from_path {
        "~^/__session/(?<name>[^/]+)/" $name;
        default "";
    }
    map $http_x_mock_session $mock_session {
        "" $mock_session_from_path;
        default $http_x_mock_session;
    }
    upstream jobs_mocks {
        hash $mock_session consistent;
%(servers)s
        keepalive 64;
    }
"""


def nginx_path() -> str | None:
    """nginx's executable, if installed (Debian's package: /usr/sbin/nginx)."""
    return shutil.which("nginx") or (NGINX if Path(NGINX).exists() else None)


def config(listen_port: int, backends: list[str], workdir: Path) -> str:
    """A whole nginx.conf for an unprivileged nginx on loopback, its files under `workdir`."""
    servers = "\n".join(f"        server {backend.removeprefix('http://')};" for backend in backends)
    temp = "\n".join(
        f"    {kind}_temp_path {workdir}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temp}
{ROUTING % {"servers": servers}}
    server {{
        listen 127.0.0.1:{listen_port};
        location / {{
            proxy_pass http://jobs_mocks;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_buffering off;
        }}
    }}
}}
"""


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Nginx:
    """nginx in the foreground with a generated configuration, in front of `backends`."""

    def __init__(self, backends: list[str], workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = workdir / "nginx.conf"
        self.conf.write_text(config(self.port, backends, workdir))
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Nginx:
        """Start it and wait until it accepts connections."""
        executable = nginx_path()
        if executable is None:
            raise RuntimeError("nginx is not installed (Debian: apt-get install nginx)")
        command = [executable, "-p", str(self.workdir), "-c", str(self.conf), "-e", str(self.workdir / "error.log")]
        self._process = subprocess.Popen([*command, "-g", "daemon off;"], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"nginx exited: {self._process.stderr.read().decode() if self._process.stderr else ''}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not listen within 20 s")

    def stop(self) -> None:
        """Stop it (SIGTERM: a fast shutdown) and wait."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=20)

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
