"""An upstream that answers in raw bytes, broken HTTP included: what no HTTP library would let a server send.

Each path is answered as the test says: bytes sent and the connection closed (the same each time, or
made afresh for each request), bytes sent and the connection reset, or no answer at all (the
connection held open). Every request's head is kept,
as it arrived, so a test can see what a proxy sent on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.helpers import ThreadedServer

NEVER = None  # the path is never answered
HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True)
class Reset:
    """Send these bytes, then reset the connection (RST) instead of closing it."""

    sent: bytes


Answer = bytes | Reset | Callable[[], bytes] | None


def answer(status: int, body: Any = None, *, headers: bytes = b"") -> bytes:
    """A well-formed JSON answer, `headers` (raw header lines, each ending CRLF) added to it."""
    raw = json.dumps(body).encode() if body is not None else b""
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(raw)}\r\n".encode()
    return head + headers + b"Connection: close\r\n\r\n" + raw


class RawUpstream(ThreadedServer):
    """On 127.0.0.1, in a thread of its own: `answers` maps a request's path to its `Answer`."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers
        self.url = ""
        self.heads: list[bytes] = []  # every request's head, as it arrived
        super().__init__("raw-upstream")
        self._server: asyncio.Server | None = None
        self._held: set[asyncio.StreamWriter] = set()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._held:
            writer.transport.abort()
        await self._server.wait_closed()

    def paths(self) -> list[str]:
        """The path of every request received, in order."""
        return [head.split(b" ", 2)[1].decode("latin-1") for head in self.heads]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(HEAD_END)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        self.heads.append(head)
        path = head.split(b" ", 2)[1].decode("latin-1").split("?", 1)[0]
        given = self.answers.get(path, answer(404, {"error": f"Not found: {path}"}))
        if given is NEVER:
            self._held.add(writer)  # held open, unanswered, until the server stops
            return
        writer.write(given.sent if isinstance(given, Reset) else given() if callable(given) else given)
        await writer.drain()
        if isinstance(given, Reset):
            writer.transport.abort()
        else:
            writer.close()
