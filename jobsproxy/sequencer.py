"""Hands finished exchanges on for checking in the order their answers arrived, with those that overlapped them.

A job's state as an answer shows it was taken somewhere between the request's start and the
answer's arrival. Two exchanges whose spans overlap may have been served in either order, so an
exchange is handed on only once every exchange that started before its answer arrived has
finished: then all that overlapped it are known, and the checks can allow for either order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobsproxy.exchange import Exchange

Deliver = Callable[[Exchange, tuple[Exchange, ...]], Any]


class Sequencer:
    """Orders exchanges for the checks; every method runs on the proxy's event loop."""

    def __init__(self, deliver: Deliver) -> None:
        self.deliver = deliver
        self.in_flight: dict[int, float] = {}  # seq -> when the request started
        self.finished: list[Exchange] = []  # ended, not handed on yet

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

    def _release(self) -> None:
        while self.finished:
            first = min(self.finished, key=lambda e: (e.answered, e.seq))
            if any(sent < first.answered for sent in self.in_flight.values()):
                return  # an exchange still running may have been served before this answer
            self.finished.remove(first)
            overlapping = tuple(e for e in self.finished if e.sent < first.answered)
            self.deliver(first, overlapping)
