"""The sources file: loading and validation, and the data root.

Imported by DAG files at parse time, so it depends on the standard library and PyYAML only.
Longer than the other modules on purpose: it is the whole contract of the sources file
(every key, its bounds and the one-sentence message for each mistake) in one place.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

if TYPE_CHECKING:
    from transforms.objectstore import S3Location

SOURCES_ENV = "NEWSFLOW_SOURCES"
MAX_SOURCES_BYTES = 10_000_000  # a sources file of 10,000 sources is about 2 MB
DATA_ENV = "NEWSFLOW_DATA"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCES = PROJECT_ROOT / "sources.yaml"
DEFAULT_DATA = PROJECT_ROOT / "data"
URL_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)  # s3://, gs://, file://

DEFAULT_USER_AGENT = "newsflow/0.1 (+https://example.org/newsflow)"
# anchored (the UI hands the pattern to FastAPI, which searches); read with fullmatch here,
# since `$` also matches before a final newline
SOURCE_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
}
# characters that make URL parsers disagree about where the host ends, or split a request
_UNSAFE_URL = re.compile(r"[\\\x00-\x20\x7f-\x9f]")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

# numeric settings: key -> (whole number?, lowest, highest, what it is)
NUMERIC_SETTINGS: dict[str, tuple[bool, float, float, str]] = {
    "timeout_s": (False, 0.1, 600, "seconds to connect and between bytes"),
    "deadline_s": (False, 0.5, 3600, "seconds a whole request may take"),
    "max_page_bytes": (True, 1024, 1_000_000_000, "bytes a response may have after decompression"),
    "rate_limit_per_host": (False, 0.01, 100, "requests per second to one host"),
    "max_retries": (True, 0, 10, "retries of a failed request"),
    "backoff_base_s": (False, 0.0, 60, "seconds before the first retry"),
    "backoff_max_s": (False, 0.0, 3600, "seconds between retries at most"),
    "retry_after_cap_s": (False, 0.0, 3600, "seconds of Retry-After a request waits at most"),
    "backoff_budget_host_s": (
        False,
        0.0,
        86400,
        "seconds a run waits at most for one host that asks it to back off",
    ),
    "backoff_budget_run_s": (
        False,
        0.0,
        86400,
        "seconds a run waits at most for all hosts that ask it to back off",
    ),
    "robots_ttl_s": (False, 0.0, 30 * 86400, "seconds a robots.txt is kept"),
    "sitemap_depth": (True, 1, 10, "levels of nested sitemap indexes"),
    "sitemap_lookback_days": (False, 0.01, 36500, "days back a sitemap entry is considered"),
    "sitemaps_per_run": (True, 1, 100_000, "changed sitemaps read in one run"),
    "items_per_run": (True, 1, 10_000_000, "new items one run of a source fetches"),
    "backlog_items": (
        True,
        0,
        100_000_000,
        "items a source's backlog keeps for later runs at most; the stalest beyond are dropped",
    ),
    "chunk_items": (True, 10, 100_000, "items a stage holds in memory at once"),
    "extract_cpu_s": (False, 0.1, 3600, "seconds of CPU the extraction of one page may take"),
    "fetch_workers": (True, 1, 64, "hosts fetched in parallel"),
    "ingest_workers": (True, 1, 256, "sources newsflow ingest runs in parallel processes"),
    "retry_failed_after_s": (
        False,
        0.0,
        365 * 86400,
        "seconds before a permanently failed URL is tried again",
    ),
    "dedup_window_days": (False, 0.0, 366, "days of publication time within which copies match"),
    "keep_work_days": (
        False,
        0.0,
        3650,
        "days a committed run's work files are kept; 0 removes them at the next daily upkeep",
    ),
    "keep_raw_days": (
        False,
        1,
        36500,
        "days a raw WARC file is kept; null, the default, keeps them forever",
    ),
}
# numeric settings that may be null, meaning "no limit"; null is their default
NULLABLE_SETTINGS = {"keep_raw_days"}
SETTINGS_KEYS = {
    "user_agent",
    "allow_networks",
    "taxonomy",
    "entity_model",
    "entity_models",
    "state_url",
    *NUMERIC_SETTINGS,
}
SOURCE_KEYS = {
    "id",
    "name",
    "feeds",
    "sitemaps",
    "homepage",
    "language",
    "schedule",
    "rate_limit_per_host",
    "timezone",
    "profile",
}
# the site profiles of ingest.extract.profiles, by name (config sits below extract and may
# not import it; tests/ingest/extract/test_profiles.py checks the two lists agree)
PROFILES = ("limited-times",)
TOP_KEYS = {"settings", "sources"}


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: str, line: int) -> None:
        super().__init__(key)
        self.key, self.line = key, line


class _ComplexKey(yaml.YAMLError):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key repeated in one mapping (YAML would keep the last
    silently) and a key that is a list or a mapping. A merge key (`<<: *defaults`) is YAML's
    own way of sharing settings: the keys it brings may be overridden."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in seen
            except TypeError:  # unhashable: a list or a mapping written as a key
                raise _ComplexKey(key_node.start_mark.line + 1) from None
            if repeated:
                raise _DuplicateKey(str(key), key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class ConfigError(ValueError):
    """A sources file that cannot be used; the message is one sentence for the user."""


@dataclass(frozen=True)
class Settings:
    """Crawler settings; see NUMERIC_SETTINGS and the README's sources file section."""

    user_agent: str = DEFAULT_USER_AGENT
    timeout_s: float = 20.0
    deadline_s: float = 60.0
    max_page_bytes: int = 5_000_000
    allow_networks: tuple[str, ...] = ()
    rate_limit_per_host: float = 1.0
    max_retries: int = 3
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    retry_after_cap_s: float = 120.0
    backoff_budget_host_s: float = 300.0
    backoff_budget_run_s: float = 900.0
    robots_ttl_s: float = 86400.0
    sitemap_depth: int = 3
    sitemap_lookback_days: float = 3.0
    sitemaps_per_run: int = 200
    # new items fetched per run, the freshest first; the rest wait in the crawl state's
    # item backlog for the next runs (a first run over a long sitemap ends in hours, not days)
    items_per_run: int = 1000
    # items the backlog keeps per source at most: a source that lists more than its budget
    # every run would grow it without end; the stalest (those taken last) are dropped, and
    # the run's item_limit quarantine row says how many
    backlog_items: int = 100_000
    chunk_items: int = 500
    extract_cpu_s: float = (
        10.0  # a page over it is quarantined as too_slow (ingest.extract.cpu_limit)
    )
    fetch_workers: int = 4
    # one per core; 1 runs the sources one after another in the command's own process
    ingest_workers: int = field(default_factory=lambda: min(os.cpu_count() or 1, 256))
    retry_failed_after_s: float = 86400.0
    dedup_window_days: float = 7.0
    keep_work_days: float = 7.0  # a cleared Airflow task re-reads its run's work files
    keep_raw_days: float | None = None  # None: raw WARC files are kept forever (the bronze layer)
    taxonomy: str | None = None  # a user's taxonomy file, added to the bundled one
    # spaCy pipelines for people and organisations (transforms/tagging/models.py): None, the
    # default: the installed ones; "rules": none; else (language, pipeline or "rules") pairs,
    # or one pipeline's name for every language (the older `entity_model`)
    entity_models: str | tuple[tuple[str, str], ...] | None = None
    # the crawl state on PostgreSQL (postgresql://...; None: NEWSFLOW_STATE_URL, else SQLite)
    state_url: str | None = field(default=None, repr=False)  # may hold a password

    @property
    def robots_token(self) -> str:
        """The product token robots.txt rules are matched against ('newsflow')."""
        return self.user_agent.split("/", 1)[0].split()[0]


