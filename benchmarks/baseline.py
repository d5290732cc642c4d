"""The bare route: aiohttp serving pre-serialised JSON, no validation, no auth; the practical limit.

Run as its own process, like the mock: `python -m benchmarks.baseline --port 0 --data FILE`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web

# What `POST /@login` answers: a fixed token the size of the mock's (an HS256 JWT with sub, fullname, iat, exp).
TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiIsImZ1bGxuYW1lIjoiQWRtaW4iLCJpYXQiOjE3OTU4MjQwMDAs"
    "ImV4cCI6MTc5NTg2NzIwMH0.4tq0Xw1oNvUQ3kKl1l2cP8m8dI4dHk0I2pQ2r8v3b6E"
)


def dump(data: Any) -> bytes:
    """Compact JSON, as the mock writes it: the same bytes on the wire for the same jobs."""
    return json.dumps(data, separators=(",", ":")).encode()


NOT_FOUND = dump({"error": {"type": "Not found", "message": "Job not found."}})


class Bodies:
    """Every answer serialised once, at start-up."""

    def __init__(self, jobs: list[dict[str, Any]]) -> None:
        self.listing = dump(jobs)
        # A job minus its opening brace: `@id` goes in front, built from the request's Host.
        self.job_tails = {job["uuid"]: dump(job)[1:] for job in jobs}
        self.token = dump({"token": TOKEN})
        self.template = jobs[0] if jobs else {}
        self.created: list[bytes] = []


BODIES = web.AppKey("bodies", Bodies)


async def get_jobs(request: web.Request) -> web.Response:
    return web.Response(body=request.app[BODIES].listing, content_type="application/json")


async def get_job(request: web.Request) -> web.Response:
    job_id = request.match_info["id"]
    tail = request.app[BODIES].job_tails.get(job_id)
    if tail is None:
        return web.Response(status=404, body=NOT_FOUND, content_type="application/json")
    head = dump({"@id": f"{request.scheme}://{request.host}/@jobs/{job_id}"})[:-1]
    return web.Response(body=head + b"," + tail, content_type="application/json")


async def no_content(request: web.Request) -> web.Response:
    """abort, retry, delete, logout: what the jobs API answers them with, nothing."""
    return web.Response(status=204)


async def login(request: web.Request) -> web.Response:
    """login and renew: a token."""
    await request.read()
    return web.Response(body=request.app[BODIES].token, content_type="application/json")


async def create_job(request: web.Request) -> web.Response:
    """The control API's create, bare: the first job with the fields given and a new id, kept and answered."""
    bodies = request.app[BODIES]
    bodies.created.append(dump({**bodies.template, **await request.json(), "uuid": str(uuid.uuid4())}))
    return web.Response(status=201, body=bodies.created[-1], content_type="application/json")


def create_app(jobs: list[dict[str, Any]]) -> web.Application:
    """The bare app over `jobs`: the routes the benchmark drives, answering from `Bodies`."""
    app = web.Application()
    app[BODIES] = Bodies(jobs)
    app.router.add_routes(
        [
            web.get("/@jobs", get_jobs),
            web.get("/@jobs/{id}", get_job),
            web.post("/@jobs/{id}/abort", no_content),
            web.post("/@jobs/{id}/retry", no_content),
            web.delete("/@jobs/{id}", no_content),
            web.post("/@login", login),
            web.post("/@login-renew", login),
            web.post("/@logout", no_content),
            web.post("/__mock__/jobs", create_job),
        ]
    )
    return app


async def serve(app: web.Application, host: str, port: int) -> None:
    """Serve `app` until SIGTERM or SIGINT, announcing the bound address as the mock does."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    print(f"Listening on http://{bound[0]}:{bound[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Serve the bare routes over the jobs of `--data`."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.baseline", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data", type=Path, help="JSON list of jobs (the mock's --data format)")
    args = parser.parse_args(argv)
    jobs = json.loads(args.data.read_text(encoding="utf-8")) if args.data else []
    asyncio.run(serve(create_app(jobs), args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
