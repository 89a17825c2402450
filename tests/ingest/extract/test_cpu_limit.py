"""The CPU limit on one page's extraction (ingest.extract.cpu_limit)."""

from __future__ import annotations

import contextlib
import os
import threading
import time

import pytest

import ingest.extract.cpu_limit as limits
from ingest.extract.cpu_limit import TooSlow, within


def spin(seconds: float) -> None:
    """Use `seconds` of this thread's CPU."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_a_block_over_its_cpu_limit_is_ended_with_too_slow() -> None:
    started = time.monotonic()
    with pytest.raises(TooSlow):
        within(0.2, spin, 30)
    assert time.monotonic() - started < 5


def test_a_library_catching_every_exception_does_not_swallow_it() -> None:
    def stubborn() -> None:
        while True:
            try:
                spin(0.05)
            except Exception:  # what a careless library does
                continue

    with pytest.raises(TooSlow):
        within(0.2, stubborn)


def test_waiting_is_not_cpu_and_a_block_in_time_raises_nothing_later() -> None:
    def wait_then_work() -> str:
        time.sleep(0.5)  # over the limit in wall time, not in CPU time
        spin(0.05)
        return "done"

    assert within(0.2, wait_then_work) == "done"
    for _ in range(3):  # calls that ended: nothing is raised after them
        within(0.1, spin, 0.05)
    spin(0.5)


def test_the_function_s_own_exception_comes_through() -> None:
    def fails() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        within(1, fails)


def test_each_thread_has_its_own_limit() -> None:
    outcomes: dict[str, str] = {}

    def run(name: str, limit: float, work: float) -> None:
        try:
            within(limit, spin, work)
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
    within(5, spin, 0.01)  # this process's watchdog thread is running
    child = os.fork()
    if child == 0:  # the child: no watchdog thread of its own until it watches a block
        try:
            within(0.2, spin, 30)
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
    with pytest.raises(TooSlow):
        within(0.2, churn)
    assert time.monotonic() - started < 10
    assert dropped  # the callback ran (and what landed in it was dropped, then raised again)


def test_nothing_lands_after_the_call_even_when_too_slow_keeps_coming(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Calls that end while the watchdog sends TooSlow as fast as it can: each ends (no lock
    is left held, the watchdog keeps working) and nothing reaches the code after them."""
    monkeypatch.setattr(limits, "RESEND_S", 0.0001)
    monkeypatch.setattr(limits, "RESENDS", 10**9)

    def stubborn(seconds: float) -> None:  # swallows TooSlow until its time is up
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            with contextlib.suppress(BaseException):
                spin(0.0002)

    outcomes: list[str] = []

    def calls() -> None:
        for turn in range(200):
            try:
                if turn % 2:
                    within(0.0005, stubborn, 0.005 + (turn % 7) * 0.002)
                else:
                    within(0.0005, spin, 0.03)
                outcome = "returned"
            except TooSlow:
                outcome = "too slow"
            try:
                spin(0.01)  # past a resend or two (at most one per GIL switch), were any coming
            except TooSlow:
                outcome = "landed after the call"
            outcomes.append(outcome)

    worker = threading.Thread(target=calls, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "a call never ended"
    assert len(outcomes) == 200
    assert "landed after the call" not in outcomes
    assert {"returned", "too slow"} <= set(outcomes)  # (both ways of ending happened)
    with pytest.raises(TooSlow):  # the watchdog still works
        within(0.05, spin, 30)


def test_the_watchdog_works_with_descriptors_past_1023_open() -> None:
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        child = os.fork()
        if child == 0:  # a new watchdog, its pipe numbered past 1023
            try:
                os._exit(0 if within(5, lambda: "done") == "done" else 1)
            except BaseException:
                os._exit(1)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            done, status = os.waitpid(child, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(child, 9)
            os.waitpid(child, 0)
            raise AssertionError("within() never returned")
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        for fd in held:
            os.close(fd)
