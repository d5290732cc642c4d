"""A TCP relay on loopback that keeps every byte an upstream sent, to compare with what a proxy's client received."""

from __future__ import annotations

import asyncio
import http.client
import io
from typing import Any

from tests.helpers import ThreadedServer

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding"})
Answer = tuple[int, tuple[tuple[str, str], ...], bytes]


class Tap(ThreadedServer):
    """Relays connections to `port` on 127.0.0.1 and records the bytes coming back, per connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = ""
        self.streams: list[bytearray] = []
        super().__init__("tap")
        self._server: asyncio.Server | None = None
        self._relays: set[asyncio.Task[None]] = set()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _stop(self) -> None:
        """Stop listening and end every relay still open, so no transport outlives the loop."""
        assert self._server is not None
        self._server.close()
        for task in self._relays:
            task.cancel()
        await asyncio.gather(*self._relays, return_exceptions=True)
        await self._server.wait_closed()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._relays.add(task)
        upstream_writer = None
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.port)
            record = bytearray()
            self.streams.append(record)
            await asyncio.gather(
                _pump(client_reader, upstream_writer, None), _pump(upstream_reader, client_writer, record)
            )
        finally:
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    writer.close()
            self._relays.discard(task)

    def answers(self) -> list[Answer]:
        """Every response the upstream sent, parsed: status, end-to-end headers, body as sent (not decoded)."""
        return [answer for stream in self.streams for answer in parse(bytes(stream))]


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: bytearray | None) -> None:
    try:
        while chunk := await reader.read(65536):
            if record is not None:
                record += chunk
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


class _Bytes(io.BytesIO):
    """A response stream http.client may not close: the next response follows on it."""

    def close(self) -> None:
        pass

    def makefile(self, *_: Any) -> _Bytes:
        return self


def parse(data: bytes) -> list[Answer]:
    """The HTTP/1.1 responses in a byte stream, in order (bodies de-chunked, not decoded)."""
    stream, answers = _Bytes(data), []
    while stream.tell() < len(data):
        response = http.client.HTTPResponse(stream)  # type: ignore[arg-type]
        response.begin()
        body = response.read()
        answers.append((response.status, end_to_end(response.getheaders()), body))
    return answers


def end_to_end(headers: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Headers without the hop-by-hop ones, names lower-cased, in order."""
    return tuple((name.lower(), value) for name, value in headers if name.lower() not in HOP_BY_HOP)
