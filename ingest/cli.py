"""The `newsflow` command line: ingest, reprocess, dedup, retag, daily, query, demo, serve-demo."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import ingest.run  # noqa: F401 - first: the allocators (ingest/run/allocator.py)
from ingest.config import (
    DATA_ENV,
    SOURCES_ENV,
    ConfigError,
    Settings,
    data_root,
    load_sources,
    s3_location,
    sources_path,
)
from transforms.exceptions import CorruptFile, MirrorBehind, StateUnavailable
from transforms.formats import QUERY_FORMATS
from transforms.objectstore import ObjectStoreError, S3Credentials, S3Location

MAX_WORKERS = 256  # as the sources file's ingest_workers
MAX_DAYS = 36500  # a hundred years: any age a partition or a file can have
FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(9000, 12, 31)  # of a report


def main(argv: Sequence[str] | None = None) -> int:
    from ingest.logs import configure

    parser = _parser()
    args = parser.parse_args(argv)
    configure(1 if args.verbose else -1 if args.quiet else 0)
    try:
        code: int = args.func(args)
    except (
        ConfigError,
        CorruptFile,
        StateUnavailable,
        MirrorBehind,
        ObjectStoreError,
    ) as exc:  # the user's to fix (or to run again): one sentence, no traceback
        print(f"newsflow: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    from importlib.metadata import version

    parser = argparse.ArgumentParser(
        prog="newsflow", description="News feeds to clean, dated, deduplicated Parquet."
    )
    parser.add_argument("--version", action="version", version=f"newsflow {version('newsflow')}")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", action="store_true", help="also debug lines on stderr")
    loudness.add_argument(
        "-q", "--quiet", action="store_true", help="only warnings and errors on stderr"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = sub.add_parser("ingest", help="run the whole pipeline once for the chosen sources")
    ingest.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"sources file (default: ${SOURCES_ENV} or the project's sources.yaml)",
    )
    ingest.add_argument(
        "--data", default=None, help=f"data root, a local folder (default: ${DATA_ENV} or ./data)"
    )
    ingest.add_argument(
        "--source", action="append", default=[], metavar="ID", help="only this source (repeatable)"
    )
    ingest.add_argument(
        "--refetch", action="store_true", help="fetch items again even if already stored"
    )
    ingest.add_argument(
        "--json",
        action="store_true",
        help="print one JSON summary (per source: status and counts) instead of text lines",
    )
    ingest.set_defaults(func=_cmd_ingest)

    reprocess = sub.add_parser(
        "reprocess", help="rebuild articles from the stored WARC files, offline"
    )
    reprocess.add_argument("--data", default=None, help="data root")
    reprocess.add_argument(
        "--source", action="append", default=[], metavar="ID", help="only this source (repeatable)"
    )
    reprocess.add_argument(
        "--since",
        type=_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="only runs started on or after this day (UTC)",
    )
    reprocess.add_argument(
        "--workers",
        type=int,
        default=min(os.cpu_count() or 1, MAX_WORKERS),
        help=f"processes extracting pages in parallel, 1 to {MAX_WORKERS} (default: one per core)",
    )
    reprocess.set_defaults(func=_cmd_reprocess)

    dedup = sub.add_parser(
        "dedup",
        help="recompute copy and story flags of stored articles (after a change of thresholds)",
    )
    dedup.add_argument("--data", default=None, help="data root")
    dedup.add_argument(
        "--rebuild",
        action="store_true",
        help="recompute and rewrite the flags (without it: only count stories and copies)",
    )
    dedup.add_argument(
        "--since",
        type=_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="only articles published on or after this day (UTC); default: all",
    )
    _add_window_days(dedup, "days of publication time within which copies match")
    dedup.set_defaults(func=_cmd_dedup)

    migrate = sub.add_parser(
        "migrate-urls",
        help="spell the stored articles' URLs and ids by the current URL rule (after an upgrade "
        "that changed it; the daily check says when)",
    )
    migrate.add_argument("--data", default=None, help="data root")
    _add_window_days(migrate, "dedup window of the re-clustering that follows")
    migrate.set_defaults(func=_cmd_migrate_urls)

    retag = sub.add_parser(
        "retag", help="recompute the tags of stored articles (after a change of taxonomy or tagger)"
    )
    retag.add_argument("--data", default=None, help="data root")
    retag.add_argument(
        "--since",
        type=_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="only partitions (publication days, UTC) on or after this day; default: all",
    )
    retag.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"sources file whose settings.taxonomy and settings.entity_models to use, as the "
        f"ingest runs use them (default: ${SOURCES_ENV} or the project's sources.yaml when it exists, else "
        "the bundled taxonomy and the installed spaCy pipelines, or else the rules)",
    )
    retag.set_defaults(func=_cmd_retag)

    daily = sub.add_parser(
        "daily",
        help="what the news_daily DAG does: compact older partitions, remove expired work and "
        "raw files, check quality, write the report",
    )
    daily.add_argument("--data", default=None, help="data root")
    daily.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"sources file whose settings.keep_work_days and keep_raw_days to use (default: "
        f"${SOURCES_ENV} or the project's sources.yaml when it exists, else the defaults)",
    )
    daily.add_argument(
        "--day",
        type=_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="report day (default: today, UTC)",
    )
    daily.add_argument(
        "--compact-older-than-days",
        type=int,
        default=7,
        help=f"compact partitions older than this many days, 0 to {MAX_DAYS} (default: 7; 0: "
        "skip compaction)",
    )
    daily.add_argument(
        "--check-days", type=int, default=3, help="days of partitions to check, 1 to 60"
    )
    daily.set_defaults(func=_cmd_daily)

    query = sub.add_parser(
        "query", help="run DuckDB SQL over the dataset (views: articles, quarantine, runs)"
    )
    query.add_argument("--data", default=None, help="data root")
    query.add_argument(
        "sql", help='for example: "SELECT source_id, count(*) FROM articles GROUP BY 1"'
    )
    query.add_argument(
        "--format",
        choices=QUERY_FORMATS,
        default="table",
        help="table (default), csv, json (an array of objects) or parquet (needs --output)",
    )
    query.add_argument(
        "--output", type=Path, default=None, metavar="FILE", help="write to FILE, not stdout"
    )
    query.add_argument(
        "--unsafe",
        action="store_true",
        help="full DuckDB: the query may also read and write any file (by default it reads "
        "only the views)",
    )
    query.set_defaults(func=_cmd_query)

    demo = sub.add_parser(
        "demo", help="serve the bundled demo site on 127.0.0.1, ingest it, query it"
    )
    demo.add_argument("--data", default="data/demo", help="data root (default: ./data/demo)")
    demo.set_defaults(func=_cmd_demo)

    serve = sub.add_parser(
        "serve-demo", help="serve the bundled demo site on 127.0.0.1 until interrupted"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=8765,
        help="port, 1 to 65535 (default: 8765, the default in sources.yaml)",
    )
    serve.set_defaults(func=_cmd_serve_demo)
    return parser


def _add_window_days(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--window-days",
        type=float,
        default=None,
        help=f"{what} (default: the sources file's dedup_window_days, as the ingest runs use "
        f"it; {Settings.dedup_window_days:g} without one)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"sources file whose settings.dedup_window_days to use (default: ${SOURCES_ENV} or "
        "the project's sources.yaml when it exists, else the default)",
    )


def _window(args: argparse.Namespace) -> dt.timedelta:
    """The dedup window of a re-clustering: --window-days, else the sources file's (the one
    the ingest runs cluster with, so a rebuild flags what they would)."""
    from ingest.run.retention import upkeep_settings

    days = args.window_days
    if days is None:
        days = upkeep_settings(args.config).dedup_window_days
    elif args.config is not None:
        raise ConfigError(
            f"--window-days {days:g} and --config {args.config}: both set the dedup window; "
            "pass only one of them."
        )
    else:
        _check_range("--window-days", days, 0, 366, "a number of days")
    return dt.timedelta(days=days)


def _check_range(option: str, value: float, low: int, high: int, what: str) -> None:
    """One sentence (ConfigError) for an option's number outside `low` to `high`."""
    if not low <= value <= high:
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        raise ConfigError(f"{option} {shown}: use {what} from {low} to {high}.")


