"""The CPU limit on one page's extraction (ingest.extract.cpu_limit)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from ingest.extract.cpu_limit import TooSlow, cpu_limit


def spin(seconds: float) -> None:
    """Use `seconds` of this thread's CPU."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_a_block_over_its_cpu_limit_is_ended_with_too_slow() -> None:
    started = time.monotonic()
    with pytest.raises(TooSlow), cpu_limit(0.2):
        spin(30)
    assert time.monotonic() - started < 5


def test_a_library_catching_every_exception_does_not_swallow_it() -> None:
    def stubborn() -> None:
        while True:
            try:
                spin(0.05)
            except Exception:  # what a careless library does
                continue

    with pytest.raises(TooSlow), cpu_limit(0.2):
        stubborn()


def test_waiting_is_not_cpu_and_a_block_in_time_raises_nothing_later() -> None:
    with cpu_limit(0.2):
        time.sleep(0.5)  # over the limit in wall time, not in CPU time
        spin(0.05)
    for _ in range(3):  # blocks that ended: nothing is raised after them
        with cpu_limit(0.1):
            spin(0.05)
    spin(0.5)


def test_each_thread_has_its_own_limit() -> None:
    outcomes: dict[str, str] = {}

    def run(name: str, limit: float, work: float) -> None:
        try:
            with cpu_limit(limit):
                spin(work)
            outcomes[name] = "done"
        except TooSlow:
            outcomes[name] = "too slow"

    threads = [
        threading.Thread(target=run, args=("slow", 0.2, 30)),
        threading.Thread(target=run, args=("quick", 5, 0.3)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert outcomes == {"slow": "too slow", "quick": "done"}


def test_a_forked_process_has_its_own_watchdog() -> None:
    with cpu_limit(5):  # this process's watchdog thread is running
        spin(0.01)
    child = os.fork()
    if child == 0:  # the child: no watchdog thread of its own until it watches a block
        try:
            with cpu_limit(0.2):
                spin(30)
        except TooSlow:
            os._exit(0)
        os._exit(1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_one_that_lands_where_python_drops_exceptions_is_raised_again() -> None:
    import weakref

    class Node:
        pass

    dropped: list[int] = []

    def callback(_ref: object) -> None:  # Python drops what is raised here
        dropped.append(1)
        for _ in range(20):  # as many points where TooSlow can land as the rest of a turn
            pass

    def churn() -> None:
        give_up = time.monotonic() + 15  # (fails below instead of spinning for ever)
        while time.monotonic() < give_up:
            node = Node()
            ref = weakref.ref(node, callback)
            del node
            assert ref() is None
            for _ in range(20):
                pass

    started = time.monotonic()
    with pytest.raises(TooSlow), cpu_limit(0.2):
        churn()
    assert time.monotonic() - started < 10
    assert dropped  # the callback ran (and what landed in it was dropped, then raised again)
