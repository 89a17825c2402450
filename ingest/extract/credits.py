"""News agencies and outlets a byline credits instead of (or next to) a person: "Jane Doe,
Reuters", "dpa/AFP", "(AP)". They go to the record's `credits`; `authors` holds people
only.

A credit is recognised by name from AGENCIES, never guessed: an unknown organisation in a
byline is dropped as before (ingest.extract.authors). Each is written as spelled here.
"""

from __future__ import annotations

import re

# The agencies (and the agency-like outlets whose copy other sites run under the outlet's
# name) recognised as credits, each in the spelling the record gives it. Case, spaces,
# dots and hyphens do not matter when a byline is matched against them ("A.P.", "REUTERS").
AGENCIES: tuple[str, ...] = (
    # world and English-language agencies
    "AFP",
    "AP",
    "Associated Press",
    "Reuters",
    "Bloomberg",
    "UPI",
    "PA Media",
    "PA",
    "AAP",
    "The Canadian Press",
    "BBC News",
    "CNN",
    # German-, Dutch-, Nordic-language
    "dpa",
    "dpa-AFX",
    "epd",
    "KNA",
    "SID",
    "dts",
    "APA",
    "SDA",
    "Keystone-SDA",
    "ANP",
    "Belga",
    "TT",
    "NTB",
    "Ritzau",
    "STT",
    # Southern and Eastern Europe
    "EFE",
    "Europa Press",
    "ANSA",
    "Adnkronos",
    "Lusa",
    "PAP",
    "ČTK",
    "MTI",
    "TASS",
    "RIA Novosti",
    "Interfax",
    "Ukrinform",
    "Anadolu",
    # Asia and elsewhere
    "Kyodo",
    "Kyodo News",
    "Jiji Press",
    "Yonhap",
    "Xinhua",
    "PTI",
    "IANS",
    "ANI",
    "Bernama",
    "Antara",
)


def _key(name: str) -> str:
    return re.sub(r"[\s.\-_]+", "", name.casefold())


_BY_KEY = {_key(name): name for name in AGENCIES}
_STAFF = re.compile(
    r"\s+(?:staff|newsroom|desk|reporters?|wire)$", re.IGNORECASE
)  # "Reuters Staff"


def agency(text: str) -> str | None:
    """The agency `text` names, as AGENCIES spells it ("REUTERS" -> "Reuters"), or None. A
    short name counts only in its own case or in capitals: "Ani" and "Sid" are first names,
    "ANI" and "SID" agencies."""
    name = " ".join(text.split()).strip(" .,;:()[]")
    name = _STAFF.sub("", name) or name
    found = _BY_KEY.get(_key(name))
    if found is None or len(_key(found)) > 4:
        return found
    return found if name.isupper() or name == found else None


def agencies(text: str) -> list[str]:
    """The agencies of a credit that names one or several ("dpa/AFP", "AFP-Reuters" are
    two), or [] when any of its pieces is not a known agency."""
    found = agency(text)
    if found:
        return [found]
    pieces = [p for p in re.split(r"\s*[/+]\s*|\s+-\s+|(?<=\w)-(?=\w)", text) if p.strip()]
    named = [agency(p) for p in pieces]
    if len(pieces) > 1 and all(named):
        return [n for n in named if n]
    return []
