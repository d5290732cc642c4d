"""A session of a running mock, from its URL alone: light enough for a pytest plugin to import (stdlib only)."""

from __future__ import annotations

import json
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

HEADER = "X-Mock-Session"  # the request header that names a session (mockserver.http.sessions reads it)


def control_call(
    url: str, method: str, path: str, body: Any = None, token: str | None = None, headers: dict[str, str] | None = None
) -> Any:
    """Call the control API of the mock at `url` (`path` under /__mock__/); the decoded JSON answer, or None."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}/__mock__/{path}", data=data, method=method, headers=headers or {})
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("X-Mock-Token", token)
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


@dataclass(frozen=True)
class MockSession:
    """One session of a running mock: where to send a test's requests, and its control API."""

    mock_url: str
    name: str
    token: str | None = None  # the mock's --control-token, if any

    @classmethod
    def create(
        cls,
        mock_url: str,
        name: str | None = None,
        jobs: list[dict[str, Any]] | None = None,
        *,
        token: str | None = None,
    ) -> MockSession:
        """Start a session on the mock at `mock_url` (a fresh name unless given); 409 if the name is taken."""
        name = name or f"s-{uuid.uuid4().hex[:16]}"
        control_call(
            mock_url, "POST", "sessions", {"name": name, **({"jobs": jobs} if jobs is not None else {})}, token
        )
        return cls(mock_url, name, token)

    @property
    def url(self) -> str:
        """The session's base URL (`/__session/NAME`), for clients where only a base URL can be set."""
        return f"{self.mock_url}/__session/{self.name}"

    @property
    def headers(self) -> dict[str, str]:
        """The header that puts a request in this session, for clients that can add one (Playwright, requests)."""
        return {HEADER: self.name}

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the control API in this session; the decoded JSON answer, or None."""
        return control_call(self.mock_url, method, path, body, self.token, self.headers)

    def reset(self) -> None:
        """Back to the session's starting jobs, clock, tokens and faults, with an empty journal."""
        control_call(self.mock_url, "POST", f"sessions/{self.name}/reset", None, self.token)

    def delete(self) -> None:
        """Forget the session."""
        control_call(self.mock_url, "DELETE", f"sessions/{self.name}", None, self.token)