@dataclass(frozen=True)
class Source:
    id: str
    name: str
    feeds: tuple[str, ...]
    sitemaps: tuple[str, ...] = ()
    homepage: str | None = None
    language: str | None = None
    schedule: str = "@hourly"
    rate_limit_per_host: float | None = None
    # the IANA zone the publisher writes its times in: read for a time that states no offset
    timezone: str | None = None
    # the site profile (ingest.extract.profiles) that reads its pages, instead of the one
    # matching a page's site name or host
    profile: str | None = None

    def settings(self, base: Settings) -> Settings:
        """The global settings with this source's overrides applied."""
        if self.rate_limit_per_host is None:
            return base
        return replace(base, rate_limit_per_host=self.rate_limit_per_host)

    @property
    def cron(self) -> str:
        """The schedule as a five-field cron expression."""
        return CRON_PRESETS.get(self.schedule, self.schedule)


@dataclass(frozen=True)
class SourcesConfig:
    path: Path
    settings: Settings = field(default_factory=Settings)
    sources: tuple[Source, ...] = ()

    def select(self, ids: list[str] | None) -> list[Source]:
        """The sources named by `ids` (all when empty); raises ConfigError for an unknown id."""
        if not ids:
            return list(self.sources)
        known = {s.id: s for s in self.sources}
        for sid in ids:
            if sid not in known:
                raise ConfigError(
                    f"{self.path}: no source with id '{sid}' (known: {', '.join(known)}); "
                    "pass one of those ids to --source."
                )
        return [known[sid] for sid in ids]


