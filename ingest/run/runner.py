"""Running sources for the command line and reporting what each run did.

Sources run in parallel in `ingest_workers` processes (one per core by default): a worker
runs a source's discover, fetch, extract and transform stages, and the calling process
commits the sources (the write stage) one after another in the order given, each as soon as
it and the sources before it are ready. Commits in a fixed order give the rows and the
counts one process gives: which of two copies counts as new and which as a flagged copy
does not depend on which source finished first. Sources that share a host fetch one after
another, in order: they share its rate limit, and its robots.txt is fetched once. A source's
fetched pages are extracted and transformed in parts by whichever workers are free
(ingest.run.parts). With 1 worker, sources run one after another in the calling process;
when all the sources share a host, the calling process fetches them one after another, and
a source of PARALLEL_PAGES pages or more is extracted in parts by workers started for it.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from ingest.config import Settings, Source, SourcesConfig
from ingest.run.commit import commit_unchanged, write
from ingest.run.model import STAGES, SUMMARY_KEYS, Part, Run, WriteRef, workdir
from ingest.run.parts import (
    CHUNK_PAGES,
    PARALLEL_PAGES,
    PART_PAGES,
    PARTS_PER_WORKER,
    Chunker,
    PartRef,
    join,
    parts_of,
    prepare_part,
)
from ingest.run.server import (
    _forkserver_in_use,
    _start_server,
    host_groups,
    pool_size,
    worker_context,
)
from ingest.run.stages import (
    discover,
    discover_and_fetch,
    extract,
    fetch,
    prepare,
    run_source,
    transform,
)
from transforms.lakemirror import lake_of

# what committing a source imports on its first commit (ingest.run.commit imports the rest as
# it goes), and pyarrow's first conversion of Python values, which imports pandas to check
# for its objects: 0.5 s of CPU, otherwise taken while the workers use every core
COMMIT_MODULES = (
    "transforms.commit",
    "transforms.dedup_store",
    "transforms.index",
    "transforms.compaction",
    "transforms.url_migration",
)
STOP_WAIT_S = 10  # how long an idle worker told to stop may take to exit before it is killed


@dataclass(frozen=True)
class SourceResult:
    source_id: str
    ref: WriteRef | None
    error: str | None = None


def ingest_sources(
    config: SourcesConfig,
    sources: list[Source],
    root: Path,
    run: Run | None = None,
    *,
    refetch: bool = False,
) -> list[SourceResult]:
    """Run each source once; returns one result per source, in the order given.

    A source whose run fails (an exception, or its worker process dying) gets a result with
    the error, and the others still run. KeyboardInterrupt stops the worker processes and is
    raised again: a run cut short leaves nothing half-committed (the commit is journalled),
    and the next run sees its items again."""
    run = run or Run.adhoc()
    settings = config.settings
    workers = pool_size(settings, sources)
    if workers > 1:
        return _Pool(sources, settings, root, run, refetch, workers).run_all()
    if settings.ingest_workers > 1 and len(sources) and lake_of(root) is None:
        return _OneHostPool(
            sources, settings, root, run, refetch, settings.ingest_workers
        ).run_all()
    results = []
    for source in sources:
        try:
            ref = run_source(source, settings, root, run, refetch=refetch)
            results.append(SourceResult(source.id, ref))
        except Exception as exc:
            results.append(_failed(source, exc))
    return results


def _failed(source: Source, exc: Exception) -> SourceResult:
    return SourceResult(source.id, None, f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class _Task:
    """What a worker is sent: a source's stages before the commit (`part` None), whole or
    up to the fetch stage (`split`); or the extract and transform stages of one part of its
    fetched pages (`fetched`, `part`: ingest.run.parts)."""

    index: int
    source: Source
    split: bool = False
    fetched: str = ""
    part: Part | None = None
    chunked: int = 0  # workers to share a split fetch's chunks among (0: no chunks)
    chunk_pages: int = CHUNK_PAGES  # pages of a chunk


@dataclass(frozen=True)
class _Chunks:
    """What a worker sends while its fetch goes on: parts of the pages it has fetched."""

    parts: list[Part]


def _perform(
    task: _Task,
    settings: Settings,
    root: Path,
    run: Run,
    refetch: bool,
    tell: Callable[[_Chunks], None] | None = None,
) -> str | PartRef | SourceResult | None:
    """A worker's share of a source's run: the stages run_source runs before the commit,
    or those up to the fetch (`split`; told as `_Chunks` while it goes on when `chunked`),
    or one part's. Returns the transformed work file (or the fetched one, or the part's
    reference), None when discovery left nothing to fetch (the run is committed
    unchanged), or the failure."""
    source = task.source
    try:
        if task.part is not None:
            return prepare_part(source, settings, root, run, task.fetched, task.part)
        if task.split:
            progress = None
            if task.chunked and tell is not None:
                chunker = Chunker(task.chunked, task.chunk_pages)

                def progress(archive: Any, rows: list[dict[str, Any]], done: bool) -> None:
                    parts = chunker.take(archive, rows, done)
                    if parts:
                        tell(_Chunks(parts))

            return discover_and_fetch(
                source, settings, root, run, refetch=refetch, progress=progress
            )
        return prepare(source, settings, root, run, refetch=refetch)
    except Exception as exc:
        return _failed(source, exc)


def _ready_to_commit() -> None:
    """Import what committing needs (COMMIT_MODULES); a module that fails to import fails
    again where it is used, and says why there."""
    with contextlib.suppress(Exception):
        for module in COMMIT_MODULES:
            importlib.import_module(module)
        import pyarrow as pa

        pa.array([], type=pa.null())


def _serve(conn: Connection, settings: Settings, root: Path, run: Run, refetch: bool) -> None:
    """A worker process: perform each task received, until sent None or left alone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    with conn:
        while True:
            try:
                task: _Task | None = conn.recv()
            except EOFError:  # the parent is gone
                return
            if task is None:
                return
            conn.send(_perform(task, settings, root, run, refetch, conn.send))


