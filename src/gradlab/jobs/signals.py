"""Ctrl-C and SIGTERM (``scancel``, ``kill``) stop a job as KeyboardInterrupt.

A signal handler that raises can land inside a finaliser (e.g. SQLAlchemy's
weakref callbacks), where Python prints the KeyboardInterrupt and drops it; the
flag :data:`_INTERRUPTED` makes sure the job still sees it at its next check.
Once the flag is set, an error of any other type that the job raises (code
that caught the interrupt and raised its own error) counts as the interrupt.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

#: Set by a SIGINT/SIGTERM; checked at every logged step and every epoch.
_INTERRUPTED = threading.Event()


def interrupt_handler(signum, frame) -> None:
    """Signal handler: remember the interrupt, then raise it like Ctrl-C does."""
    _INTERRUPTED.set()
    raise KeyboardInterrupt


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt if a signal arrived that was swallowed on its way."""
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt():
    """Turn SIGINT and SIGTERM into KeyboardInterrupt for the job inside the block.

    Any error the block raises after one of them came is raised as KeyboardInterrupt
    too (from that error), so that the job counts as stopped, not failed.
    """
    _INTERRUPTED.clear()  # a new job starts uninterrupted
    if threading.current_thread() is not threading.main_thread():
        with _interrupt_wins():
            yield
        return
    previous = {s: signal.signal(s, interrupt_handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with _interrupt_wins():
            yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextmanager
def _interrupt_wins():
    """Raise KeyboardInterrupt for any error the block raises after a signal came.

    Code that catches the interrupt and raises something else (a library's
    wrapper error, an error in cleanup) must not turn a job stopped by ``scancel``
    into a FAILED one.
    """
    try:
        yield
    except Exception as err:
        if _INTERRUPTED.is_set():
            raise KeyboardInterrupt from err
        raise