def sources_path() -> Path:
    """The sources file named by NEWSFLOW_SOURCES, or the project's own sources.yaml."""
    return Path(os.environ.get(SOURCES_ENV) or DEFAULT_SOURCES)


RETRY_DELAY_ENV = "NEWSFLOW_RETRY_DELAY_S"


def retry_delay(default_s: float = 120.0) -> dt.timedelta:
    """The delay before Airflow retries a failed ingest task: NEWSFLOW_RETRY_DELAY_S seconds,
    else `default_s` (doubling with each retry)."""
    text = os.environ.get(RETRY_DELAY_ENV, "").strip()
    if not text:
        return dt.timedelta(seconds=default_s)
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86400:
        raise ConfigError(
            f"{RETRY_DELAY_ENV}={text}: must be a number of seconds from 0 to 86400, "
            "like NEWSFLOW_RETRY_DELAY_S=120."
        )
    return dt.timedelta(seconds=seconds)


def data_root(given: str | None = None, *, remote: bool = False) -> Path:
    """The data root: `given` (a command's --data), else NEWSFLOW_DATA, else the project's
    data/ folder. Every command and DAG resolves it here. With `remote` (the ingest command
    and DAG), an s3://bucket/prefix address gives the local mirror of that object store
    (transforms/lakemirror.py), made ready. Raises ConfigError for another URL, an s3://
    address where a command needs a local folder, or a path that is a file (or lies under
    one)."""
    if given is not None:
        text, item = given, f"--data {given}"
    elif os.environ.get(DATA_ENV):
        text = os.environ[DATA_ENV]
        item = f"{DATA_ENV}={text}"
    else:
        text, item = str(DEFAULT_DATA), f"the default data root {DEFAULT_DATA}"
    if remote and text.lower().startswith("s3://"):
        from transforms.lakemirror import attach

        return attach(str(s3_location(text, item)))
    if not text.strip():
        raise ConfigError(f"{item}: is empty; name the folder of the dataset.")
    if URL_SCHEME.match(text):
        raise ConfigError(
            f"{item}: this command needs a local folder as the data root (of the commands, "
            "only demo does not take an s3:// data root); pass a local folder."
        )
    path = Path(text)
    try:
        for folder in (path, *path.parents):
            if folder.exists():
                if not folder.is_dir():
                    where = "is a file" if folder == path else f"is under {folder}, which is a file"
                    raise ConfigError(
                        f"{item}: {where}, not a folder; pass a folder for the dataset "
                        "(it is created when missing)."
                    )
                break
        if remote:  # (the ingest command and DAG write there)
            path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a name too long, a symlink loop, /proc
        raise ConfigError(
            f"{item}: cannot be created or used ({exc.strerror or exc}); pass a folder this "
            "user can write."
        ) from None
    return path


def s3_location(text: str, item: str) -> S3Location:
    """`text`, an s3://bucket/prefix address given as `item` (an option or a variable);
    raises ConfigError, never echoing an address with credentials in it."""
    from transforms.objectstore import S3Location

    try:
        return S3Location.parse(text)
    except ValueError as exc:
        if "@" in text:
            raise ConfigError(f"{item.split('=')[0].split()[0]}: {exc}.") from None
        raise ConfigError(
            f"{item}: not an s3://bucket/prefix address; write it like s3://news-lake/newsflow."
        ) from None


