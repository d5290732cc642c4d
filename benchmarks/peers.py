"""The mocks users would pick instead of jobs-mock, installed from npm and configured to serve the same jobs API.

- Prism (`@stoplight/prism-cli`): a copy of the packaged spec (spec/jobs.yaml) whose examples are the
  scenario's jobs: the list's example is the whole list, getJob's the first job (Prism answers every
  id with it), login and renew the spec's own token example.
- Mockoon (`@mockoon/cli`): an environment with one route per answer: login, renew, logout, the list,
  one route per job (its body with `@id`, as a recording makes them), and abort, retry and delete
  as `:id` routes answering 204; templating off (the bodies are static).
- WireMock (the standalone jar of npm's `wiremock`, run with `java -jar`): the same stubs as
  mappings; the performance settings its documentation gives for load tests (no request journal,
  no request logging).
- json-server (`json-server` 0.17): the jobs as its database, `/@jobs` rewritten to its `/jobs`
  collection (keyed by `uuid`): it serves the list and one job, not login or the jobs operations.

Each is installed once into a cache directory (`npm install --prefix`, pinned versions, see
`PACKAGES`): `python -m benchmarks.peers install` (or `.ci/peers`), or by `python -m benchmarks
--peers` when they are missing. Each runs with its quietest logging, on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmarks.baseline import TOKEN, dump

DEFAULT_DIR = Path.home() / ".cache" / "nick-bench-peers"
SPEC = Path(__file__).resolve().parent.parent / "spec" / "jobs.yaml"
# The versions measured: npm package -> exact version (what `install` installs and the report names).
PACKAGES = {
    "@stoplight/prism-cli": "5.16.0",
    "@mockoon/cli": "9.9.0",
    "wiremock": "3.13.2",
    "json-server": "0.17.4",
}
MOCKOON_MIGRATION = 33  # the environment format @mockoon/cli 9.9 reads without migrating (its HighestMigrationId)
JSON = "application/json"


class PeerError(RuntimeError):
    """A peer could not be installed or configured."""


def directory() -> Path:
    """Where the peers are installed: $NICK_BENCH_PEERS, else ~/.cache/nick-bench-peers."""
    return Path(os.environ.get("NICK_BENCH_PEERS") or DEFAULT_DIR)


@dataclass(frozen=True)
class Answer:
    """One static answer of the jobs API: what a stub, a route or a mapping says."""

    method: str
    path: str  # a literal path, or one with ":id" for any job
    status: int
    body: bytes | None = None
    name: str = ""  # the operation, for people reading a generated file

    @property
    def pattern(self) -> bool:
        """Whether the path stands for any job's (":id")."""
        return ":id" in self.path


def answers(jobs: list[dict[str, Any]], base_url: str) -> list[Answer]:
    """The jobs API over `jobs` as fixed answers, the operations first and then one answer per job.

    The bytes are the bare route's (benchmarks/baseline.py): the same token, the same list, and each
    job with its `@id` built for `base_url`, as the bare route and the mock build it from Host.
    """
    token = dump({"token": TOKEN})
    fixed = [
        Answer("POST", "/@login", 200, token, "login"),
        Answer("POST", "/@login-renew", 200, token, "renewLogin"),
        Answer("POST", "/@logout", 204, None, "logout"),
        Answer("GET", "/@jobs", 200, dump(jobs), "getJobs"),
        Answer("POST", "/@jobs/:id/abort", 204, None, "abortJob"),
        Answer("POST", "/@jobs/:id/retry", 204, None, "retryJob"),
        Answer("DELETE", "/@jobs/:id", 204, None, "deleteJob"),
    ]
    return fixed + [Answer("GET", f"/@jobs/{job['uuid']}", 200, job_body(job, base_url), "getJob") for job in jobs]


def job_body(job: dict[str, Any], base_url: str) -> bytes:
    """One job as getJob answers it: `@id` first, then the job (the bare route's bytes)."""
    return dump({"@id": f"{base_url}/@jobs/{job['uuid']}", **job})


