"""A mock embedded in another process (a test session's LiveMock) leaves that process as it found it."""

from __future__ import annotations

import asyncio
import gc
import weakref

from mockserver.config import MockConfig
from mockserver.testing import LiveMock

RESETS = 50


class Node:
    """A garbage cycle's member, as a host's own code makes them."""

    def __init__(self) -> None:
        self.partner: Node | None = None


def test_an_embedded_mock_reset_many_times_leaves_every_cycle_collectable() -> None:
    frozen = gc.get_freeze_count()
    assert gc.isenabled()
    with LiveMock() as mock:
        for _ in range(RESETS):
            first, second = Node(), Node()
            first.partner, second.partner = second, first  # a cycle: only the collector frees it
            alive = weakref.ref(first)
            del first, second
            mock.reset()
        gc.collect()
        assert alive() is None, "a cycle made between resets survived gc.collect(): the collector was frozen or off"
        assert gc.get_freeze_count() <= frozen, "the mock froze the host's objects out of the collector's sight"
        assert gc.isenabled()


def test_an_embedded_mock_leaves_the_host_loops_exception_handler_alone() -> None:
    async def host() -> object:
        loop = asyncio.get_running_loop()
        handler = loop.get_exception_handler()
        with LiveMock(config=MockConfig(state_file=None)):
            pass
        return handler is loop.get_exception_handler()

    assert asyncio.run(host()) is True


def test_the_cli_may_tune_the_collector_an_embedded_mock_may_not() -> None:
    assert MockConfig().owns_process is False