def load_sources(path: Path | str) -> SourcesConfig:
    """Read and validate a sources file; raises ConfigError with a one-sentence message."""
    path = Path(path)
    try:
        with path.open("rb") as handle:  # (a pipe or /dev/zero has no size to check first)
            data = handle.read(MAX_SOURCES_BYTES + 1)
        if len(data) > MAX_SOURCES_BYTES:
            raise ConfigError(
                f"{path}: over {MAX_SOURCES_BYTES // 1_000_000} MB, far more than a sources file "
                "holds; check that --config names the sources file."
            )
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: file not found; create it or point --config/{SOURCES_ENV} at an existing sources file."
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"{path}: is a folder; point --config/{SOURCES_ENV} at the sources file in it."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot be read ({exc}); check the file's permissions and that it is UTF-8."
        ) from None
    try:
        raw = yaml.load(text, Loader=_StrictLoader)
    except _DuplicateKey as exc:
        raise ConfigError(
            f"{path}: the key '{exc.key}' appears twice at line {exc.line}; keep one of them."
        ) from None
    except _ComplexKey as exc:
        raise ConfigError(
            f"{path}: the key at line {exc.line} is a list or a mapping; keys are plain names "
            "such as 'feeds'."
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = str(getattr(exc, "problem", "") or "")
        if "could not determine a constructor for the tag" in problem:
            tag = problem.rsplit("tag", 1)[-1].strip()
            raise ConfigError(
                f"{path}: uses the YAML tag {tag}{where}, which a sources file does not "
                "support; remove the tag."
            ) from None
        raise ConfigError(f"{path}: is not valid YAML{where}; fix the syntax there.") from None
    except RecursionError:
        raise ConfigError(
            f"{path}: nests lists or mappings too deeply; a sources file needs three levels."
        ) from None
    try:
        return parse_sources(raw, path)
    except RecursionError:  # (an alias that holds itself, say)
        raise ConfigError(
            f"{path}: nests lists or mappings too deeply (or an alias holds itself); a sources "
            "file needs three levels."
        ) from None


def parse_sources(raw: Any, path: Path) -> SourcesConfig:
    """Validate an already-parsed sources document."""
    raw = _expand_env(raw, path)
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping with 'settings' and 'sources'; see the README's sources file contract."
        )
    _reject_unknown(raw, TOP_KEYS, path, "the top level")
    given = raw.get("settings")
    settings = _parse_settings({} if given is None else given, path)  # (None: `settings:`)
    items = raw.get("sources")
    if not isinstance(items, list) or not items:
        raise ConfigError(
            f"{path}: 'sources' must be a non-empty list of sources; add at least one source with an id and feeds."
        )
    sources: list[Source] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        source = _parse_source(item, index, path)
        if source.id in seen:
            raise ConfigError(
                f"{path}: source '{source.id}' is defined twice; give each source a unique id."
            )
        seen.add(source.id)
        sources.append(source)
    return SourcesConfig(path=path, settings=settings, sources=tuple(sources))


def _expand_env(value: Any, path: Path, done: dict[int, Any] | None = None) -> Any:
    """Replace ${NAME} and ${NAME:-default} in every string of the document. An object met
    again (YAML aliases share one) is expanded once: a document of aliases that nest
    aliases stays as small as its text, and one that holds itself stays a cycle."""
    done = {} if done is None else done
    if id(value) in done:
        return done[id(value)]
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if default is not None and "${" in default:
                raise ConfigError(
                    f"{path}: the default of ${{{name}:-...}} names another variable; "
                    "write the default itself (one level of ${...} only)."
                )
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(
                f"{path}: environment variable {name} is not set; set it or write ${{{name}:-default}}."
            )

        return _ENV_REF.sub(sub, value)
    if isinstance(value, list):
        out: list[Any] = []
        done[id(value)] = out
        out.extend(_expand_env(v, path, done) for v in value)
        return out
    if isinstance(value, dict):
        mapping: dict[Any, Any] = {}
        done[id(value)] = mapping
        for k, v in value.items():
            mapping[k] = _expand_env(v, path, done)
        return mapping
    return value


