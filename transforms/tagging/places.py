"""Countries (ISO 3166-1 alpha-2) and unambiguous cities an article mentions.

Names come from three gazetteers: pycountry (official, common and short names of every
country), data/places.yaml (demonyms and adjectives, capitals and well-known metonyms:
"Belarusian" -> BY, "the Kremlin" -> RU, "Donbass" -> UA) and data/cities.tsv (cities of
300,000 people or more whose name no other large city shares, from GeoNames). A name
counts when printed capitalised as whole words; names that are also people's or things'
names (the `ambiguous` list) count only when not part of a longer capitalised name
("Michael Jordan", "Georgia Tech").
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from transforms.tagging.tokens import Token, first_words, phrases, tokenize

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Gazetteer:
    countries: dict[str, str]  # name -> code
    cities: dict[str, tuple[str, str]]  # name -> (city, code)
    ambiguous: frozenset[str]
    starts: dict[str, int]  # first word of a name -> most words of a name starting with it
    adjectives: dict[str, dict[str, str]]  # language -> its lower-case adjectives -> code
    after_place_word: frozenset[str]  # names that count only after PLACE_PREPOSITIONS


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    import pycountry

    countries: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            name = getattr(country, attr, None)
            if name:
                countries[name] = country.alpha_2
                if "," in name:  # "Korea, Republic of" is printed as "Republic of Korea"
                    head, tail = (p.strip() for p in name.split(",", 1))
                    countries[f"{tail} {head}"] = country.alpha_2
    for name, code in _translated_names(pycountry).items():
        countries.setdefault(name, code)  # an English name wins over a translation
    extra = yaml.safe_load((DATA / "places.yaml").read_text(encoding="utf-8"))
    ambiguous = frozenset(extra.pop("ambiguous", []))
    after_place_word = frozenset(extra.pop("after_place_word", []))
    for code, names in extra.items():
        if not (isinstance(code, str) and len(code) == 2 and code.isupper()):
            raise ValueError(f"places.yaml: {code!r} is not an ISO country code; quote it")
        for name in names:
            countries[name] = code
    for name in list(countries):  # "the Netherlands" and "Netherlands"; "Russians"
        if name.startswith("the "):
            countries.setdefault(name[4:], countries[name])
    cities: dict[str, tuple[str, str]] = {}
    with (DATA / "cities.tsv").open(encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if row and not row[0].startswith("#"):
                cities.setdefault(row[0], (row[0], row[1]))
    starts = first_words([*countries, *cities])
    return Gazetteer(countries, cities, ambiguous, starts, _adjectives(), after_place_word)


def _adjectives() -> dict[str, dict[str, str]]:
    """Every form of the lower-case country adjectives of data/adjectives.yaml, by language."""
    data = yaml.safe_load((DATA / "adjectives.yaml").read_text(encoding="utf-8"))
    german: dict[str, str] = {}
    for stem, code in data["de"].items():
        for ending in ("", "e", "en", "er", "es", "em"):
            german[stem + ending] = code
    french: dict[str, str] = {}
    for word, code in data["fr"].items():
        if word.endswith("en"):  # ukrainien, nord-coréen
            endings: tuple[str, ...] = ("", "ne", "s", "nes")
        elif word.endswith(("ais", "ois")):  # français, chinois
            endings = ("", "e", "es")
        elif word.endswith("e"):  # russe, belge
            endings = ("", "s")
        else:  # allemand, américain, espagnol
            endings = ("", "e", "s", "es")
        for ending in endings:
            french[word + ending] = code
    french.update(data.get("fr_forms") or {})
    for word, code in [*german.items(), *french.items()]:
        if not (isinstance(code, str) and len(code) == 2 and code.isupper()):
            raise ValueError(f"adjectives.yaml: {word}: {code!r} is not an ISO country code")
    return {"de": german, "fr": french}


_ELIDED = re.compile(r"^[LlDd]['\u2019](?=[^\W\d_])(?=[A-ZÀ-Ý])")
_APOSTROPHES = ("'", "\u2019")
PLACE_PREPOSITIONS = frozenset({"in", "at", "from", "to", "near", "outside"})
# the languages whose country names pycountry's translations add ("Deutschland", "Allemagne")
NAME_LANGUAGES = ("de", "fr", "es", "it", "nl", "pt")
# an organisation named after a country is not news about it: "Union Bank of Switzerland",
# "University of Ghana" (the country word after one of these and "of" is not counted)
ORGANISATION_HEADS = frozenset(
    {
        "Bank",
        "University",
        "College",
        "Institute",
        "School",
        "Museum",
        "Hospital",
        "Orchestra",
        "Association",
        "Federation",
        "Society",
        "Foundation",
        "Corporation",
        "Company",
        "Club",
    }
)


def _translated_names(pycountry: Any) -> dict[str, str]:
    """Country names in NAME_LANGUAGES from pycountry's own translations (official, common
    and short names), multi-word names and single words alike."""
    import gettext

    found: dict[str, str] = {}
    for language in NAME_LANGUAGES:
        try:
            translation = gettext.translation(
                "iso3166-1", pycountry.LOCALES_DIR, languages=[language]
            )
        except OSError:
            continue
        for country in pycountry.countries:
            for attr in ("name", "official_name", "common_name"):
                english = getattr(country, attr, None)
                if not english:
                    continue
                name = translation.gettext(english)
                if name != english and "," not in name and name[:1].isupper():
                    found.setdefault(name, country.alpha_2)
    return found


def find_places(
    text: str, tokens: list[Token] | None = None, language: str | None = None
) -> tuple[list[str], list[str]]:
    """(sorted country codes, cities as printed in the gazetteer) mentioned in `text`;
    `language`, the article's, adds the lower-case adjectives of German or French."""
    g = gazetteer()
    adjectives = g.adjectives.get((language or "").lower()[:2], {})
    tokens = tokenize(text) if tokens is None else list(tokens)  # respelled below, a copy
    codes: set[str] = set()
    cities: dict[str, None] = {}
    i = 0
    starts = g.starts
    while i < len(tokens):
        token = tokens[i]
        word = token.text
        # (each test's cheap part first: most words are no dateline and no elision)
        if token.sentence_start and _dateline(tokens, i, text):  # "WASHINGTON 1996-12-06 -"
            token = token._replace(text=word.title())
            tokens[i] = token
        elif word[1:2] in _APOSTROPHES and _ELIDED.match(word):  # "l'Allemagne", "d'Italia"
            token = token._replace(text=word[2:], start=token.start + 2)
            tokens[i] = token
        word = token.text
        if not word[:1].isupper():  # (a capitalised word has a longest phrase of 1 or more)
            if word in adjectives:  # "die russische Armee"
                codes.add(adjectives[word])
            i += 1
            continue
        longest = starts.get(word) or 1
        for name, size in phrases(tokens, i, longest):
            found = _lookup(g, name)
            if found is None:
                continue
            if name in g.ambiguous and _inside_longer_name(tokens, i, size):
                continue
            if name in g.after_place_word and (
                i == 0 or tokens[i - 1].text.lower() not in PLACE_PREPOSITIONS
            ):
                continue
            if _named_after(tokens, i):
                continue
            code, city = found
            codes.add(code)
            if city:
                cities.setdefault(city)
            i += size - 1
            break
        i += 1
    return sorted(codes), list(cities)


