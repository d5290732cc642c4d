"""Helper processes for CPU-bound work, each on its own core: results in the order of the work, never left running.

It knows nothing of what the work is: a function and its arguments, which must pickle (the function
by its module's name: the module is in `preload`, imported once by the server helpers are forked
from). Each item gets a fresh helper (`max_tasks_per_child=1`): work that may not run twice in one
process (a `pytest.main`) runs in its own. A Ctrl-C (which a terminal sends the whole process group)
or a SIGTERM (which a CI's timeout may send it too) is the suite's alone to act on: it is noted while
helpers start and work, acted on where the suite waits for them, and every helper is ended; a helper
whose suite is gone (killed with SIGKILL) ends itself.

Only documented APIs of `multiprocessing` and `concurrent.futures`: helpers are ended through a
pipe each one watches (its reading end given through `initargs`), not through the pool's record of
its processes. The suite closing its end, or dying, ends them: a pipe, unlike a shared Event, cannot
be left locked by a helper killed while it waited on it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

FORKSERVER = "forkserver" in multiprocessing.get_all_start_methods()
ORPHAN_CHECK = 0.5  # seconds between a helper's looks at whether the process that made it is still there
CTRL_C_CHECK = 0.1  # seconds between the suite's looks for a Ctrl-C while it waits for its helpers
# The signals that end a run, the suite's alone to act on: a terminal's Ctrl-C, and what a CI's timeout sends.
INTERRUPTS = (signal.SIGINT, signal.SIGTERM)

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
    watched, stop = context.Pipe(duplex=False)  # `stop` closed: every helper ends itself at once (`_helper_start`)
    context.Lock()  # the resource tracker runs from here on (see `_start_server`)
    with ctrl_c_noted() as ctrl_c:
        with _interrupts_held():  # the server helpers are made from may start here (see `_start_server`)
            pool = ProcessPoolExecutor(
                processes,
                mp_context=context,
                initializer=_helper_start,
                initargs=(os.getpid(), watched),
                max_tasks_per_child=1,
            )
            try:
                done = [pool.submit(work, item) for item in items]
            except BaseException:
                _stop(pool, stop)
                raise
        try:
            for future in done:
                take(_outcome(future, ctrl_c))
        except BaseException:
            _stop(pool, stop)  # Ctrl-C, or an error: no helper goes on with its work (sending requests)
            raise
        pool.shutdown()
        stop.close()
        watched.close()


def warm(preload: Sequence[str]) -> None:
    """Start the server helpers are made from (where there is one), importing `preload`, ahead of `run_in_order`:
    the imports then take place while the suite does other work."""
    if FORKSERVER:
        _start_server(_start_method(preload))


class Noted(threading.Event):
    """A signal of INTERRUPTS noted while helpers work, and the handler it had, to act on it later."""

    def __init__(self) -> None:
        super().__init__()
        self.number: int | None = None
        self.handlers: dict[int, Callable[[int, Any], Any]] = {}

    def note(self, number: int, frame: Any) -> None:
        self.number = number
        self.set()

    def act(self) -> None:
        """Call the handler the noted signal had (Python's own for SIGINT raises KeyboardInterrupt); if it returns,
        the signal is no longer noted."""
        number, self.number = self.number, None
        self.clear()
        if number is not None:
            self.handlers[number](number, None)


@contextmanager
def ctrl_c_noted() -> Iterator[Noted]:
    """While helpers start and work, a Ctrl-C or a SIGTERM is noted, and its handler called (Python's raises
    KeyboardInterrupt) only where the suite waits for them (`_outcome`), or on leaving.

    Raised wherever the main thread happens to be, it can land between a helper's start and the pool's record of
    it, or in a callback, where Python prints it and drops it. Only a signal with a handler in Python is noted
    (SIGINT's own, SIGTERM's where the suite's command line gave it one); an ignored or default one is left alone.
    """
    noted = Noted()
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return
    for number in INTERRUPTS:
        handler = signal.getsignal(number)
        if callable(handler):
            noted.handlers[number] = handler
            signal.signal(number, noted.note)
    try:
        yield noted
    finally:
        for taken, handler in noted.handlers.items():
            signal.signal(taken, handler)
    if noted.is_set():
        noted.act()


def _outcome(future: Future[Result], ctrl_c: Noted) -> Result:
    """A helper's result, once it is there; a noted signal's handler called (KeyboardInterrupt) meanwhile."""
    while True:
        if ctrl_c.is_set():
            ctrl_c.act()
        try:
            return future.result(timeout=CTRL_C_CHECK)
        except TimeoutError:
            continue


def _stop(pool: ProcessPoolExecutor, stop: Connection) -> None:
    """Drop the tasks not begun and end the helpers now, in the middle of their tasks: each one, started or still
    starting, ends itself as soon as it sees `stop` closed (at once: it kills itself).

    The pool is waited for, which takes as long as its helpers take to end: a pool left to end on its own may
    still be ending when the interpreter exits, and Python 3.11's exit hook for pools then writes to a pipe the
    pool has just closed, printing a traceback (OSError: Bad file descriptor) after the run's last line."""
    stop.close()
    pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back in this thread (and in the processes and threads it starts meanwhile, which keep
    the mask): not lost, only delivered once this ends. Where there is no such mask, nothing."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = signal.pthread_sigmask(signal.SIG_BLOCK, set(INTERRUPTS))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _start_server(context: BaseContext) -> None:
    """Start the forkserver in the background (unless it runs), SIGINT and SIGTERM held back: it and the helpers it
    makes keep that mask, so a Ctrl-C (which a terminal sends the whole process group) or a CI's SIGTERM reaches the
    suite alone. Without this, a Ctrl-C while the server imports its preload list ends it with a traceback.

    The server starts to make its first process: a throwaway one, made by a thread that holds SIGINT back from its
    start. Before that, the resource tracker is started by the semaphore made here: multiprocessing starts it with
    the signals it ignores blocked and unblocks them after, in whatever thread starts it, which would let SIGINT
    reach the server if that happened inside the hold.
    """
    context.Lock()
    with _interrupts_held():
        threading.Thread(target=_first_process, args=(context,), name="forkserver-start", daemon=True).start()


def _first_process(context: BaseContext) -> None:
    process = context.Process(target=_nothing, name="forkserver-start")  # type: ignore[attr-defined]
    process.start()
    process.join()


def _nothing() -> None:
    """What the throwaway process does."""


def _helper_start(suite: int, watched: Connection) -> None:
    """A helper's first step: a Ctrl-C or a SIGTERM is the suite's to act on (it ends its helpers), and the helper
    ends itself once the suite is gone or asks (closing the other end of `watched`)."""
    for number in INTERRUPTS:
        signal.signal(number, signal.SIG_IGN)
    _watch(suite, watched)


def _watch(suite: int, watched: Connection) -> None:
    """In a helper: end it once the suite (process `suite`) is gone, or closes its end of `watched`.

    A suite killed with SIGKILL cannot end its helpers; such a helper would wait forever for a task,
    holding the suite's output open (and the forkserver, which lives while any helper does). Its end
    of the pipe closes with it, and the process's number is looked at too.
    """

    def watch() -> None:
        while not watched.poll(ORPHAN_CHECK) and _running(suite):
            pass
        os.kill(os.getpid(), signal.SIGKILL)  # at once, in the middle of whatever the helper does

    threading.Thread(target=watch, name="helper-watch", daemon=True).start()


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