def _reject_unknown(mapping: dict[str, Any], allowed: set[str], path: Path, where: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise ConfigError(
                f"{path}: {where} has unknown key '{key}' (allowed: {', '.join(sorted(allowed))}); rename or remove it."
            )


def _parse_settings(raw: Any, path: Path) -> Settings:
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: 'settings' must be a mapping; write it as 'settings:' with indented keys."
        )
    _reject_unknown(raw, SETTINGS_KEYS, path, "'settings'")
    defaults = Settings()
    user_agent = raw.get("user_agent", defaults.user_agent)
    if (
        not isinstance(user_agent, str)
        or not user_agent.strip()
        or not user_agent.strip().split("/", 1)[0].split()
        or not all(32 <= ord(c) < 127 for c in user_agent)
    ):
        raise ConfigError(
            f"{path}: settings.user_agent must be printable ASCII starting with this crawler's "
            "name (robots.txt rules are matched against it), like "
            f'user_agent: "{DEFAULT_USER_AGENT}".'
        )
    networks = raw.get("allow_networks", [])
    if not isinstance(networks, list):
        raise ConfigError(
            f'{path}: settings.allow_networks must be a list of CIDR ranges such as "127.0.0.0/8".'
        )
    for net in networks:
        try:
            ipaddress.ip_network(str(net), strict=False)
        except ValueError:
            raise ConfigError(
                f"{path}: settings.allow_networks has '{net}', which is not a CIDR range; write it like \"127.0.0.0/8\"."
            ) from None
    numbers = {
        key: _number(raw, key, getattr(defaults, key), path, "settings")
        for key in NUMERIC_SETTINGS
        if not (key in NULLABLE_SETTINGS and raw.get(key) is None)
    }
    return Settings(
        user_agent=user_agent.strip(),
        allow_networks=tuple(str(n) for n in networks),
        taxonomy=_taxonomy(raw.get("taxonomy"), path),
        entity_models=_entity_models(raw, path),
        state_url=_state_url(raw.get("state_url"), path),
        **numbers,  # type: ignore[arg-type]
    )