def _cmd_ingest(args: argparse.Namespace) -> int:
    import json
    import time

    from ingest.run.server import start_workers_early

    started = time.monotonic()
    root = data_root(args.data, remote=True)
    config = load_sources(args.config or sources_path())
    sources = config.select(list(dict.fromkeys(args.source)))  # each once, in the given order
    start_workers_early(config.settings, sources)  # before the stages' imports: they overlap
    from ingest.run.model import Run
    from ingest.run.runner import ingest_sources, json_summary, print_summary

    _check_store(root)
    _check_stored(root, config.settings.state_url)
    run = Run.adhoc()
    results = ingest_sources(config, sources, root, run, refetch=args.refetch)
    if args.json:
        summary = json_summary(results, time.monotonic() - started, root, run.run_id)
        print(json.dumps(summary, indent=1))
    else:
        print_summary(results)
    return 1 if any(r.error for r in results) else 0


def _cmd_reprocess(args: argparse.Namespace) -> int:
    from ingest.run.reprocess import reprocess_runs
    from ingest.run.runner import print_summary
    from transforms.lakemirror import lake_of

    _check_range("--workers", args.workers, 1, MAX_WORKERS, "a number of processes")
    root = data_root(args.data, remote=True)
    _check_store(root)  # on an object store, reprocess_runs takes the WARC files from it
    if lake_of(root) is None and not (root / "raw").is_dir():
        raise ConfigError(
            f"{root}: no raw/ folder with WARC files; pass --data with the folder an ingest wrote to."
        )
    _check_stored(root)
    sources = list(dict.fromkeys(args.source))
    results = reprocess_runs(root, sources, args.since, workers=args.workers)
    print_summary(results)
    return 1 if any(r.error for r in results) else 0


