"""A limit on the CPU time one page's extraction may take.

Extraction is linear in a page's size for real pages (1,190 evaluation-set pages: 44 ms on
average), but some shapes make the parsers behind it quadratic: 50,000 links in one
paragraph took 52 s, fifty 1,000-deep nests of <div> 30 s, and the 5 MB a response may
have holds far more. A page over the limit becomes a quarantine row (`too_slow`) and the run
goes on.

`cpu_limit` watches the CPU clock of the calling thread (its wall clock where threads have
none); a thread per process raises `TooSlow` in the watched thread once the limit is
passed (CPython's asynchronous exception: it lands between two bytecodes, so a long call
into C ends first). `TooSlow` is a BaseException, so no `except Exception` of the libraries
swallows it; the block's caller catches it. It can land where Python drops exceptions (a
weakref callback, a __del__), so it is raised again every RESEND_S until the block ends,
RESENDS times at most; never after the block has ended.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

RESEND_S = 0.05
RESENDS = 200  # (ten seconds of trying: a block that still runs is left to finish)


class TooSlow(BaseException):
    """Raised in a thread whose block ran past its CPU limit (see `cpu_limit`)."""


@dataclass
class _Watched:
    thread: int
    clock: Callable[[], float]
    limit: float
    started: float = field(init=False)
    sent: int = 0  # TooSlow raised in the thread so far

    def __post_init__(self) -> None:
        self.started = self.clock()

    def left(self) -> float:
        return self.limit - (self.clock() - self.started)


def _clock_of(thread: int) -> Callable[[], float]:
    """The CPU clock of `thread` (the calling one), else the wall clock."""
    try:
        clock_id = time.pthread_getcpuclockid(thread)
        time.clock_gettime(clock_id)
    except (AttributeError, OSError):  # (no per-thread CPU clocks here)
        return time.monotonic
    return lambda: time.clock_gettime(clock_id)


class _Limits:
    """The watched blocks of this process, and the thread that ends those over their limit
    (a forked child starts its own when it first watches a block)."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # (a lock held by the parent's thread)

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._watched: dict[int, _Watched] = {}
        self._pid = -1

    def add(self, watched: _Watched) -> None:
        with self._cond:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                _quiet_when_dropped()
                threading.Thread(target=self._run, name="extract-cpu-limit", daemon=True).start()
            self._watched[watched.thread] = watched
            self._cond.notify()

    def remove(self, watched: _Watched) -> bool:
        """Ends the watch (once the lock is let go, nothing more is sent); whether the thread
        was sent TooSlow."""
        with self._cond:
            if self._watched.get(watched.thread) is watched:
                del self._watched[watched.thread]
            return watched.sent > 0

    def _run(self) -> None:
        with self._cond:
            while True:
                if not self._watched:
                    self._cond.wait()
                    continue
                soonest = float("inf")
                for thread, watched in self._watched.items():
                    left = watched.left()
                    if left > 0:
                        soonest = min(soonest, left)
                    elif watched.sent < RESENDS:
                        _raise_in(thread, TooSlow)
                        watched.sent += 1
                        soonest = min(soonest, RESEND_S)
                # a thread's CPU clock runs no faster than the wall clock
                self._cond.wait(soonest if soonest != float("inf") else None)


def _quiet_when_dropped() -> None:
    """Python reports an exception it drops (raised in a weakref callback, say) on stderr; a
    dropped TooSlow is raised again (see the module's docstring), so it is not reported."""
    if getattr(sys.unraisablehook, "newsflow_quiet", False):
        return
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, TooSlow):
            previous(unraisable)

    hook.newsflow_quiet = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook


def _raise_in(thread: int, exc: type[BaseException] | None) -> None:
    """Make `thread` raise `exc` at its next bytecode (None: take back one not yet raised)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread), ctypes.py_object(exc) if exc is not None else None
    )


_LIMITS = _Limits()


@contextlib.contextmanager
def cpu_limit(seconds: float) -> Iterator[None]:
    """Raise TooSlow in the calling thread if the block takes more than `seconds` of its CPU
    time. The caller catches TooSlow around the `with` (it may come as the block ends)."""
    thread = threading.get_ident()
    watched = _Watched(thread, _clock_of(thread), seconds)
    _LIMITS.add(watched)
    try:
        yield
    finally:
        while True:
            try:
                if _LIMITS.remove(watched):
                    _raise_in(thread, None)  # sent but not raised yet: it must not come later
                break
            except TooSlow:  # one more, landing while the block ends: end it again
                continue