def _taxonomy(value: Any, path: Path) -> str | None:
    """A user's taxonomy file (relative to the sources file), checked by loading it."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"{path}: settings.taxonomy must be the path of a taxonomy YAML file, like taxonomy: my-tags.yaml."
        )
    from transforms.tagging.topics import TaxonomyError, load_taxonomy

    try:
        target = (path.parent / value.strip()).resolve()
        load_taxonomy(target)
    except TaxonomyError as exc:
        raise ConfigError(f"{path}: settings.taxonomy: {exc}") from None
    except (OSError, ValueError) as exc:  # a NUL byte, a name too long
        raise ConfigError(
            f"{path}: settings.taxonomy {value!r} is not a usable path ({exc}); name the "
            "taxonomy YAML file."
        ) from None
    return str(target)


def _state_url(value: Any, path: Path) -> str | None:
    """A PostgreSQL address for the crawl state (its password best given as ${VARIABLE})."""
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else ""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
        ok = parts.scheme in ("postgresql", "postgres") and bool(parts.hostname) and parts.path
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(
            f"{path}: settings.state_url must be a PostgreSQL address such as "
            "postgresql://newsflow:${NEWSFLOW_DB_PASSWORD}@db.example:5432/newsflow "
            "(leave it out to keep the crawl state in the data root's SQLite file)."
        )
    return text


def _entity_models(raw: dict[str, Any], path: Path) -> str | tuple[tuple[str, str], ...] | None:
    from transforms.tagging.models import ANY_LANGUAGE, RULES

    if raw.get("entity_model") is not None and raw.get("entity_models") is not None:
        raise ConfigError(
            f"{path}: settings has both entity_model and entity_models; keep entity_models "
            "(entity_model: NAME is the older spelling of entity_models: {'*': NAME})."
        )
    if raw.get("entity_model") is not None:
        value = raw["entity_model"]
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                f"{path}: settings.entity_model must name an installed spaCy pipeline, like "
                "entity_model: en_core_web_sm."
            )
        if value.strip() == RULES:  # (as entity_models: rules)
            return RULES
        return _pipeline(value.strip(), "entity_model", path)
    value = raw.get("entity_models")
    if value is None or value == RULES:
        return value
    example = "entity_models: {en: en_core_web_sm, de: rules}, or entity_models: rules"
    if not isinstance(value, dict) or not value:
        raise ConfigError(
            f"{path}: settings.entity_models must map languages to spaCy pipelines, like {example}."
        )
    pairs = []
    for language, model in value.items():
        if not isinstance(language, str) or not (
            language == ANY_LANGUAGE or re.fullmatch(r"[a-z]{2,3}", language)
        ):
            raise ConfigError(
                f"{path}: settings.entity_models has the key {language!r}; use a language code "
                f"(en, de, fr …) or '*' for every language, like {example}."
            )
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(
                f"{path}: settings.entity_models.{language} must name a spaCy pipeline or "
                f"'rules', like {example}."
            )
        model = model.strip()
        pairs.append(
            (
                language,
                model if model == RULES else _pipeline(model, f"entity_models.{language}", path),
            )
        )
    return tuple(sorted(pairs))


def _pipeline(model: str, where: str, path: Path) -> str:
    """An installed spaCy pipeline's name (or folder), else one sentence saying how to get it."""
    import importlib.util

    from transforms.tagging.models import installed, pipeline_folder

    if importlib.util.find_spec("spacy") is None:
        raise ConfigError(
            f"{path}: settings.{where} is {model!r}, but spaCy is not installed; "
            "install it and the model (see the README's Tagging section) or remove the setting."
        )
    for folder in (path.parent / model, Path(model)):  # a pipeline saved to a folder
        if folder.is_dir():
            if not pipeline_folder(folder):
                raise ConfigError(
                    f"{path}: settings.{where} names the folder {folder}, which holds no saved "
                    "spaCy pipeline (no config.cfg and meta.json); name an installed pipeline "
                    "or the folder nlp.to_disk() wrote."
                )
            return str(folder.resolve())
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", model):
        raise ConfigError(
            f"{path}: settings.{where} is {model!r}, which is neither a spaCy pipeline package "
            "name (letters, digits and underscores, like en_core_web_sm) nor a folder holding a "
            "saved pipeline; correct the name."
        )
    if not installed(model):
        raise ConfigError(
            f"{path}: settings.{where} names the spaCy pipeline {model!r}, which is not "
            f"installed; install it (python -m spacy download {model}, or the pinned wheel the "
            "README names) or remove the entry."
        )
    return model


def _number(raw: dict[str, Any], key: str, default: float, path: Path, where: str) -> float | int:
    whole, low, high, meaning = NUMERIC_SETTINGS[key]
    value: Any = raw.get(key, default)
    wrong_kind = isinstance(value, bool) or not isinstance(value, int if whole else int | float)
    if wrong_kind or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise ConfigError(
            f"{path}: {where}.{key} ({meaning}) must be {kind} from {low:g} to {high:g}, not {value!r}."
        )
    return int(value) if whole else float(value)