@dataclass(frozen=True)
class Peer:
    """A mock users might pick instead: how to install, configure and start it, and what it can serve."""

    name: str  # as --servers and the report's JSON name it
    title: str  # as the report's tables name it
    package: str  # the npm package
    operations: frozenset[str]  # the scenarios it serves (benchmarks/scenarios.py names)
    configure: Callable[[Path, list[dict[str, Any]], str, int], list[str]]  # (dir, jobs, base, port) -> command
    description: str  # how it is set up, for the report

    @property
    def version(self) -> str:
        """The version installed (the pinned one when not installed)."""
        manifest = directory() / "node_modules" / self.package / "package.json"
        try:
            return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
        except (OSError, ValueError, KeyError):
            return PACKAGES[self.package]

    @property
    def runtime(self) -> str:
        """What it runs on: node's or java's version."""
        return runtime("java" if self.name == "wiremock" else "node")

    def unavailable(self) -> str | None:
        """None when the peer can run here; otherwise why not."""
        if not (directory() / "node_modules" / self.package / "package.json").exists():
            return f"{self.package} is not installed in {directory()} (python -m benchmarks.peers install)"
        if self.name == "wiremock" and not shutil.which("java"):
            return "java is not installed (WireMock runs on Java 11 or later)"
        if not shutil.which("node"):
            return "node is not installed"
        return None


API = frozenset({"get-job", "list-small", "list-large", "abort", "retry", "delete", "login", "renew", "logout"})
READS = frozenset({"get-job", "list-small", "list-large"})


@functools.cache
def runtime(program: str) -> str:
    """`node v20.20.2`, `java 17.0.15`: the version a peer's runtime reports; the name alone when it does not run."""
    try:
        run = subprocess.run(
            [program, "-version" if program == "java" else "--version"], capture_output=True, text=True
        )
    except OSError:
        return program
    words = (run.stderr if program == "java" else run.stdout).split()
    version = words[2].strip('"') if program == "java" and len(words) > 2 else (words[0] if words else "")
    return f"{program} {version}".strip()


def _bin(name: str) -> str:
    return str(directory() / "node_modules" / ".bin" / name)


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# Prism ------------------------------------------------------------------------------------------------


def prism_spec(jobs: list[dict[str, Any]], base_url: str) -> dict[str, Any]:
    """The packaged spec with the scenario's jobs as its examples: the list, and the first job for getJob."""
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    paths = spec["paths"]
    listing = paths["/@jobs"]["get"]["responses"]["200"]["content"][JSON]
    listing["examples"] = {"benchmark": {"summary": "The benchmark's jobs", "value": jobs}}
    if jobs:
        one = paths["/@jobs/{id}"]["get"]["responses"]["200"]["content"][JSON]
        one["examples"] = {"benchmark": {"summary": "The first job", "value": json.loads(job_body(jobs[0], base_url))}}
    return dict(spec)


def _prism(workdir: Path, jobs: list[dict[str, Any]], base_url: str, port: int) -> list[str]:
    spec = _write(workdir / "prism-spec.json", prism_spec(jobs, base_url))
    return [_bin("prism"), "mock", "--host", "127.0.0.1", "--port", str(port), "--verboseLevel", "silent", str(spec)]


# Mockoon ----------------------------------------------------------------------------------------------


def mockoon_environment(jobs: list[dict[str, Any]], base_url: str, port: int) -> dict[str, Any]:
    """A Mockoon environment answering the jobs API over `jobs`: one route per answer, templating off."""
    routes = [_mockoon_route(answer) for answer in answers(jobs, base_url)]
    return {
        "uuid": str(uuid.uuid4()),
        "lastMigration": MOCKOON_MIGRATION,
        "name": "Nick jobs API (benchmark)",
        "endpointPrefix": "",
        "latency": 0,
        "port": port,
        "hostname": "127.0.0.1",
        "folders": [],
        "routes": routes,
        "rootChildren": [{"type": "route", "uuid": route["uuid"]} for route in routes],
        "proxyMode": False,
        "proxyHost": "",
        "proxyRemovePrefix": False,
        "tlsOptions": {
            "enabled": False,
            "type": "CERT",
            "pfxPath": "",
            "certPath": "",
            "keyPath": "",
            "caPath": "",
            "passphrase": "",
        },
        "cors": True,
        "headers": [],
        "proxyReqHeaders": [],
        "proxyResHeaders": [],
        "data": [],
        "callbacks": [],
    }