def _cmd_dedup(args: argparse.Namespace) -> int:
    from transforms.commit import locked
    from transforms.dedup_store import rebuild, story_counts

    root = _stored_root(args)
    if args.rebuild or args.window_days is not None or args.config is not None:
        window = _window(args)  # (counting needs none, but a wrong option is still named)
    if args.rebuild:
        done = locked(root, lambda: rebuild(root, window, args.since))
        print(
            f"rebuilt: {done['rows']} articles checked, {done['changed']} rows changed "
            f"in {done['files']} files"
        )
    counts = story_counts(root, args.since)
    print(
        f"articles={counts['articles']} stories={counts['stories']} copies={counts['copies']} "
        f"unflagged={counts['unflagged']}"
    )
    return 0


def _cmd_migrate_urls(args: argparse.Namespace) -> int:
    from transforms.commit import locked
    from transforms.url_migration import migrate
    from transforms.urls import URL_RULE

    root = _stored_root(args)
    window = _window(args)
    now = dt.datetime.now(dt.UTC)
    done = locked(root, lambda: migrate(root, window, now))
    if not done["files"]:
        print(
            f"every stored article file follows URL rule {URL_RULE}: "
            + (
                "finished an interrupted migration's flags"
                if done["resumed"]
                else "nothing to migrate"
            )
        )
        return 0
    print(
        f"migrated to URL rule {URL_RULE}: {done['files']} files rewritten, {done['changed']} "
        f"ids changed, {done['dropped']} rows dropped as other spellings of a stored article"
        + (f" (listed in {done['record']})" if done["record"] else "")
        + "; copy and story flags recomputed"
    )
    return 0


def _cmd_retag(args: argparse.Namespace) -> int:
    from ingest.run.retention import upkeep_settings
    from transforms.commit import locked
    from transforms.tagging import get_tagger, retag

    root = _stored_root(args)
    settings = upkeep_settings(args.config)  # the tags the ingest runs make
    tagger = get_tagger(settings.taxonomy, settings.entity_models)
    done = locked(root, lambda: retag(root, tagger, args.since))
    print(
        f"retagged: {done['rows']} articles checked, {done['changed']} changed in "
        f"{done['files']} files ({tagger.version}); {done['failed']} tagging parts failed"
    )
    return 0


