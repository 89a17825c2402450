"""The server `newsflow ingest`'s workers fork from (ingest.run.warm loads what they run),
and how many workers a run gets. Apart from the runner so that the command can start the
server before it imports the stages: the server warms up while the command does the rest
of its start."""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections.abc import Iterator
from multiprocessing.context import BaseContext
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from ingest.config import Settings, Source


def pool_size(settings: Settings, sources: list[Source]) -> int:
    """The worker processes `ingest_sources` runs `sources` in (1: in this process)."""
    return min(settings.ingest_workers, len(set(host_groups(sources))))


def start_workers_early(settings: Settings, sources: list[Source]) -> None:
    """When `ingest_sources` will run `sources` in workers, start the server they fork from
    now: it loads their modules (ingest.run.warm) while this process does what comes
    before (checking the data root and the crawl state), rather than after."""
    if pool_size(settings, sources) > 1:
        _start_server()


def _start_server() -> None:
    """Start the server workers fork from (where they fork), without waiting for it."""
    if worker_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def worker_context() -> BaseContext:
    """How workers start: forked from a server process that has loaded what they run
    (ingest.run.warm), a fresh interpreter each where there is no fork. Neither inherits
    this process's threads or open files."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["ingest.run.warm"])
    return context


_POOLS = 0  # pools of this process running now (they share one fork server)
_POOLS_LOCK = threading.Lock()


@contextlib.contextmanager
def _forkserver_in_use() -> Iterator[None]:
    """A pool's run: the fork server is stopped when the last pool running ends (stopping
    it under another pool would take that pool's workers' exit statuses with it)."""
    global _POOLS
    with _POOLS_LOCK:
        _POOLS += 1
    try:
        yield
    finally:
        with _POOLS_LOCK:  # (a pool starting now waits, then starts a new server)
            _POOLS -= 1
            if _POOLS == 0:
                _stop_forkserver()


def _stop_forkserver() -> None:
    """Stop the server process the workers forked from, and reap it: its memory (the loaded
    modules) goes back, and the workers' CPU time counts in this process's children's, as
    with workers of its own. The next pool starts a new one."""
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    stop = getattr(server, "_stop", None)  # (what CPython's own tests call)
    if callable(stop):
        with contextlib.suppress(OSError, ChildProcessError):
            stop()


def host_groups(sources: list[Source]) -> list[int]:
    """For each source, the first of the sources it shares a host with (the hosts of their
    feeds, sitemaps and homepages, directly or through other sources), else itself. Sources
    of one host run one after another: they share its rate limit and robots.txt anyway."""
    group = list(range(len(sources)))

    def first(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    owner: dict[str, int] = {}
    for i, source in enumerate(sources):
        for url in (*source.feeds, *source.sitemaps, *filter(None, [source.homepage])):
            host = urlsplit(url).hostname or ""
            if host not in owner:
                owner[host] = i
            a, b = first(owner[host]), first(i)
            group[max(a, b)] = min(a, b)
    return [first(i) for i in range(len(sources))]
