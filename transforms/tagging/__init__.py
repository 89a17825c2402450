"""Tags computed from an article's stored text, offline and reproducibly: language, places,
people and organisations, topics and user tags, keywords.

Each part runs on its own: a part that fails leaves its columns empty, logs the error and
never fails the article. Every part reads at most TITLE_CHARS of the title and TEXT_CHARS of
the text; once an article's tagging has taken longer than its time budget, the parts left
are skipped (their columns empty, counted as failed). `tagger_version` records what produced
the tags (this package's version, the entity tagger, and a digest of the taxonomy files), so
`newsflow retag` can recompute them over history when any of it changes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from transforms.normalise import clip
from transforms.tagging.entities import EntityTagger
from transforms.tagging.models import entity_tagger
from transforms.tagging.topics import Taxonomy, load_taxonomy

TAGGER_VERSION = "4"  # 2: Norway tagged (places.yaml read NO as false); 3: "Russia" itself;
# 4: German and French places, the declared language when the detector is unsure
TAG_COLUMNS = (
    "language",
    "language_score",
    "places",
    "cities",
    "people",
    "organizations",
    "topics",
    "keywords",
    "tags",
    "tag_evidence",
    "tagger_version",
)
TITLE_CHARS = 1_000  # headlines run to about 150 characters: a longer title is misplaced text
TEXT_CHARS = 200_000  # the evaluation sets' longest article body has 53,000 characters
BUDGET_S = 2.0  # seconds for one article's parts; a 50,000-character article takes about 0.05
log = logging.getLogger(__name__)
_clock = time.monotonic


@dataclass(frozen=True)
class Tagger:
    taxonomy: Taxonomy
    entities: EntityTagger
    budget_s: float = BUDGET_S

    @property
    def version(self) -> str:
        return f"{TAGGER_VERSION}+{self.entities.name}+taxonomy-{self.taxonomy.digest}"

    def load(self) -> None:
        """Load the language model and the gazetteers now (once per process) rather than in
        the first article's parts: loading must not count against an article's time budget
        (half a second of loading took over two seconds in processes starting together)."""
        from transforms.tagging.entities import gazetteer as entity_names
        from transforms.tagging.language import _identifier
        from transforms.tagging.places import gazetteer as place_names

        _identifier()
        place_names()
        entity_names()  # (a spaCy pipeline loads when its language first comes: `tag`)

    def tag(
        self, title: str | None, text: str, declared_language: str | None
    ) -> tuple[dict[str, Any], list[str]]:
        """The tag columns for one article and the parts that failed or were skipped (their
        columns empty). Never raises for a part's error."""
        from transforms.tagging.keywords import keywords
        from transforms.tagging.language import detect
        from transforms.tagging.places import find_places
        from transforms.tagging.tokens import flatten, tokenize

        self.load()  # (once per process; cached after) before the budget's clock starts
        started = _clock()
        title = clip(title or "", TITLE_CHARS)
        text = clip(text, TEXT_CHARS)
        full = f"{title}\n{text}"
        out: dict[str, Any] = {
            "language": declared_language,
            "language_score": None,
            "places": [],
            "cities": [],
            "people": [],
            "organizations": [],
            "topics": [],
            "keywords": [],
            "tags": [],
            "tag_evidence": [],
            "tagger_version": self.version,
        }
        failed: list[str] = []
        skipped: list[str] = []

        def part(name: str, work: Any) -> None:
            if _clock() - started > self.budget_s:
                skipped.append(name)
                failed.append(name)
                return
            try:
                out.update(work())
            except Exception:
                log.exception("tagging: %s failed for %r", name, title[:80])
                failed.append(name)

        def language() -> dict[str, Any]:
            found, score = detect(text, declared_language)
            return {"language": found, "language_score": score}

        def prepare() -> None:
            """The entity tagger's loading for the article's language, off its budget's
            clock (a pipeline loads once per process, when its language first comes)."""
            nonlocal started
            loading = _clock()
            try:
                self.entities.prepare(out["language"] or declared_language)
            except Exception:  # the entities part fails on its own if it must
                log.exception("tagging: loading for %r failed", title[:80])
            started += _clock() - loading
            out["tagger_version"] = self.version  # a pipeline that did not load: `rules`

        flat = flatten(full)
        tokens = tokenize(flat)

        def places() -> dict[str, Any]:
            codes, cities = find_places(flat, tokens, out["language"] or declared_language)
            return {"places": codes, "cities": cities}

        def entities() -> dict[str, Any]:
            language = out["language"] or declared_language
            people, organizations = self.entities.people_and_organizations(flat, tokens, language)
            return {"people": people, "organizations": organizations}

        def topics() -> dict[str, Any]:
            fired = self.taxonomy.match(title, text)
            return {
                "topics": [tag for tag, is_topic, _ in fired if is_topic],
                "tags": [tag for tag, _, _ in fired],
                "tag_evidence": [{"tag": tag, "terms": terms} for tag, _, terms in fired],
            }

        part("language", language)
        prepare()
        part("places", places)
        part("entities", entities)
        part("topics", topics)
        part("keywords", lambda: {"keywords": keywords(title, text)})
        if skipped:
            log.warning(
                "tagging: over its %.1f s budget for %r, skipped %s",
                self.budget_s,
                title[:80],
                ", ".join(skipped),
            )
        return out, failed


