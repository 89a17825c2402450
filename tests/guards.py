"""Guards for tests of code that used to hang: a regression fails the test instead of
stopping the suite."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def finishes(function: Callable[[], T], within_s: float = 60.0) -> T:
    """`function()`'s result; fails the test if it has not returned within `within_s` seconds
    (the thread is left behind as a daemon: a hang must not wedge the whole run)."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(function())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True, name="finishes")
    thread.start()
    thread.join(within_s)
    if thread.is_alive():
        raise AssertionError(f"did not finish within {within_s:g} s")
    if errors:
        raise errors[0]
    return result[0]


def finishes_apart(function: Callable[..., T], *args: object, within_s: float = 60.0) -> T:
    """`function(*args)` run in a child process, killed if it has not returned within
    `within_s` seconds (a regular expression holds the interpreter lock while it runs, so
    only another process can stop one that backtracks for hours). `function` must be
    importable (module level) and its arguments and result picklable."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        pending = pool.apply_async(function, args)
        try:
            return pending.get(within_s)
        except multiprocessing.TimeoutError:
            pool.terminate()
            raise AssertionError(f"did not finish within {within_s:g} s") from None
