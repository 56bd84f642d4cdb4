"""SIGTERM and SIGINT stop a build: raised as `BuildInterrupted` where Python can carry the exception.

A handler that raises while C code calls back into Python, or while Cython code checks for
signals, is lost or mangled: soundfile's FLAC encoder writes through a Python callback, where
cffi prints the exception and goes on (the build then finished with exit code 0), and Ray's
`wait` turns it into a `SystemError`. Those calls run inside `stops_deferred`: a stop is only
recorded there, and handed to the handler that was in place when the block ends.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class BuildInterrupted(BaseException):
    """SIGTERM / SIGINT reached the driver; finished shards are kept. A BaseException, as KeyboardInterrupt
    is: a library's `except Exception` (Ray's start-up has several) must not swallow a stop."""


def _raise_interrupted(signum, frame):
    raise BuildInterrupted(signal.Signals(signum).name)


def _python_handlers_settable() -> bool:
    """Only the main thread may set handlers, and a handler some C library installed cannot be put back."""
    return threading.current_thread() is threading.main_thread() and all(
        signal.getsignal(sig) is not None for sig in STOP_SIGNALS)


@contextmanager
def stop_signals_raise():
    """While inside, SIGTERM and SIGINT raise `BuildInterrupted` (the previous handlers come back after)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # a build run in another thread keeps the process's handlers
        return
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)


def take_back_stop_signals() -> None:
    """Put the raising handlers back after a library replaced them (Ray's init and shutdown do); the
    enclosing `stop_signals_raise` restores the original ones at its end."""
    if threading.current_thread() is threading.main_thread():
        for sig in STOP_SIGNALS:
            signal.signal(sig, _raise_interrupted)


@contextmanager
def stops_deferred():
    """SIGTERM and SIGINT are recorded inside and handed to the previous handler when the block ends."""
    if not _python_handlers_settable():
        yield
        return
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: received.append(signum)) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            handler = previous[received[0]]
            if callable(handler):
                handler(received[0], None)  # ours raises BuildInterrupted; Python's SIGINT default, KeyboardInterrupt
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), received[0])  # the default action, now that nothing defers it