def _parse_source(raw: Any, index: int, path: Path) -> Source:
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: sources item {index + 1} must be a mapping with id, name, feeds; see the README."
        )
    sid = raw.get("id")
    if not isinstance(sid, str) or not SOURCE_ID.fullmatch(sid):
        raise ConfigError(
            f"{path}: sources item {index + 1} has id {sid!r}; ids must be lower-case letters, digits and dashes such as 'limited-times'."
        )
    where = f"source '{sid}'"
    _reject_unknown(raw, SOURCE_KEYS, path, where)
    name = raw.get("name", sid)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(
            f"{path}: {where} has name {name!r}; give it the publisher's name as text."
        )
    feeds = _url_list(raw.get("feeds", []), path, where, "feeds")
    sitemaps = _url_list(raw.get("sitemaps", []), path, where, "sitemaps")
    homepages = _url_list(raw.get("homepage", []), path, where, "homepage")
    if len(homepages) > 1:
        raise ConfigError(f"{path}: {where} has several homepages; give one URL under 'homepage'.")
    if not (feeds or sitemaps or homepages):
        raise ConfigError(
            f"{path}: {where} has no 'feeds'; list at least one RSS, Atom or JSON feed URL under 'feeds' (or give 'sitemaps' or a 'homepage')."
        )
    rate = None
    if "rate_limit_per_host" in raw:
        rate = float(_number(raw, "rate_limit_per_host", 1.0, path, where))
    language = raw.get("language")
    if language is not None and (
        not isinstance(language, str) or not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)*", language)
    ):
        raise ConfigError(
            f"{path}: {where} has language {language!r}; use a language code such as 'en' or 'de'."
        )
    schedule = raw.get("schedule", "@hourly")
    if not isinstance(schedule, str) or not _valid_schedule(schedule):
        raise ConfigError(
            f"{path}: {where} has schedule {schedule!r}; use a five-field cron expression or one of {', '.join(CRON_PRESETS)}."
        )
    zone = raw.get("timezone")
    if zone is not None and not _known_zone(zone):
        raise ConfigError(
            f"{path}: {where} has timezone {zone!r}; use an IANA time-zone name such as "
            "'Europe/Berlin' or 'America/New_York'."
        )
    profile = raw.get("profile")
    if profile is not None and profile not in PROFILES:
        raise ConfigError(
            f"{path}: {where} has profile {profile!r}, which is not a site profile of newsflow; "
            f"use one of {', '.join(PROFILES)}, or leave 'profile' out to match pages by their "
            "site name."
        )
    return Source(
        id=sid,
        name=name.strip(),
        feeds=feeds,
        sitemaps=sitemaps,
        homepage=homepages[0] if homepages else None,
        language=language,
        schedule=schedule.strip(),
        rate_limit_per_host=rate,
        timezone=zone,
        profile=profile,
    )


def _known_zone(name: Any) -> bool:
    import zoneinfo

    if not isinstance(name, str) or not name.strip() or name != name.strip():
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # (OSError: a tzdata folder)
        return False
    return True


def _url_list(raw: Any, path: Path, where: str, key: str) -> tuple[str, ...]:
    if raw is None or raw == []:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: {where} '{key}' must be a list of URLs.")
    urls = []
    for url in raw:
        try:
            parts = urlsplit(str(url))
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            parts = urlsplit("")
        if not isinstance(url, str) or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"{path}: {where} has '{_shown(url)}' in '{key}', which is not an http(s) URL; write the full address."
            )
        if unsafe_url_reason(url) is not None:
            raise ConfigError(
                f"{path}: {where} has {_shown(url)!r} in '{key}', which holds a backslash, a space or a control character; write the address without it (percent-encode what belongs in the path)."
            )
        if parts.username is not None or parts.password is not None:
            raise ConfigError(
                f"{path}: {where} has a URL with a user name or password in '{key}'; newsflow "
                "stores each article's feed URL, so remove them (feeds that need a login are not "
                "supported)."
            )
        urls.append(str(url))
    return tuple(urls)


def _shown(url: Any) -> Any:
    """`url` for a message, a password in it masked."""
    return re.sub(r"(//[^/?#:@]*):[^/?#@]*@", r"\1:***@", url) if isinstance(url, str) else url


def unsafe_url_reason(url: str) -> str | None:
    """Why `url` is refused before parsing (a backslash, CR/LF or another control character,
    or a space), or None when it has none of them."""
    found = _UNSAFE_URL.search(url)
    if found is None:
        return None
    return f"{url[:200]!r} contains {found.group()!r}, which URL parsers disagree about"


def _valid_schedule(schedule: str) -> bool:
    schedule = schedule.strip()
    if schedule in CRON_PRESETS:
        return True
    if len(schedule.split()) != 5:
        return False
    if re.search(r"(?<![A-Za-z])[HR](?![A-Za-z])", schedule):
        return False  # croniter's hashed and random fields: a schedule must be one schedule
    from croniter import croniter  # light; installed with Airflow

    if not croniter.is_valid(schedule):
        return False
    try:  # a valid expression may never fire ("0 0 31 2 *": February 31st)
        croniter(schedule, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)).get_next(dt.datetime)
    except Exception:
        return False
    return True
