"""Helper processes for CPU-bound work, each on its own core: results in the order of the work, never left running.

It knows nothing of what the work is: a function and its arguments, which must pickle (the function
by its module's name: the module is in `preload`, imported once by the server helpers are forked
from). A Ctrl-C (which a terminal sends the whole process group) is the suite's alone to act on: it
is noted while helpers start and work, raised where the suite waits for them, and every helper is
ended; a helper whose suite is gone (killed with SIGKILL) ends itself.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import forkserver, resource_tracker
from multiprocessing.context import BaseContext
from typing import TypeVar

FORKSERVER = "forkserver" in multiprocessing.get_all_start_methods()
ORPHAN_CHECK = 0.5  # seconds between a helper's looks at whether the process that made it is still there
CTRL_C_CHECK = 0.1  # seconds between the suite's looks for a Ctrl-C while it waits for its helpers

Work = TypeVar("Work")
Result = TypeVar("Result")


def run_in_order(
    work: Callable[[Work], Result],
    items: Sequence[Work],
    processes: int,
    preload: Sequence[str],
    take: Callable[[Result], None],
) -> None:
    """`work` on each of `items` in `processes` helper processes, each result handed to `take` in the items' order.

    On a Ctrl-C, or any error (BrokenProcessPool when a helper died), the work not begun is dropped and every
    helper ended at once, in the middle of its work, before the exception goes on (a Ctrl-C as KeyboardInterrupt).
    """
    context = _start_method(preload)
    with ctrl_c_noted() as ctrl_c:
        _start_server()
        pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_helper_start, initargs=(os.getpid(),))
        try:
            done = [pool.submit(work, item) for item in items]
            for future in done:
                take(_outcome(future, ctrl_c))
        except BaseException:
            _stop(pool)  # Ctrl-C, or an error: no helper goes on with its work (sending requests to the deployment)
            raise
        pool.shutdown()


def warm(preload: Sequence[str]) -> None:
    """Start the server helpers are made from (where there is one), importing `preload`, ahead of `run_in_order`:
    the imports then take place while the suite does other work."""
    if FORKSERVER:
        _start_method(preload)  # for its preload list, which the server takes as it starts
        _start_server()


@contextmanager
def ctrl_c_noted() -> Iterator[threading.Event]:
    """While helpers start and work, a Ctrl-C is noted, and raised as KeyboardInterrupt only where the suite waits
    for them (`_outcome`), or on leaving.

    Raised wherever the main thread happens to be, it can land between a helper's start and the pool's record of
    it: that helper is never ended, and multiprocessing waits for it as the suite exits, for ever (the helper
    waits for the suite). It can also land in a callback, where Python prints it and drops it. Where SIGINT has
    another handler than Python's own (ignored, or the host's), it is left alone.
    """
    noted = threading.Event()
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield noted
        return
    previous = signal.signal(signal.SIGINT, lambda number, frame: noted.set())
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)
    if noted.is_set():
        raise KeyboardInterrupt


def _outcome(future: Future[Result], ctrl_c: threading.Event) -> Result:
    """A helper's result, once it is there; KeyboardInterrupt once a Ctrl-C is noted."""
    while not ctrl_c.is_set():
        try:
            return future.result(timeout=CTRL_C_CHECK)
        except TimeoutError:
            continue
    raise KeyboardInterrupt


def _stop(pool: ProcessPoolExecutor) -> None:
    """Drop the tasks not begun and end the helpers now, in the middle of their tasks."""
    helpers = list((pool._processes or {}).values())  # no public way before Python 3.14's terminate_workers
    pool.shutdown(wait=False, cancel_futures=True)  # which forgets the processes
    for helper in helpers:
        helper.terminate()


def _start_server() -> None:
    """Start the forkserver (where there is one, and unless it runs) with SIGINT held back: it and the helpers
    it makes keep that mask, so a Ctrl-C (which a terminal sends the whole process group) reaches the suite
    alone. The suite decides, and ends them; it is not lost in the suite, only held until this returns.
    Without this, a Ctrl-C while the server imports its preload list ends it with a traceback."""
    if not FORKSERVER:
        return
    # The server starts the resource tracker first, which unblocks SIGINT as it is started: so, started before.
    resource_tracker.ensure_running()
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        forkserver.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _helper_start(suite: int) -> None:
    """A helper's first step: a Ctrl-C is the suite's to act on (it ends its helpers), and the helper ends itself
    once the suite is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _orphan_watch(suite)


def _orphan_watch(suite: int) -> None:
    """In a helper: end it once the suite (process `suite`) is gone.

    A suite killed with SIGKILL, or interrupted while a helper was starting (before the pool knew
    it), cannot end its helpers; such a helper would wait forever for a task, holding the suite's
    output open (and the forkserver, which lives while any helper does).
    """

    def watch() -> None:
        while _running(suite):
            time.sleep(ORPHAN_CHECK)
        os._exit(1)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or another user's process has the number now
        return False
    return True


def _start_method(preload: Sequence[str]) -> BaseContext:
    """forkserver where there is one: a clean process, made quickly from a server that has imported `preload`."""
    if not FORKSERVER:
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    return context