def _lookup(g: Gazetteer, name: str) -> tuple[str, str | None] | None:
    if name in g.cities:
        city, code = g.cities[name]
        return code, city
    if name in g.countries:
        return g.countries[name], None
    if name.endswith("s") and name[:-1] in g.countries and " " not in name:
        return g.countries[name[:-1]], None  # Russians, Finns, Poles: plural demonyms
    return None


def _inside_longer_name(tokens: list[Token], start: int, size: int) -> bool:
    before = tokens[start - 1] if start > 0 else None
    after = tokens[start + size] if start + size < len(tokens) else None
    if before is not None and before.capitalised and not tokens[start].sentence_start:
        return True
    return after is not None and after.capitalised and not after.sentence_start


def _dateline(tokens: list[Token], at: int, text: str) -> bool:
    """Whether tokens[at] is an ALL-CAPS place opening a line or the text, followed by a
    date, an agency in brackets or a dash: the dateline of agency copy ("WASHINGTON
    1996-12-06", "BERLIN (dpa) -", "PARIS, March 3 (Reuters) -")."""
    token = tokens[at]
    if not (token.sentence_start and token.text.isupper() and len(token.text) > 2):
        return False
    follows = text[token.end : token.end + 3].lstrip(" ,")
    after = tokens[at + 1].text if at + 1 < len(tokens) else ""
    return follows[:1] in ("(", "-", "\u2013", "\u2014") or after[:1].isdigit() or after.isupper()


def _named_after(tokens: list[Token], at: int) -> bool:
    """Whether the name at tokens[at] ends an organisation's name: "<Head> of <name>"."""
    return (
        at >= 2
        and tokens[at - 1].text in ("of", "de", "für")
        and tokens[at - 2].text in ORGANISATION_HEADS
    )