def _mockoon_route(answer: Answer) -> dict[str, Any]:
    response = {
        "uuid": str(uuid.uuid4()),
        "body": answer.body.decode() if answer.body is not None else "",
        "latency": 0,
        "statusCode": answer.status,
        "label": answer.name,
        "headers": [{"key": "Content-Type", "value": JSON}] if answer.body is not None else [],
        "bodyType": "INLINE",
        "filePath": "",
        "databucketID": "",
        "sendFileAsBody": False,
        "rules": [],
        "rulesOperator": "OR",
        "disableTemplating": True,
        "fallbackTo404": False,
        "default": True,
        "crudKey": "id",
        "callbacks": [],
    }
    return {
        "uuid": str(uuid.uuid4()),
        "type": "http",
        "documentation": answer.name,
        "method": answer.method.lower(),
        "endpoint": answer.path.lstrip("/"),
        "responses": [response],
        "responseMode": None,
        "streamingMode": None,
        "streamingInterval": 0,
    }


def _mockoon(workdir: Path, jobs: list[dict[str, Any]], base_url: str, port: int) -> list[str]:
    environment = _write(workdir / "mockoon-environment.json", mockoon_environment(jobs, base_url, port))
    return [_bin("mockoon-cli"), "start", "--data", str(environment), "--port", str(port), "--disable-log-to-file"]


# WireMock ---------------------------------------------------------------------------------------------


def wiremock_mappings(jobs: list[dict[str, Any]], base_url: str) -> dict[str, Any]:
    """WireMock stubs answering the jobs API: the operations first (priority 1), then one stub per job."""
    return {"mappings": [_wiremock_stub(answer) for answer in answers(jobs, base_url)]}


def _wiremock_stub(answer: Answer) -> dict[str, Any]:
    request: dict[str, Any] = {"method": answer.method}
    if answer.pattern:
        request["urlPathPattern"] = answer.path.replace(":id", "[^/]+")
    else:
        request["urlPath"] = answer.path
    response: dict[str, Any] = {"status": answer.status}
    if answer.body is not None:
        response |= {"body": answer.body.decode(), "headers": {"Content-Type": JSON}}
    # A job's own stub comes after the operations: WireMock takes the first match in priority order.
    return {
        "name": answer.name,
        "priority": 5 if answer.name == "getJob" else 1,
        "request": request,
        "response": response,
    }


def wiremock_jar() -> Path:
    """The standalone jar npm's `wiremock` package ships."""
    jars = sorted((directory() / "node_modules" / "wiremock" / "build").glob("wiremock-standalone-*.jar"))
    if not jars:
        raise PeerError(f"no wiremock-standalone jar under {directory()}/node_modules/wiremock/build")
    return jars[-1]


def _wiremock(workdir: Path, jobs: list[dict[str, Any]], base_url: str, port: int) -> list[str]:
    root = workdir / "wiremock"
    (root / "mappings").mkdir(parents=True, exist_ok=True)
    (root / "__files").mkdir(exist_ok=True)
    _write(root / "mappings" / "jobs.json", wiremock_mappings(jobs, base_url))
    return [
        "java",
        "-jar",
        str(wiremock_jar()),
        "--bind-address",
        "127.0.0.1",
        "--port",
        str(port),
        "--root-dir",
        str(root),
        "--no-request-journal",
        "--disable-request-logging",
        "--disable-banner",
    ]