class _Worker:
    def __init__(
        self, context: BaseContext, settings: Settings, root: Path, run: Run, refetch: bool
    ) -> None:
        self.conn, child = context.Pipe()
        self.process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=_serve, args=(child, settings, root, run, refetch), name="newsflow-ingest"
        )
        self.process.start()
        child.close()

    def ask_to_stop(self) -> None:
        """Tell an idle worker to exit (it finishes on its own; `stop` reaps it)."""
        if self.process.is_alive():
            with contextlib.suppress(OSError):  # it has exited already
                self.conn.send(None)

    def stop(self, graceful: bool) -> None:
        """Let an idle worker asked to stop exit (`graceful`), else terminate it; then
        reap it."""
        if graceful and self.process.is_alive():
            self.process.join(STOP_WAIT_S)
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        self.process.close()
        self.conn.close()


class _Pool:
    """Workers preparing sources in parallel; this process committing them in order. Where
    the stages' work files stay on this machine (not an object store's), a source's fetched
    pages are extracted and transformed in parts (ingest.run.parts: chunks sent while its
    worker fetches, then the rest), by whichever workers are free: the parts of the
    sources fetched first, but one source fetching ahead while few parts wait."""

    parts_per_worker = PARTS_PER_WORKER

    def __init__(
        self,
        sources: list[Source],
        settings: Settings,
        root: Path,
        run: Run,
        refetch: bool,
        workers: int,
    ) -> None:
        self.sources, self.settings, self.root, self.run = sources, settings, root, run
        self.refetch, self.workers = refetch, workers
        self.context = worker_context()
        self.todo = list(range(len(sources)))
        self.hosts = host_groups(sources)
        self.idle: list[_Worker] = []
        self.busy: dict[_Worker, _Task] = {}  # worker -> what it does
        self.started: list[_Worker] = []
        self.split = lake_of(root) is None
        self.parts_todo: list[_Task] = []  # in order
        self.parts: dict[int, list[PartRef | None]] = {}  # source -> its parts, done or not
        self.planned: dict[int, list[Part]] = {}  # source -> its parts
        self.fetching: set[int] = set()  # sources whose parts start while they fetch
        self.prepared: dict[int, str | None] = {}  # source -> its transformed work file
        self.results: dict[int, SourceResult] = {}
        self.committed = 0  # sources before this one are committed or failed

    def run_all(self) -> list[SourceResult]:
        # meanwhile this process waits for the workers' server to load their modules
        threading.Thread(target=_ready_to_commit, name="newsflow-commit-imports").start()
        with _forkserver_in_use():
            return self._run_all()

    def _run_all(self) -> list[SourceResult]:
        finished = False
        try:
            while True:
                self._dispatch()
                self._commit_ready()
                if self._work_here():
                    continue
                if not self.busy:
                    break
                self._collect()
            finished = True
        finally:
            if finished:  # all at once: the workers' exits (a tenth of a second) overlap
                for worker in self.started:
                    worker.ask_to_stop()
            for worker in self.started:
                worker.stop(graceful=finished)
        return [self.results[i] for i in range(len(self.sources))]

    def _work_here(self) -> bool:
        """Work this process does itself between dispatches (none: the workers do it all);
        whether it did some."""
        return False

    def _dispatch(self) -> None:
        """Start the first part waiting, else the first source waiting whose hosts no
        source fetching now shares."""
        while len(self.busy) < self.workers:
            task = self._next_task()
            if task is None:
                return
            if self.idle:
                worker = self.idle.pop()
            else:
                worker = _Worker(self.context, self.settings, self.root, self.run, self.refetch)
                self.started.append(worker)
            try:
                worker.conn.send(task)
            except OSError:  # it died while idle: the next pass starts another
                continue
            if task.part is not None:
                self.parts_todo.remove(task)
            else:
                self.todo.remove(task.index)
            self.busy[worker] = task

    def _next_task(self) -> _Task | None:
        """A part waiting, unless no source is fetching and few parts wait: then the next
        source, so that the next parts are ready before these run out (the end of a run is
        its last parts, on every worker, not its last source's fetch on one)."""
        fetching = [t for t in self.busy.values() if t.part is None]
        if self.parts_todo and (fetching or len(self.parts_todo) > self.workers):
            return self.parts_todo[0]
        hosts = {self.hosts[t.index] for t in fetching}
        index = next((i for i in self.todo if self.hosts[i] not in hosts), None)
        if index is None:
            return self.parts_todo[0] if self.parts_todo else None
        # the last source in smaller chunks: the run ends when its last part does, and a
        # worker with no part left waits for the others' (half a part on average)
        return _Task(
            index,
            self.sources[index],
            self.split,
            chunked=self.workers if self.split else 0,
            chunk_pages=CHUNK_PAGES if len(self.todo) > 1 else PART_PAGES,
        )

    def _collect(self, timeout: float | None = None) -> None:
        """Wait for a worker to finish (or die), `timeout` seconds at most, and take what
        it sends."""
        watched = [w.conn for w in self.busy] + [w.process.sentinel for w in self.busy]
        ready = set(wait(watched, timeout))
        for worker, task in list(self.busy.items()):
            if worker.conn not in ready and worker.process.sentinel not in ready:
                continue
            index = task.index
            try:
                outcome = worker.conn.recv()
            except (EOFError, OSError):  # the process died while preparing the source
                del self.busy[worker]
                worker.process.join()
                self._fail(
                    index,
                    SourceResult(
                        self.sources[index].id,
                        None,
                        "WorkerDied: the process running the source exited with code "
                        f"{worker.process.exitcode}",
                    ),
                )
                continue
            if isinstance(outcome, _Chunks):  # its fetch goes on: the other workers extract
                if index not in self.results:
                    self.fetching.add(index)
                    self._add_parts(index, self._fetched_file(index), outcome.parts)
                continue
            del self.busy[worker]
            self.idle.append(worker)
            if isinstance(outcome, SourceResult):
                self._fail(index, outcome)
            elif index in self.results:  # a part of a source that failed meanwhile
                continue
            elif task.part is not None:
                self._part_done(task, outcome)
            elif task.split and outcome is not None:
                self.fetching.discard(index)
                if self.parts.get(index):  # (its pages came as chunks)
                    self._join_when_done(index, str(outcome))
                else:
                    self._split(index, str(outcome))
            else:
                self.prepared[index] = outcome

    def _fail(self, index: int, result: SourceResult) -> None:
        """A source failed: its parts waiting are dropped (the rest of the run goes on)."""
        self.results.setdefault(index, result)
        self.parts_todo = [t for t in self.parts_todo if t.index != index]

    def _split(self, index: int, fetched: str) -> None:
        """A source's pages are fetched: its parts wait for the workers."""
        try:
            count = parts_of(fetched, self.workers, self.parts_per_worker)
        except Exception as exc:  # (its fetch stage's summary unreadable: the source fails)
            self._fail(index, _failed(self.sources[index], exc))
            return
        self.parts[index], self.planned[index] = [], []
        self._add_parts(index, fetched, [Part(k, count) for k in range(count)])

    def _fetched_file(self, index: int) -> str:
        """The fetch stage's work file of a source (where it is written when it is done)."""
        return str(workdir(self.root, self.sources[index], self.run) / "fetched.jsonl")

    def _add_parts(self, index: int, fetched: str, parts: list[Part]) -> None:
        """Parts of a source wait for the workers."""
        source = self.sources[index]
        self.parts.setdefault(index, []).extend([None] * len(parts))
        # (the parts' pages are the workers' to read: kept here, they would keep every
        # fetched page's row in this process's memory until the source is joined)
        self.planned.setdefault(index, []).extend(replace(p, records=(), archive="") for p in parts)
        self.parts_todo += [_Task(index, source, True, fetched, part) for part in parts]

    def _part_done(self, task: _Task, ref: PartRef) -> None:
        """A part is done; with the source's last, its files are joined, ready to commit."""
        assert task.part is not None
        self.parts[task.index][task.part.index] = ref
        self._join_when_done(task.index, task.fetched)

    def _join_when_done(self, index: int, fetched: str) -> None:
        """Join the source's parts into its stages' work files when all are done (and its
        fetch, when its parts started while it fetched)."""
        done = self.parts[index]
        if index in self.fetching or not all(done):
            return
        try:
            self.prepared[index] = join(
                self.sources[index],
                self.run,
                fetched,
                [r for r in done if r],
                self.planned[index],
                self.settings.chunk_items,
            )
        except Exception as exc:
            self._fail(index, _failed(self.sources[index], exc))
        del self.parts[index], self.planned[index]

    def _commit_ready(self) -> None:
        """Commit, in order, every prepared source whose predecessors are all done."""
        while self.committed in self.results or self.committed in self.prepared:
            index = self.committed
            if index in self.prepared:
                source, transformed = self.sources[index], self.prepared[index]
                try:
                    ref = (
                        commit_unchanged(source, self.settings, self.root, self.run)
                        if transformed is None
                        else write(source, self.settings, self.root, self.run, transformed)
                    )
                    self.results[index] = SourceResult(source.id, ref)
                except Exception as exc:
                    self.results[index] = _failed(source, exc)
                del self.prepared[index]
            self.committed += 1