def _cmd_daily(args: argparse.Namespace) -> int:
    from ingest.run.retention import remove_expired, upkeep_settings
    from ingest.run.workfiles import LEFTOVER_AGE, WRITTEN, remove_leftovers
    from transforms.commit import locked
    from transforms.compaction import compact, upgrade_tables
    from transforms.index import reconcile_index
    from transforms.lakemirror import expire_remote, lake_of, push
    from transforms.quality import Finding, check_recent, record
    from transforms.report import Retention, build_report, format_bytes
    from transforms.schema import SCHEMA_VERSION

    days = "a number of days"
    _check_range("--compact-older-than-days", args.compact_older_than_days, 0, MAX_DAYS, days)
    _check_range("--check-days", args.check_days, 1, 60, days)
    if args.day is not None and not FIRST_DAY <= args.day <= LAST_DAY:
        raise ConfigError(f"--day {args.day}: use a day from {FIRST_DAY} to {LAST_DAY}.")
    root = _stored_root(args)
    settings = upkeep_settings(args.config)
    retention = Retention(settings.keep_work_days, settings.keep_raw_days)
    now = dt.datetime.now(dt.UTC)
    day = args.day or now.date()

    def upkeep() -> list[str]:
        said = []
        if args.compact_older_than_days:
            done = compact(root, dt.timedelta(days=args.compact_older_than_days), now)
            said.append(
                f"compacted: {done['files']} files into {done['partitions']} partitions "
                f"({done['upgraded']} of them held files of an older schema version); "
                f"runs and quarantine: {done['side_files']} files into "
                f"{done['side_partitions']} partitions"
            )
        upgraded = upgrade_tables(root)
        if upgraded:
            said.append(
                f"upgraded: {upgraded} quarantine and runs files to schema {SCHEMA_VERSION}"
            )
        if reconcile_index(root):
            said.append("index: rebuilt, the files on disk had changed by hand")
        return said

    for line in locked(root, upkeep):
        print(line)
    print(f"removed: {remove_leftovers(root, now)} leftovers of killed runs")
    expired = remove_expired(root, now, settings)
    print(
        f"retention: removed {expired['work_folders']} work folders "
        f"({format_bytes(expired['work_bytes'])}) and {expired['raw_files']} raw files "
        f"({format_bytes(expired['raw_bytes'])})"
    )
    lake = lake_of(root)
    if lake is not None:
        remote = expire_remote(
            root, now, settings.keep_work_days, settings.keep_raw_days, LEFTOVER_AGE, WRITTEN
        )
        garbage = lake.collect_garbage(now)
        print(
            f"retention on {lake.location}: removed {remote['work_objects']} work "
            f"files, {remote['raw_objects']} raw files and {garbage} unpublished table files"
        )

    def checked() -> list[Finding]:  # on an object store: the newest dataset, findings published
        found = check_recent(root, day, args.check_days, now)
        record(root, day, found, now)
        return found

    findings = locked(root, checked) if lake is not None else checked()
    for finding in findings:
        print(f"{finding.severity}: {finding.check}: {finding.message}")
    report = build_report(root, day, [vars(f) for f in findings], retention)
    push(root, report.parent.rglob("*"))  # on an object store: beside the dataset
    print(f"report: {report}")
    return 1 if any(f.severity == "error" for f in findings) else 0


def _stored_root(args: argparse.Namespace) -> Path:
    """The data root of a command that works on stored articles; a clear error without any,
    or with a file that is not readable Parquet (CorruptFile, before anything is changed)."""
    from transforms.commit import synced
    from transforms.dataset import article_files
    from transforms.files import check_readable

    root = data_root(args.data, remote=True)
    _check_store(root)
    synced(root)  # on an object store: the newest dataset
    files = article_files(root)
    if not files:
        raise ConfigError(
            f"{root}: no stored articles; pass --data with the folder an ingest wrote to."
        )
    check_readable(files)  # (they read them anyway: a refused command leaves no memo)
    return root


def _check_stored(root: Path, state_url: str | None = None) -> None:
    """Open the crawl state and read the footer of every stored article file written or
    changed since the last check before any source runs: a damaged file is one CorruptFile
    here, before any request, rather than the same failure at the end of every source's
    run (the footers of the files found readable before are not read again: a run's check
    costs what was written since, not the store)."""
    from ingest.fetch.state import CrawlState
    from transforms.dataset import article_files
    from transforms.files import check_readable_changed

    CrawlState(root, state_url).close()
    check_readable_changed(root, article_files(root))


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2023-04-06") from None