@lru_cache(maxsize=4)
def get_tagger(
    taxonomy: str | None = None, entity_models: str | tuple[tuple[str, str], ...] | None = None
) -> Tagger:
    """The tagger for a taxonomy file and the entity models setting (transforms/tagging/
    models.py: None for the default, "rules", or (language, pipeline) pairs), cached per
    process."""
    return Tagger(load_taxonomy(Path(taxonomy) if taxonomy else None), entity_tagger(entity_models))


def tag_rows(rows: list[dict[str, Any]], tagger: Tagger) -> int:
    """Set the tag columns of article rows in place (the declared language is kept in
    `language_declared`); returns how many parts failed."""
    if rows:
        tagger.load()
    failures = 0
    for row in rows:
        declared = row.get("language_declared") or row.get("language")
        columns, failed = tagger.tag(row.get("title"), row.get("text") or "", declared)
        row.update(columns)
        row["language_declared"] = declared
        failures += len(failed)
    return failures


def retag(root: Path, tagger: Tagger, since: Any = None) -> dict[str, int]:
    """Recompute the tag columns of stored articles (of partitions on or after `since`, a
    date) with `tagger`, rewriting only files whose tags change: running it twice changes
    nothing the second time. The caller holds the dataset's commit lock."""
    import pyarrow as pa

    from transforms.dataset import article_files, write_atomic
    from transforms.files import read_stored
    from transforms.schema import ARTICLE_SCHEMA, PARTITION_COLUMN

    counts = {"rows": 0, "changed": 0, "files": 0, "failed": 0}
    for path in article_files(root):
        day = path.parent.name.removeprefix(f"{PARTITION_COLUMN}=")
        if since is not None and day < since.isoformat():
            continue
        rows = read_stored(path, ARTICLE_SCHEMA).to_pylist()
        before = [{k: r.get(k) for k in (*TAG_COLUMNS, "language_declared")} for r in rows]
        counts["failed"] += tag_rows(rows, tagger)
        after = [{k: r.get(k) for k in (*TAG_COLUMNS, "language_declared")} for r in rows]
        changed = sum(_differs(a, b) for a, b in zip(after, before, strict=True))
        counts["rows"] += len(rows)
        if changed:
            table = pa.Table.from_pylist(rows, schema=ARTICLE_SCHEMA)
            write_atomic(table, path, rows_from=[path])
            counts["changed"] += changed
            counts["files"] += 1
    return counts


def _differs(after: dict[str, Any], before: dict[str, Any]) -> bool:
    """Compared as stored: the score is a float32 column."""
    import numpy as np

    for key, value in after.items():
        old = before[key]
        if key == "language_score" and value is not None and old is not None:
            if np.float32(value) != np.float32(old):
                return True
        elif value != old:
            return True
    return False