class _OneHostPool(_Pool):
    """Sources that share one host (or a single source) under `ingest_workers` > 1: this
    process runs their discover and fetch stages one after another, as their shared host's
    rate limit and robots.txt want, and a source with PARALLEL_PAGES pages or more to fetch
    is extracted and transformed in parts by workers started for it, in chunks while it
    fetches (ingest.run.parts.Chunker), its last parts while the next source fetches; a
    smaller one is extracted here, where starting workers would cost more than they save."""

    parts_per_worker = 1  # (each part starts at once: this process fetches meanwhile)

    def _next_task(self) -> _Task | None:
        return self.parts_todo[0] if self.parts_todo else None

    def _work_here(self) -> bool:
        if not self.todo:
            return False
        self._keep_up()
        index = self.todo.pop(0)
        source, settings = self.sources[index], self.settings
        try:
            found = discover(source, settings, self.root, self.run, refetch=self.refetch)
            if not found["to_fetch"]:
                self.prepared[index] = None
            elif found["to_fetch"] >= PARALLEL_PAGES:
                self._fetch_in_chunks(index, found["path"])
            else:
                fetched = fetch(
                    source,
                    settings,
                    self.root,
                    self.run,
                    found["path"],
                    refetch=self.refetch,
                    progress=lambda *_: self._keep_up(),
                )["path"]
                extracted = extract(source, settings, self.root, self.run, fetched)
                self.prepared[index] = transform(
                    source, settings, self.root, self.run, extracted["path"]
                )["path"]
        except Exception as exc:
            self._fail(index, _failed(source, exc))
        return True

    def _keep_up(self) -> None:
        """Between and during this process's fetches: take what the workers finished, give
        them what waits, and commit the sources that are ready (a source whose parts are
        done is not left uncommitted while the next one fetches)."""
        if self.busy or self.parts_todo:
            self._collect(timeout=0)
            self._dispatch()
            self._commit_ready()

    def _fetch_in_chunks(self, index: int, discovered: str) -> None:
        """Fetch a source here while the workers extract and transform what it has fetched
        so far (ingest.run.parts.Chunker), and meanwhile take what they finish and commit
        what is ready."""
        source = self.sources[index]
        fetched = self._fetched_file(index)
        chunker = Chunker(self.workers)
        if not self.started:  # the workers' server loads while the first chunk is fetched
            _start_server()
        self.parts[index], self.planned[index] = [], []

        def progress(archive: Any, rows: list[dict[str, Any]], done: bool) -> None:
            parts = chunker.take(archive, rows, done)
            if index not in self.results:  # (a part of it failed: the source has failed)
                self._add_parts(index, fetched, parts)
            self._keep_up()

        self.fetching.add(index)
        try:
            fetch(
                source,
                self.settings,
                self.root,
                self.run,
                discovered,
                refetch=self.refetch,
                progress=progress,
            )
        finally:
            self.fetching.discard(index)
        if index in self.results:  # (its parts still running are dropped as they finish)
            del self.parts[index], self.planned[index]
            return
        if not self.parts[index]:  # nothing fetched after all: the stages run here
            del self.parts[index], self.planned[index]
            extracted = extract(source, self.settings, self.root, self.run, fetched)
            self.prepared[index] = transform(
                source, self.settings, self.root, self.run, extracted["path"]
            )["path"]
            return
        self._join_when_done(index, fetched)


