"""One request and its answer as they passed through the proxy, with bounded copies of both bodies."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from multidict import CIMultiDict, CIMultiDictProxy

Headers = CIMultiDict[str] | CIMultiDictProxy[str]
DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
# Why an exchange has no whole answer the proxy could pass on (its `fault`; "" when it has one, or the body alone
# was cut: by the client, the check window, or the proxy stopping).
UNREACHABLE = "unreachable"  # no connection to the upstream
TIMED_OUT = "timed out"  # no status and headers within --upstream-timeout
MALFORMED = "malformed"  # the upstream's answer is not valid HTTP: a violation of the contract
UNPASSABLE = "unpassable"  # valid HTTP, but not something the proxy can pass on unchanged (header bytes not UTF-8)
STOPPED = "stopped"  # the proxy stopped before the upstream's status and headers arrived
ABANDONED = "abandoned"  # the client's request broke off before it was whole


@dataclass
class Capture:
    """A copy of a body as it streams past, up to `limit` bytes; `dropped` says why the copy stopped."""

    limit: int
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    complete: bool = False
    dropped: str = ""

    def add(self, chunk: bytes) -> bool:
        """Keep a copy of `chunk`; False once the copy has stopped."""
        self.size += len(chunk)
        if self.dropped:
            return False
        if self.size > self.limit:
            self.drop(f"larger than {self.limit} bytes (--max-check-bytes)")
            return False
        self.chunks.append(chunk)
        return True

    def drop(self, why: str) -> None:
        """Stop copying; what was copied so far is let go."""
        if not self.dropped and not self.complete:
            self.dropped = why
            self.chunks.clear()

    @property
    def body(self) -> bytes | None:
        """The whole body, or None when it was not copied whole."""
        return b"".join(self.chunks) if self.complete and not self.dropped else None


@dataclass
class Exchange:
    """A request as the client sent it and the upstream's answer, timed on the proxy's monotonic clock."""

    seq: int
    method: str
    target: str  # the request target as the client sent it: path and query, still percent-encoded
    path: str  # its path, without the query, still percent-encoded
    client_url: str  # the address the client used (scheme and Host as it sent them)
    upstream_url: str  # where the proxy sent it
    request_headers: Headers
    request_body: Capture
    sent: float
    status: int = 0
    reason: str = ""
    response_headers: Headers = field(default_factory=CIMultiDict)
    response_body: Capture = field(default_factory=lambda: Capture(0))
    answered: float = 0.0  # when the upstream's status and headers arrived
    error: str = ""  # why there is no (whole) answer
    fault: str = ""  # one of the faults above, or ""
    ended: bool = False

    def fail(self, fault: str, error: str) -> None:
        """Say why there is no whole answer (the first reason given stands)."""
        if not self.error:
            self.fault, self.error = fault, error

    def response_content(self) -> tuple[bytes | None, str]:
        """The response body with its Content-Encoding undone, or None and why not."""
        body = self.response_body.body
        if body is None:
            return None, self.response_body.dropped or self.error or "the body did not arrive whole"
        encoding = self.response_headers.get("Content-Encoding", "identity").strip().lower()
        if encoding in ("", "identity"):
            return body, ""
        if encoding not in DECODERS:
            return None, f"Content-Encoding {encoding} is not one the proxy decodes"
        try:
            decoder = zlib.decompressobj(DECODERS[encoding])
            decoded = decoder.decompress(body, self.response_body.limit)
        except zlib.error as exc:
            return None, f"its {encoding} encoding is broken: {exc}"
        if decoder.unconsumed_tail:
            return None, f"larger than {self.response_body.limit} bytes once decoded (--max-check-bytes)"
        return decoded, ""