# json-server ------------------------------------------------------------------------------------------


def _json_server(workdir: Path, jobs: list[dict[str, Any]], base_url: str, port: int) -> list[str]:
    database = _write(workdir / "json-server-db.json", {"jobs": jobs})
    routes = _write(workdir / "json-server-routes.json", {"/@jobs": "/jobs", "/@jobs/:id": "/jobs/:id"})
    return [
        _bin("json-server"),
        str(database),
        "--routes",
        str(routes),
        "--id",
        "uuid",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--quiet",
    ]


PEERS = (
    Peer(
        "prism",
        "Prism",
        "@stoplight/prism-cli",
        API,
        _prism,
        "`prism mock` of the packaged spec with the scenario's jobs as the examples of the list and of getJob "
        "(every id answers the first job), the spec's token example for login and renew; it validates each "
        "request against the spec; --verboseLevel silent",
    ),
    Peer(
        "mockoon",
        "Mockoon",
        "@mockoon/cli",
        API,
        _mockoon,
        "`mockoon-cli start` of a generated environment: a route per answer (login, renew, logout, the list, one per "
        "job with its @id) and `:id` routes for abort, retry and delete (204), templating off; "
        "--disable-log-to-file (it still logs every request to stdout, which has no switch; sent to a file)",
    ),
    Peer(
        "wiremock",
        "WireMock",
        "wiremock",
        API,
        _wiremock,
        "`java -jar` of the standalone jar npm's wiremock ships, with the same answers as stubs (a stub per job; "
        "urlPathPattern stubs for abort, retry, delete), --no-request-journal --disable-request-logging as its "
        "documentation advises for load tests",
    ),
    Peer(
        "json-server",
        "json-server",
        "json-server",
        READS,
        _json_server,
        "the jobs as its database (--id uuid), /@jobs routed to its /jobs; it serves the list and one job only "
        "(pretty-printed, without @id), not login or the jobs operations; --quiet",
    ),
)
BY_NAME = {peer.name: peer for peer in PEERS}


def free_port() -> int:
    """A port nothing listens on now (the peers take their port on the command line)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def install(target: Path | None = None, packages: Iterable[str] = PACKAGES) -> Path:
    """`npm install --prefix` the pinned peers into `target` (the default directory); return it."""
    target = target or directory()
    npm = shutil.which("npm")
    if npm is None:
        raise PeerError("npm is not installed (apt-get install npm)")
    target.mkdir(parents=True, exist_ok=True)
    manifest = target / "package.json"
    if not manifest.exists():
        manifest.write_text(json.dumps({"private": True, "description": "jobs-mock's benchmark peers"}) + "\n")
    specs = [f"{name}@{PACKAGES[name]}" for name in packages]
    command = [npm, "install", "--prefix", str(target), "--save-exact", "--no-audit", "--no-fund", *specs]
    print(f"installing the benchmark's peers: {' '.join(specs)} into {target}", file=sys.stderr, flush=True)
    run = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if run.returncode != 0:
        raise PeerError(f"npm install failed ({run.returncode}): {(run.stderr or run.stdout).strip()[-2000:]}")
    return target


def missing() -> list[str]:
    """The pinned packages not installed (or installed at another version)."""
    return [name for name, version in PACKAGES.items() if _installed(name) != version]


def _installed(package: str) -> str | None:
    try:
        manifest = directory() / "node_modules" / package / "package.json"
        return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return None


def main(argv: list[str] | None = None) -> int:
    """`install` the peers, or `list` them with their versions."""
    cli = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=main.__doc__)
    cli.add_argument("action", choices=("install", "list"))
    args = cli.parse_args(argv)
    if args.action == "install" and (wanted := missing()):
        try:
            install(packages=wanted)
        except PeerError as error:
            print(error, file=sys.stderr)
            return 1
    for peer in PEERS:
        print(f"{peer.name}: {peer.package} {_installed(peer.package) or 'not installed'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
