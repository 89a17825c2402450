"""A limit on the CPU time one page's extraction may take.

Extraction is linear in a page's size for real pages (1,190 evaluation-set pages: 44 ms on
average), but some shapes make the parsers behind it quadratic: 50,000 links in one
paragraph took 52 s, fifty 1,000-deep nests of <div> 30 s, and the 5 MB a response may
have holds far more. A page over the limit becomes a quarantine row (`too_slow`) and the run
goes on.

`within` calls a function while a thread per process watches the calling thread's CPU
clock (its wall clock where threads have none) and raises `TooSlow` in it once the limit is
passed: CPython's asynchronous exception, which lands when the thread next calls, returns
or loops, so a long call into C ends first. `TooSlow` is a BaseException, so no `except
Exception` of the libraries swallows it. It can land where Python drops exceptions (a
weakref callback, a __del__), so it is raised again every RESEND_S, RESENDS times at most.

Ending a watch takes no lock (one taken while a TooSlow lands could stay held, and the
watchdog with it): the thread marks the watch `ending` and waits until the watchdog has
`closed` it. The watchdog sends nothing to a watch marked ending and takes back a TooSlow
still pending before it closes one, so at most one more TooSlow reaches the thread after
the mark; `within` catches that one, and nothing reaches the thread once it returns.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

RESEND_S = 0.05
RESENDS = 200  # (ten seconds of trying: a block that still runs is left to finish)

P = ParamSpec("P")
T = TypeVar("T")


class TooSlow(BaseException):
    """Raised by `within` when the function ran past its CPU limit."""


@dataclass(eq=False)
class _Watch:
    thread: int
    clock: Callable[[], float]
    limit: float
    started: float = field(init=False)
    sent: int = 0  # TooSlow raised in the thread so far
    armed: bool = False  # set by the thread inside its try: nothing is sent before
    ending: bool = False  # set by the thread: nothing more is sent
    closed: bool = False  # set by the watchdog: nothing is pending either

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
    """The watches of this process, and the thread that ends those over their limit (a
    forked child starts its own when it first watches a call)."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()  # (starting the watchdog; never held by a watched thread)
        self._watches: dict[int, _Watch] = {}
        self._pid = -1
        self._wake_w = -1

    def add(self, watch: _Watch) -> None:
        with self._lock:
            if self._pid != os.getpid():
                wake_r, self._wake_w = os.pipe()
                os.set_blocking(self._wake_w, False)
                self._pid = os.getpid()
                _quiet_when_dropped()
                threading.Thread(
                    target=self._run, args=(wake_r,), name="extract-cpu-limit", daemon=True
                ).start()
            self._watches[id(watch)] = watch
        self.wake()

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError):  # (the pipe is full of wake-ups already)
            os.write(self._wake_w, b"\0")

    def _run(self, wake_r: int) -> None:
        poller = select.poll()  # (select() fails on descriptors past 1023)
        poller.register(wake_r, select.POLLIN)
        while True:
            try:
                wait = self._pass()
                if poller.poll(None if wait is None else max(wait, 0.0) * 1000):
                    os.read(wake_r, 4096)
            except Exception:  # (the watchdog must outlive anything one turn meets)
                time.sleep(RESEND_S)

    def _pass(self) -> float | None:
        """Sends TooSlow to the threads over their limit and closes the watches marked
        ending; the seconds until the next pass is due (None: until woken)."""
        soonest: float | None = None
        for key, watch in list(self._watches.items()):
            if watch.ending:
                del self._watches[key]
                if watch.sent:
                    _raise_in(watch.thread, None)  # (one sent but not yet raised)
                watch.closed = True
                continue
            left = watch.left() if watch.armed else RESEND_S
            if left <= 0:
                if watch.sent >= RESENDS:
                    continue
                _raise_in(watch.thread, TooSlow)
                watch.sent += 1
                left = RESEND_S
            # a thread's CPU clock runs no faster than the wall clock
            soonest = left if soonest is None else min(soonest, left)
        return soonest


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
    """Make `thread` raise `exc` at its next check (None: take back one not yet raised)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread), ctypes.py_object(exc) if exc is not None else None
    )


_LIMITS = _Limits()


def _closed(watch: _Watch) -> None:
    """Waits until the watchdog has closed `watch` (marked ending)."""
    if _LIMITS._pid != os.getpid():  # (fn forked: this child has no watchdog for it)
        return
    _LIMITS.wake()
    while not watch.closed:
        time.sleep(0.0001)


def within(seconds: float, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """fn(*args, **kwargs), or TooSlow if it took more than `seconds` of the calling
    thread's CPU time (then no TooSlow reaches the thread after this returns)."""
    thread = threading.get_ident()
    watch = _Watch(thread, _clock_of(thread), seconds)
    _LIMITS.add(watch)
    # Where a TooSlow can land below (see the module's docstring): in fn or as it returns
    # (the finally runs); in the finally's `_closed` (the except runs); not after that.
    try:
        try:
            watch.armed = True
            return fn(*args, **kwargs)
        finally:
            watch.ending = True
            _closed(watch)
    except TooSlow:
        _closed(watch)
        raise
