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
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from transforms.tagging.tokens import Token, first_words, phrases, tokenize

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Gazetteer:
    countries: dict[str, str]  # name -> code
    cities: dict[str, tuple[str, str]]  # name -> (city, code)
    ambiguous: frozenset[str]
    starts: dict[str, int]  # first word of a name -> most words of a name starting with it


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
    extra = yaml.safe_load((DATA / "places.yaml").read_text(encoding="utf-8"))
    ambiguous = frozenset(extra.pop("ambiguous", []))
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
    return Gazetteer(countries, cities, ambiguous, starts)


def find_places(text: str, tokens: list[Token] | None = None) -> tuple[list[str], list[str]]:
    """(sorted country codes, cities as printed in the gazetteer) mentioned in `text`."""
    g = gazetteer()
    tokens = tokenize(text) if tokens is None else tokens
    codes: set[str] = set()
    cities: dict[str, None] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        longest = g.starts.get(token.text) or (1 if token.capitalised else 0)
        if not token.capitalised or not longest:
            i += 1
            continue
        for name, size in phrases(tokens, i, longest):
            found = _lookup(g, name)
            if found is None:
                continue
            if name in g.ambiguous and _inside_longer_name(tokens, i, size):
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
