"""Hands finished exchanges on for checking in the order their answers arrived, with those that overlapped them.

A job's state as an answer shows it was taken somewhere between the request's start and the
answer's arrival. Two exchanges whose spans overlap may have been served in either order, so an
exchange is handed on only once every exchange that started before its answer arrived has
finished: then all that overlapped it are known, and the checks can allow for either order.

It waits so for no longer than `patience`: a request the upstream never answers (or an answer
that streams for ever) would otherwise hold every later exchange back, and the report would say
nothing of them. One still running after that is judged when it ends, like any other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from jobsproxy.exchange import Exchange

Deliver = Callable[[Exchange, tuple[Exchange, ...]], Any]


class Sequencer:
    """Orders exchanges for the checks; every method runs on the proxy's event loop."""

    def __init__(self, deliver: Deliver, *, patience: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.deliver = deliver
        self.patience = patience
        self.clock = clock  # the exchanges' clock
        self.in_flight: dict[int, float] = {}  # seq -> when the request started
        self.finished: list[Exchange] = []  # ended, not handed on yet
        self._timer: asyncio.TimerHandle | None = None

    def begin(self, exchange: Exchange) -> None:
        """An exchange has started."""
        self.in_flight[exchange.seq] = exchange.sent

    def end(self, exchange: Exchange) -> None:
        """An exchange has ended (answered, or not); hand on whatever may go now."""
        self.in_flight.pop(exchange.seq, None)
        if not exchange.answered:
            exchange.answered = exchange.sent  # no answer: nothing it shows can postdate its start
        self.finished.append(exchange)
        self._release()

    def flush(self) -> None:
        """Hand on every finished exchange now, whatever is still running (at shutdown)."""
        self.in_flight.clear()
        self._release()

    def _release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self.clock()
        while self.finished:
            first = min(self.finished, key=lambda e: (e.answered, e.seq))
            waited_for = [
                sent for sent in self.in_flight.values() if sent < first.answered and now - sent < self.patience
            ]
            if waited_for:  # an exchange still running may have been served before this answer
                self._timer = asyncio.get_running_loop().call_later(
                    min(waited_for) + self.patience - now, self._release
                )
                return
            self.finished.remove(first)
            overlapping = tuple(e for e in self.finished if e.sent < first.answered)
            self.deliver(first, overlapping)
