"""Realistic traffic for the proxy's tests: a frontend's session, every answer kept as the client received it."""

from __future__ import annotations

import time
from typing import Any

import requests

from tests.tap import Answer, end_to_end

HELD = {"mock": {"delay": 86400, "duration": 86400}}  # a job the worker leaves where it is
MOVING = 0.15  # seconds a moving job waits in each state: several polls of the list see it there


class Client:
    """A frontend's HTTP client: one session, its token, and every answer's status, headers and raw body."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.token: str | None = None
        self.answers: list[Answer] = []
        self.session = requests.Session()

    def call(self, method: str, path: str, *, body: Any = None, token: str | None = "") -> Any:
        """Send a request; `token` "" means the session's own, None none; the decoded JSON answer, or None."""
        token = self.token if token == "" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.session.request(method, self.base + path, json=body, headers=headers, stream=True)
        raw = response.raw.read(decode_content=False)
        self.answers.append((response.status_code, end_to_end(list(response.raw.headers.items())), raw))
        response._content = raw  # noqa: SLF001 (requests' own cache: the body was read raw above)
        try:
            return response.json() if raw else None
        except ValueError:
            return None

    def job(self, status: str, mock: dict[str, Any] | None = None) -> dict[str, Any]:
        """A job made through the mock's control API (which passes through the proxy too)."""
        made: dict[str, Any] = self.call(
            "POST",
            "/__mock__/jobs",
            body={"title": f"A {status} job", "status": status, "params": mock or HELD},
            token=None,
        )
        return made

    def jobs(self) -> list[dict[str, Any]]:
        """The list, or nothing when it is refused."""
        listed = self.call("GET", "/@jobs")
        return listed if isinstance(listed, list) else []


def frontend_session(base: str, *, watch: float = 0.0) -> Client:
    """Log in (after the usual mistakes), list and read every job, abort, retry, delete, watch, log out."""
    client = Client(base)
    client.call("GET", "/@jobs", token=None)  # before logging in
    client.call("POST", "/@login", body={"login": "admin"}, token=None)  # the form sent without a password
    client.call("POST", "/@login", body={"login": 1, "password": "admin"}, token=None)  # a broken form
    client.call("POST", "/@login", body={"login": "admin", "password": "wrong"}, token=None)
    first = client.call("POST", "/@login", body={"login": "admin", "password": "admin"}, token=None)
    renewed = client.call("POST", "/@login-renew", token=first["token"])
    client.token = renewed["token"] if isinstance(renewed, dict) and "token" in renewed else first["token"]
    held = {status: client.job(status)["uuid"] for status in ("created", "running", "failed")}
    for job in client.jobs():
        client.call("GET", f"/@jobs/{job['uuid']}")
    for action, job_id in (("abort", held["running"]), ("abort", held["created"]), ("retry", held["failed"])):
        client.call("POST", f"/@jobs/{job_id}/{action}")
        client.call("GET", f"/@jobs/{job_id}")
        client.call("POST", f"/@jobs/{job_id}/{action}")  # again: refused now (or already)
    client.call("DELETE", f"/@jobs/{held['failed']}")
    client.call("GET", f"/@jobs/{held['failed']}")
    client.jobs()
    if watch:  # jobs that move while the page polls: made now, so that the polling sees every state they pass
        for outcome in ("completed", "failed"):
            client.job("created", {"mock": {"delay": MOVING, "duration": MOVING, "outcome": outcome}})
    deadline = time.monotonic() + watch
    while time.monotonic() < deadline:  # a page polling the list
        client.jobs()
        time.sleep(0.05)
    client.call("POST", "/@logout")
    client.call("GET", "/@jobs")  # with the token just logged out
    return client
