"""The request deadline, held while the server is being waited for.

A socket timeout bounds each wait for bytes, not the request: a server that sends its status
line and headers a byte at a time, each within the timeout (or an endless run of 1xx
interim responses, or chunked trailers), would keep a request open for hours. Each request
is therefore watched: the connection registers its socket when it starts to wait for the
answer (`waiting`), and one thread per process shuts down the sockets of the requests whose
deadline has passed, which ends the blocked read at once. The request then fails with the
`timeout` reason (`Watch.fired`), not as a broken connection.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

_current = threading.local()  # the Watch of the request this thread is making


class Watch:
    """One request's deadline (a time.monotonic() value) and the socket it waits on."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.sock: socket.socket | None = None
        self.fired = False
        self.done = False


class _Watchdog:
    """The thread that shuts down the sockets of overdue requests (one per process; a forked
    child starts its own when it first watches a request)."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # (a lock held by the parent's thread)

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._pid = -1

    def add(self, watch: Watch) -> None:
        with self._cond:
            if self._pid != os.getpid():  # (a fork copies the heap but not the thread)
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="request-deadlines", daemon=True).start()
            heapq.heappush(self._heap, (watch.deadline, next(self._order), watch))
            self._cond.notify()

    def arm(self, watch: Watch, sock: socket.socket | None) -> None:
        with self._cond:
            if not watch.done:
                watch.sock = sock
                if watch.deadline <= time.monotonic():
                    self._fire(watch)

    def release(self, watch: Watch, sock: socket.socket | None) -> None:
        with self._cond:  # (the connection goes back to the pool, for another request)
            if watch.sock is sock:
                watch.sock = None

    def remove(self, watch: Watch) -> None:
        with self._cond:  # after this, the watchdog never touches the socket (it is reused)
            watch.done = True
            watch.sock = None

    def _run(self) -> None:
        with self._cond:
            while True:
                try:
                    wait = self._turn()
                except Exception:  # (the watchdog must outlive anything one turn meets)
                    wait = 0.05
                self._cond.wait(wait)

    def _turn(self) -> float | None:
        """Fires the overdue watches; the seconds until the next is due (None: none is)."""
        while self._heap:
            deadline, _, watch = self._heap[0]
            if not watch.done:
                wait = deadline - time.monotonic()
                if wait > 0:
                    return wait
                self._fire(watch)
            heapq.heappop(self._heap)
        return None

    @staticmethod
    def _fire(watch: Watch) -> None:
        watch.fired = True
        sock: Any = watch.sock
        # the socket under a TLS layer (urllib3's SSLTransport holds it as `.socket`), shut
        # down as a plain socket: SSLSocket.shutdown would also drop the TLS state the
        # blocked read is using
        raw = getattr(sock, "socket", sock)
        if isinstance(raw, socket.socket):
            with contextlib.suppress(Exception):  # (already closed)
                socket.socket.shutdown(raw, socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()


@contextlib.contextmanager
def watched(deadline: float) -> Iterator[Watch]:
    """Watch the request this thread makes within the block: past `deadline`, the socket it
    waits on is shut down."""
    watch = Watch(deadline)
    previous = getattr(_current, "watch", None)
    _current.watch = watch
    _WATCHDOG.add(watch)
    try:
        yield watch
    finally:
        _WATCHDOG.remove(watch)
        _current.watch = previous


def waiting(sock: socket.socket | None) -> None:
    """Called by a connection about to wait for its answer on `sock`: the request this thread
    is making (if it is watched) is now waiting on it."""
    watch = getattr(_current, "watch", None)
    if watch is not None:
        _WATCHDOG.arm(watch, sock)


def released(sock: socket.socket | None) -> None:
    """Called by a connection pool taking a connection back: the request this thread is
    making no longer waits on `sock` (another request may use it next)."""
    watch = getattr(_current, "watch", None)
    if watch is not None:
        _WATCHDOG.release(watch, sock)
