"""Topics and user tags by transparent rules from a YAML taxonomy (data/taxonomy.yaml, the
top level of IPTC Media Topics), extensible with the user's own file.

A tag fires when the distinct terms found score at least its `min_score` (1 per term in the
text, 2 in the title); the terms that fired are its evidence.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TAXONOMY = Path(__file__).parent / "data" / "taxonomy.yaml"
_WORD = re.compile(r"[\w'\u2019\-]+")
_TERM = re.compile(r"^[\w'\u2019\- ]+\*?$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")


class TaxonomyError(ValueError):
    """A taxonomy file that cannot be used; the message names the file, the item and the fix."""


@dataclass(frozen=True)
class Rule:
    name: str
    words: frozenset[str]  # one-word terms
    prefixes: tuple[str, ...]  # one-word terms ending in *
    phrases: tuple[str, ...]  # several words (a trailing * allowed on the last)
    min_score: int
    topic: bool  # False: a user tag that goes to `tags` only


@dataclass(frozen=True)
class Taxonomy:
    rules: tuple[Rule, ...]
    digest: str  # of the files' bytes: part of the tagger version

    def match(self, title: str, text: str) -> list[tuple[str, bool, list[str]]]:
        """(tag, is_topic, terms found) for every tag that fires, in taxonomy order."""
        title_words = _words(title)
        text_words = _words(text)
        title_line = f" {' '.join(title_words)} "
        text_line = f" {' '.join(text_words)} "
        title_set, text_set = set(title_words), set(text_words)
        title_sorted, text_sorted = sorted(title_set), sorted(text_set)
        fired = []
        for rule in self.rules:
            score = 0
            found: list[str] = []
            hits = _hits(
                rule, (title_set, title_sorted, title_line), (text_set, text_sorted, text_line)
            )
            for term, in_title, in_text in hits:
                score += 2 if in_title else 1 if in_text else 0
                found.append(term)
            if score >= rule.min_score:
                fired.append((rule.name, rule.topic, sorted(found)))
        return fired


def load_taxonomy(extra: Path | None = None) -> Taxonomy:
    """The bundled taxonomy, with the tags of `extra` (a user's file) added or replacing."""
    rules: dict[str, Rule] = {}
    digest = hashlib.sha256()
    for path in (DEFAULT_TAXONOMY, extra):
        if path is None:
            continue
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise TaxonomyError(
                f"{path}: cannot read the taxonomy file ({exc.strerror}); check the path given as `taxonomy`."
            ) from None
        digest.update(raw)
        for rule in _parse(path, raw):
            rules[rule.name] = rule
    return Taxonomy(tuple(rules.values()), digest.hexdigest()[:12])


def _parse(path: Path, raw: bytes) -> list[Rule]:
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise TaxonomyError(
            f"{path}: not a valid YAML file{line}; fix the syntax (see the bundled taxonomy.yaml)."
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("tags"), dict):
        raise TaxonomyError(
            f"{path}: needs a `tags:` mapping of tag names to `terms:` lists; see the bundled taxonomy.yaml."
        )
    default_min = _min_score(path, "min_score", data.get("min_score", 3))
    rules = []
    for name, spec in data["tags"].items():
        item = f"tags.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise TaxonomyError(
                f"{path}: {item}: a tag name is lower-case letters, digits, '_' or '-' (at most 64); rename it."
            )
        if (
            not isinstance(spec, dict)
            or not isinstance(spec.get("terms"), list)
            or not spec["terms"]
        ):
            raise TaxonomyError(
                f"{path}: {item}: give it a non-empty `terms:` list of words or phrases."
            )
        unknown = set(spec) - {"terms", "min_score", "topic"}
        if unknown:
            raise TaxonomyError(
                f"{path}: {item}: unknown key {sorted(unknown)[0]!r}; use terms, min_score or topic."
            )
        words, prefixes, phrases = set(), [], []
        for term in spec["terms"]:
            if not isinstance(term, str) or not _TERM.match(term.strip()) or term.strip() == "*":
                raise TaxonomyError(
                    f"{path}: {item}: term {term!r} is not a word or phrase (letters, digits, "
                    "spaces, ' and -, optionally ending in *); write it as one."
                )
            term = " ".join(term.casefold().split())
            if " " in term:
                phrases.append(term)
            elif term.endswith("*"):
                prefixes.append(term[:-1])
            else:
                words.add(term)
        topic = spec.get("topic", True)
        if not isinstance(topic, bool):
            raise TaxonomyError(f"{path}: {item}.topic: write true or false.")
        rules.append(
            Rule(
                name,
                frozenset(words),
                tuple(prefixes),
                tuple(phrases),
                _min_score(path, f"{item}.min_score", spec.get("min_score", default_min)),
                topic,
            )
        )
    return rules


def _min_score(path: Path, item: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise TaxonomyError(f"{path}: {item}: {value!r} is not a whole number from 1 to 100.")
    return value


def _has_prefix(words: list[str], prefix: str) -> bool:
    """Whether a sorted word list has a word starting with `prefix` (binary search)."""
    at = bisect.bisect_left(words, prefix)
    return at < len(words) and words[at].startswith(prefix)


def _words(text: str) -> list[str]:
    return [w.replace("\u2019", "'") for w in _WORD.findall(text.casefold())]


Words = tuple[set[str], list[str], str]  # the distinct words, the same sorted, " joined "


def _hits(rule: Rule, title_words: Words, text_words: Words) -> list[tuple[str, bool, bool]]:
    title, title_sorted, title_line = title_words
    text, text_sorted, text_line = text_words
    hits = []
    for word in rule.words:
        if word in title or word in text:
            hits.append((word, word in title, word in text))
    for prefix in rule.prefixes:
        in_title = _has_prefix(title_sorted, prefix)
        in_text = in_title or _has_prefix(text_sorted, prefix)
        if in_title or in_text:
            hits.append((f"{prefix}*", in_title, in_text))
    for phrase in rule.phrases:
        needle = f" {phrase[:-1]}" if phrase.endswith("*") else f" {phrase} "
        in_title, in_text = needle in title_line, needle in text_line
        if in_title or in_text:
            hits.append((phrase, in_title, in_text))
    return hits
