"""The Docker image, built and run for real: jobs-mock by default, non-root, healthy, and conformant.

Needs a Docker daemon; containers run with `--network host` (the daemons of these machines have no
bridge). With no image registry at hand, the base image is built once from Debian's packages
(`.ci/base-image`, kept by name) and the kit is installed from wheels built here, so the image build
needs no network. Under CI (`CI=true`, or JOBS_KIT_REQUIRE_DOCKER=1 as `.ci/run` sets it) an
unusable Docker fails these tests instead of skipping them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from tests.helpers import ROOT, source_copy

BASE = os.environ.get("JOBS_KIT_DOCKER_BASE", "jobs-kit-base:bookworm")
WHEELS = "build/docker-wheels"  # inside the build context (.dockerignore lets it in)
STAGE_LABEL = "org.nick-jobs-kit.stage=build"
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
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The kit's image, built from the Dockerfile on the local base image with wheels built here."""
    if MISSING is not None:
        pytest.fail(f"Docker is required here (CI) but {MISSING}")
    if docker("image", "inspect", BASE, check=False).returncode != 0:
        _run([str(ROOT / ".ci" / "base-image"), BASE], timeout=900)  # once per machine: about a minute
    shutil.rmtree(ROOT / WHEELS, ignore_errors=True)
    source = source_copy(tmp_path_factory.mktemp("docker"))  # not the tree: a stale build/ could leak into the wheel
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", str(source), "--wheel-dir", WHEELS], timeout=600)
    tag = f"nick-jobs-kit:test-{os.getpid()}"
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
    yield tag
    docker("rmi", "--force", tag, check=False)
    docker("image", "prune", "--force", "--filter", f"label={STAGE_LABEL}", check=False)


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


def start(containers: list[str], image: str, port: int, *command: str) -> str:
    """A detached container on the host's network, its healthcheck every second; its name."""
    name = f"jobs-kit-test-{os.getpid()}-{len(containers)}"
    containers.append(name)
    docker(
        "run",
        "--detach",
        "--name",
        name,
        "--network",
        "host",
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

    suite = docker(
        "run", "--rm", "--no-healthcheck", "--network", "host", image,
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
    logs = docker("logs", proxy).stdout
    assert "NO VIOLATIONS in 2 exchanges" in logs, (
        logs
    )  # the healthcheck's /openapi.yaml, outside the spec, and the 401
    assert docker("inspect", "--format", "{{.State.ExitCode}}", proxy).stdout.strip() == "0"


@pytest.mark.parametrize("command", ["jobs-conformance", "jobs-proxy"])
def test_image__every_command_runs_from_it(image: str, command: str) -> None:
    result = docker("run", "--rm", "--no-healthcheck", image, command, "--version")
    assert result.stdout.startswith(f"{command} 0."), result.stdout


def test_image__is_small(image: str) -> None:
    size = int(docker("image", "inspect", "--format", "{{.Size}}", image).stdout)
    assert size < MAX_IMAGE_MB * 10**6, f"{size / 10**6:.0f} MB"
