"""The Docker image, built and run for real: jobs-mock by default, non-root, healthy, and conformant.

Needs a Docker daemon; containers run with `--network host` (the daemons of these machines have no
bridge). With no image registry at hand, the base image is built once from Debian's packages
(`.ci/base-image`, kept by name) and the kit is installed from wheels built here, so the image build
needs no network. Under CI (`CI=true`, or JOBS_KIT_REQUIRE_DOCKER=1 as `.ci/run` sets it) an
unusable Docker fails these tests instead of skipping them.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.helpers import ROOT, source_copy, source_files

BASE = os.environ.get("JOBS_KIT_DOCKER_BASE", "jobs-kit-base:bookworm")
WHEELS = "build/docker-wheels"  # inside the build context (.dockerignore lets it in)
STAGE_LABEL = "org.nick-jobs-kit.stage=build"
REPOSITORY = "nick-jobs-kit"
DOCKER = shutil.which("docker")
REQUIRED = os.environ.get("CI") == "true" or os.environ.get("JOBS_KIT_REQUIRE_DOCKER") == "1"
MAX_IMAGE_MB = 350


def _unusable() -> str | None:
    """Why Docker cannot be used here, or None."""
    if DOCKER is None:
        return "no docker command on PATH (Debian: apt-get install docker.io)"
    info = subprocess.run(
        [DOCKER, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=60
    )
    if info.returncode != 0:
        last = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        return f"no Docker daemon answers ({last}); .ci/run starts one"
    return None


MISSING = _unusable()
pytestmark = pytest.mark.skipif(MISSING is not None and not REQUIRED, reason=f"Docker tests skipped: {MISSING}")


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a docker command; fail the test with its output when it fails and `check`."""
    assert DOCKER is not None
    result = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        pytest.fail(f"docker {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def _run(args: list[str], timeout: float) -> None:
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The kit's image, built from the Dockerfile on the local base image with wheels built here.

    Kept between runs under a tag naming what went into it (base image, Dockerfile, context): a
    run with nothing changed reuses it, a change builds afresh and removes the older test images.
    """
    if MISSING is not None:
        pytest.fail(f"Docker is required here (CI) but {MISSING}")
    if docker("image", "inspect", BASE, check=False).returncode != 0:
        _run([str(ROOT / ".ci" / "base-image"), BASE], timeout=900)  # once per machine: about a minute
    tag = f"{REPOSITORY}:test-{_digest()}"
    if docker("image", "inspect", tag, check=False).returncode == 0:
        return tag
    shutil.rmtree(ROOT / WHEELS, ignore_errors=True)
    source = source_copy(tmp_path_factory.mktemp("docker"))  # not the tree: a stale build/ could leak into the wheel
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", str(source), "--wheel-dir", WHEELS], timeout=600)
    build = [
        "build",
        "--quiet",
        "--build-arg",
        f"BASE={BASE}",
        "--build-arg",
        f"WHEELS={WHEELS}",
        "--tag",
        tag,
        str(ROOT),
    ]
    docker(*build, timeout=900)
    for old in docker("images", REPOSITORY, "--format", "{{.Repository}}:{{.Tag}}").stdout.split():
        if old != tag and old.startswith(f"{REPOSITORY}:test-"):
            docker("rmi", "--force", old, check=False)
    docker("image", "prune", "--force", "--filter", f"label={STAGE_LABEL}", check=False)
    return tag


def _digest() -> str:
    """What the image is made of: the base image's id, the Dockerfile and the build context's files."""
    digest = hashlib.sha256(docker("image", "inspect", "--format", "{{.Id}}", BASE).stdout.encode())
    docker_files = [
        Path("Dockerfile"),
        Path(".dockerignore"),
        *sorted(p.relative_to(ROOT) for p in (ROOT / "docker").iterdir()),
    ]
    # Not the README: it reaches the image only as the wheel's description.
    for name in [*docker_files, *(name for name in source_files() if name != Path("README.md"))]:
        digest.update(str(name).encode() + b"\0" + (ROOT / name).read_bytes())
    return digest.hexdigest()[:12]


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def containers() -> Iterator[list[str]]:
    """Names of the containers a test starts: removed afterwards, whatever happened."""
    names: list[str] = []
    yield names
    for name in names:
        docker("rm", "--force", name, check=False)


def start(containers: list[str], image: str, port: int, *command: str, hosts: tuple[str, ...] = ()) -> str:
    """A detached container on the host's network, its healthcheck every second; its name. `hosts`: NAME:ADDRESS
    lines for its /etc/hosts (what a compose network's names would resolve to)."""
    name = f"jobs-kit-test-{os.getpid()}-{len(containers)}"
    containers.append(name)
    docker(
        "run",
        "--detach",
        "--name",
        name,
        "--network",
        "host",
        *(option for host in hosts for option in ("--add-host", host)),
        "--env",
        f"PORT={port}",
        "--health-interval",
        "1s",
        image,
        *command,
    )
    return name


def wait_healthy(name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (status := docker("inspect", "--format", "{{.State.Health.Status}}", name).stdout.strip()) != "healthy":
        if time.monotonic() > deadline:
            logs = docker("logs", name, check=False)
            pytest.fail(f"{name} is {status} after {timeout} s:\n{logs.stdout}\n{logs.stderr}")
        time.sleep(0.5)


def test_image__the_mock_by_default_healthy_and_conformant_and_the_proxy_in_front_of_it(
    image: str, containers: list[str]
) -> None:
    port, proxied = unused_port(), unused_port()
    mock = start(containers, image, port)
    wait_healthy(mock)
    assert requests.get(f"http://127.0.0.1:{port}/openapi.yaml", timeout=10).status_code == 200
    assert requests.get(f"http://127.0.0.1:{port}/docs/assets/swagger-ui-bundle.js", timeout=10).status_code == 200
    assert docker("exec", mock, "id", "-u").stdout.strip() == "10001", "not root"
    assert docker("exec", mock, "jobs-proxy", "--version").stdout.startswith("jobs-proxy 0.")

    # The suite from the image, in the mock's container (a container costs a copy of the image on vfs).
    suite = docker(
        "exec", mock,
        "jobs-conformance", "--base-url", f"http://127.0.0.1:{port}", "--fixtures", "mock", "--require", "all",
        timeout=300, check=False,
    )  # fmt: skip
    assert suite.returncode == 0, suite.stdout + suite.stderr
    assert "CONFORMANT: " in suite.stdout

    proxy = start(
        containers, image, proxied, "jobs-proxy", "--upstream", f"http://127.0.0.1:{port}", "--port", str(proxied)
    )
    wait_healthy(proxy)
    assert requests.get(f"http://127.0.0.1:{proxied}/@jobs", timeout=10).status_code == 401
    docker("stop", "--time", "20", proxy)
    logs = docker("logs", proxy).stdout  # the report at exit, on SIGTERM: the 401, and the healthchecks' requests
    assert re.search(
        r"NO VIOLATIONS in \d+ exchanges: .*; 1 exchanges of the spec's operations, \d+ outside it", logs
    ), logs
    assert docker("inspect", "--format", "{{.State.ExitCode}}", proxy).stdout.strip() == "0"


def test_image__the_compose_set_up__the_proxy_reaches_the_mock_by_its_service_name(
    image: str, containers: list[str]
) -> None:
    """The docs' compose file: the mock answers its service name (--allowed-host jobs-api), the proxy names it so.

    The daemon here has no bridge network, so the name resolves as compose's would, through --add-host.
    """
    port, proxied = unused_port(), unused_port()
    mock = start(
        containers, image, port, "jobs-mock", "--host", "0.0.0.0", "--port", str(port), "--allowed-host", "jobs-api"
    )
    proxy = start(
        containers, image, proxied,
        "jobs-proxy", "--upstream", f"http://jobs-api:{port}", "--host", "0.0.0.0", "--port", str(proxied),
        hosts=("jobs-api:127.0.0.1",),
    )  # fmt: skip
    wait_healthy(mock)
    wait_healthy(proxy)
    login = requests.post(
        f"http://localhost:{proxied}/@login", json={"login": "admin", "password": "admin"}, timeout=10
    )
    assert login.status_code == 200, login.text
    jobs = requests.get(
        f"http://localhost:{proxied}/@jobs", headers={"Authorization": f"Bearer {login.json()['token']}"}, timeout=10
    )
    assert jobs.status_code == 200 and jobs.json(), jobs.text
    assert all(job["@id"].startswith(f"http://localhost:{proxied}/") for job in jobs.json() if "@id" in job)
    rebound = requests.get(f"http://127.0.0.1:{proxied}/@jobs", headers={"Host": "attacker.example"}, timeout=10)
    assert rebound.status_code == 403 and "--allowed-host attacker.example" in rebound.text


def test_image__runs_any_of_its_commands(image: str) -> None:
    result = docker("run", "--rm", "--no-healthcheck", image, "jobs-conformance", "--version")
    assert result.stdout.startswith("jobs-conformance 0."), result.stdout


def test_image__is_small(image: str) -> None:
    size = int(docker("image", "inspect", "--format", "{{.Size}}", image).stdout)
    assert size < MAX_IMAGE_MB * 10**6, f"{size / 10**6:.0f} MB"