def _cmd_query(args: argparse.Namespace) -> int:
    import duckdb

    from transforms.query import EmptyQuery, run_query, write_result

    location = lake_location(args.data)
    root: Path | S3Location = location if location is not None else data_root(args.data)
    if isinstance(root, Path) and not root.is_dir():
        raise ConfigError(
            f"{root}: no such data folder; pass --data with the folder an ingest wrote to."
        )
    if args.format == "parquet" and args.output is None:
        raise ConfigError("--format parquet writes a file: pass --output FILE.parquet.")
    if args.output is not None:
        _check_output(args.output, args.format)
    if location is not None:
        S3Credentials.from_env()  # a wrong AWS_ENDPOINT_URL is named as such, not as the store's
    try:
        columns, rows = run_query(root, args.sql, unsafe=args.unsafe)
    except EmptyQuery:
        raise ConfigError(
            "the query is empty (no SQL statement, only spaces, comments or semicolons); pass "
            'one, like "SELECT count(*) FROM articles".'
        ) from None
    except (OSError, ObjectStoreError) as exc:
        if isinstance(root, Path):
            raise
        reason = " ".join(str(exc).split())[:300]
        print(f"newsflow: {root}: the dataset could not be read ({reason})", file=sys.stderr)
        return 2
    except duckdb.Error as exc:
        message = str(exc).splitlines()[0]
        if not args.unsafe and _refused(exc):
            message += (
                "; queries read only the views articles, quarantine, runs and quality "
                "(--unsafe lifts this)"
            )
        print(f"newsflow: query failed: {message}", file=sys.stderr)
        return 2
    try:
        write_result(columns, rows, args.format, args.output)
    except OSError as exc:
        if args.output is None:
            raise
        raise ConfigError(
            f"--output {args.output}: cannot be written ({_reason(exc)}); pass a file you can "
            "write to."
        ) from None
    return 0


def _check_output(path: Path, fmt: str) -> None:
    """--output names a file in an existing folder: checked before the query runs."""
    if path.is_dir():
        suffix = "txt" if fmt == "table" else fmt
        raise ConfigError(
            f"--output {path}: is a folder; pass a file name, like {path / f'result.{suffix}'}."
        )
    if not path.parent.is_dir():
        raise ConfigError(
            f"--output {path}: the folder {path.parent} does not exist; create it or pass a "
            "file in an existing folder."
        )


def _reason(exc: OSError) -> str:
    """An OS error's reason without the path (the message names it already)."""
    return exc.strerror or str(exc).splitlines()[0] or type(exc).__name__


def lake_location(given: str | None) -> S3Location | None:
    """The s3:// data root named by `given` (--data) or NEWSFLOW_DATA, if it is one."""
    text = given if given is not None else os.environ.get(DATA_ENV, "")
    if not text.lower().startswith("s3://"):
        return None
    return s3_location(text, f"--data {text}" if given is not None else f"{DATA_ENV}={text}")


def _check_store(root: Path) -> None:
    """For the mirror of an object store: the store answers, or one sentence says what to
    check (exit 2) before any source runs."""
    from transforms.lakemirror import lake_of

    lake = lake_of(root)
    if lake is None:
        return
    if lake.credentials.access_key is None or lake.credentials.secret_key is None:
        raise ConfigError(
            f"{lake.location}: commits to an object store are signed with keys (a role's or "
            "a profile's credentials cannot make the conditional create yet); set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
        )
    try:
        lake.published()
    except OSError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"{lake.location}: the object store did not answer ({reason}); check "
            "AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
        ) from None


def _refused(exc: Exception) -> bool:
    """Whether DuckDB refused the query for the safe mode's settings."""
    import duckdb

    return isinstance(exc, duckdb.PermissionException) or "configuration has been locked" in str(
        exc
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    from ingest.demo import run_demo

    root = data_root(args.data)
    _check_stored(root)
    return run_demo(root)


def _cmd_serve_demo(args: argparse.Namespace) -> int:
    from ingest.demo import serve_demo

    _check_range("--port", args.port, 1, 65535, "a port number")
    try:
        return serve_demo(args.port)
    except OSError as exc:  # the port is taken, or reserved for root
        raise ConfigError(
            f"--port {args.port}: cannot serve on 127.0.0.1:{args.port} ({_reason(exc)}); stop "
            "what uses it or pass another port (and set NEWSFLOW_DEMO_URL to match)."
        ) from None


if __name__ == "__main__":
    sys.exit(main())