def json_summary(
    results: list[SourceResult], seconds: float, root: Path | None = None, run_id: str = ""
) -> dict[str, Any]:
    """The machine-readable summary of `newsflow ingest --json`: each source's status
    ("success" or "failed", with the error), counts and seconds (its stages' time, from the
    run metrics of `run_id` in `root`), and the whole command's wall time."""
    keys = ("discovered", "not_modified", "fetched", "new", "duplicate", "seen", "failed")
    timed = _stage_seconds(root, run_id) if root is not None and run_id else {}
    sources = []
    for result in results:
        entry: dict[str, Any] = {"source_id": result.source_id}
        if result.ref is None:
            entry |= {"status": "failed", "error": result.error}
        else:
            entry |= {"status": "success", **{k: int(result.ref[k]) for k in keys}}  # type: ignore[literal-required]
        entry["seconds"] = timed.get(result.source_id)
        sources.append(entry)
    return {
        "sources": sources,
        "failed_sources": sum(1 for r in results if r.ref is None),
        "seconds": round(seconds, 3),
    }


def _stage_seconds(root: Path, run_id: str) -> dict[str, float]:
    """Each source's time in its stages in the run `run_id` (the runs table's seconds_*)."""
    from transforms.query import run_query

    stages = " + ".join(f"coalesce(seconds_{s}, 0)" for s in STAGES)
    quoted = run_id.replace("'", "''")
    _, rows = run_query(
        root, f"SELECT source_id, round({stages}, 3) FROM runs WHERE run_id = '{quoted}'"
    )
    return {str(source): float(value) for source, value in rows}


def print_summary(results: list[SourceResult]) -> None:
    totals = dict.fromkeys(SUMMARY_KEYS, 0)
    for result in results:
        if result.ref is None:
            print(f"{result.source_id}: run failed: {result.error}")
            continue
        counts = {key: int(result.ref[key]) for key in SUMMARY_KEYS}  # type: ignore[literal-required]
        for key, value in counts.items():
            totals[key] += value
        print(f"{result.source_id}: " + " ".join(f"{k}={v}" for k, v in counts.items()))
    errors = sum(1 for r in results if r.ref is None)
    tail = f" errors={errors}" if errors else ""
    print(
        "total: "
        + " ".join(f"{k}={v}" for k, v in totals.items())
        + f" sources={len(results)}{tail}"
    )
