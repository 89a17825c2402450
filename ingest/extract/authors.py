"""Bylines to a clean list of people: no "By", no organisations, no duplicates; the news
agencies a byline credits (ingest.extract.credits) kept apart from the people."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ingest.extract.credits import agencies
from ingest.extract.dates import MONTHS

_PREFIX = re.compile(
    r"^(?:(?:written|reported|posted|story|text|words|photos?|recipe|article|post|review|"
    r"interview|column|analysis)\s+)?(?:by|von|par|por|di|door|av|przez)\s*[:\-]?\s+",
    re.IGNORECASE,
)
_LABEL = re.compile(
    r"^(?:(?:authors?|autor(?:in|en)?|auteurs?|byline)\s*:?|(?:text|texte|words)\s*:)\s+",
    re.IGNORECASE,
)
# a photo, image or illustration credit: not the article's author ("Foto: Ole Berg"); what
# follows its label is cut off the byline
_PHOTO_CREDIT = re.compile(
    r"(?:^|(?<=[\s,;|(]))(?:fotos?|photos?|photograph|bild(?:er)?|images?|pictures?|"
    r"credits?|illustrations?|grafik|video)\s*:.*$|(?:写真|사진)\s*[:\uff1a・=].*$",
    re.IGNORECASE,
)
# Japanese and Korean bylines: "文・山田太郎", "記者 김철수" before the name, "山田太郎 記者",
# "김철수 기자 kim@example.kr" after it (the role ends the name)
_CJK_PREFIX = re.compile(
    r"^(?:(?:写真・)?(?:取材・)?(?:文|筆者|著者|執筆|글)\s*[・:\uff1a/\uff0f=]|(?:記者|기자)\s*[:\uff1a=]?)\s*"
)
_CJK_ROLE = re.compile(
    r"\s*(?:記者|特派員|編集委員|論説委員|客員記者|기자|특파원|객원기자|선임기자|수습기자)(?:\s.*)?$"
)
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
# a bracket the byline's end cut open ("Elena Oberholzer (obe"), or an agency or initials
# in brackets after a name ("Jane Doe (dpa)", "Jane Doe (jd)"): what the bracket holds is
# not part of the name
_OPEN_BRACKET = re.compile(r"^(.*?\S)\s*[(\[]([^)\]]*)$")
_BRACKETED = re.compile(r"^(.*?\S)\s*[(\[]([^)\]]*)[)\]]\s*$")
# "and"/"und" in any case ("JOHN SMITH AND JANE DOE"); the one- and two-letter
# conjunctions (Spanish "y", Italian "e", Catalan "i", ...) only in lower case: "Sarah E
# Needleman" has a middle initial, not two authors
_SPLIT = re.compile(r"\s*(?:,|;|\||&|\b(?i:and|und)\b|\b(?:et|y|e|en|och|i)\b)\s*")
# what follows a name in a byline widget: its date line, a reviewer, a bullet before the date
_TAIL = re.compile(
    r"\s*(?:\b(?:last\s+)?(?:updated|published|posted|modified)\b|"
    r"\b(?:medically\s+|fact[- ]?)?(?:reviewed|checked|edited)\s+by\b|[\u2022\u00b7]).*$",
    re.IGNORECASE,
)
_ORG_WORDS = re.compile(
    r"\b(?:news|staff|team|desk|editorial|editors?|newsroom|media|press|agency|agencies|associated|reuters|afp|dpa|"
    r"inc|ltd|llc|gmbh|corp|company|group|online|magazine|times|post|daily|herald|tribune|gazette|journal|"
    r"wire|service|redaktion|admin|administrator|contributors?|guest|sponsored|"
    r"writer|reporter|correspondent|columnist|photographer|producer|author)\b",
    re.IGNORECASE,
)
# job descriptions ("Ben Cole, Digital Security Expert", "Luxury Travel Expert") are never
# a name
_ROLE_WORD = re.compile(
    r"\b(?:founder|co-?founder|ceo|cto|cfo|coo|director|expert|consultant|educators?|reviewer|"
    r"editor|winemaker|specialist|strategist|manager|analyst|attorney|lawyer|bsn|phd|dvm)\b",
    re.IGNORECASE,
)
# titles and degrees that follow a first and a last name end the name there ("Mateo Haber
# Founder", "Cara Dunn RN"); those that are also surnames ("Edith Head") need both before
_ROLE_TAIL = re.compile(
    r"^(\S+\s+\S+?)\s+(?:former|founder|co-?founder|ceo|cto|cfo|coo|head|chief|lead|senior|"
    r"managing)\b.*$",
    re.IGNORECASE,
)
# degrees after a name, in any part of a byline ("Cara Dunn RN, BSN")
_DEGREE_TAIL = re.compile(
    r"^(\S+\s+\S+?)\s+(?:rn|rd|rdn|md|bsn|msn|phd|dvm|vmd|mba|cpa|cfp)\b.*$", re.IGNORECASE
)
# page furniture that trafilatura's byline search picks up
_UI_WORDS = re.compile(
    r"\b(?:view|more|all|posts|articles|stories|profile|bio|follow|subscribe|share|read|"
    r"written|by|www|com)\b",
    re.IGNORECASE,
)
_NOT_A_NAME = re.compile(r"[@/\\]|https?:|www\.|\d")
_TRAILING_ROLE = re.compile(
    r"\s*[-\u2013\u2014,]\s*(?:senior|chief|staff|contributing|associate)?\s*(?:writer|editor|reporter|correspondent|columnist)\b.*$",
    re.IGNORECASE,
)
# lower-case words inside a name: "Marna van der Merwe", "Ana de la Cruz"
_PARTICLES = re.compile(
    r"van|der|den|de|del|della|la|le|da|das|dos|du|von|zu|ter|ten|bin|ibn|al|el|y|e"
)
# prepositions that a byline leaves behind on their own ("in", from "in Berlin"; "von")
_PREPOSITIONS = re.compile(
    r"in|im|am|an|auf|aus|bei|mit|vom|zu|zum|zur|f\u00fcr|\u00fcber|de|des|du|en|la|le|van|"
    r"von|door|met|op|par|por|para|con|di|da|av|och|p\u00e5|w|z|na"
)
_VOWELS = re.compile(r"[aeiouy\u00e0-\u00ff]")
# words of a sentence, never of a lower-case name ("the way", from "by the way")
_FUNCTION_WORDS = re.compile(
    r"the|a|an|of|to|in|on|at|for|with|from|by|our|your|my|their|his|her|its|this|that|"
    r"these|those|it|is|are|was|were|be|one|some|all|any|no|not|and|or|but|as|so"
)
# the English month names and abbreviations a byline runs into ("Luke Kim December"), but
# for those that are also names ("Theresa May", "Lee August")
_END_MONTHS = re.compile(
    r"january|february|march|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec"
)
_DAY = re.compile(r"\d{1,2}(?:st|nd|rd|th)?")


@dataclass(frozen=True)
class Byline:
    """What one layer's bylines name: people, and the agencies they credit."""

    authors: tuple[str, ...] = ()
    credits: tuple[str, ...] = ()


def clean_authors(
    raw: Iterable[str], organisations: Iterable[str] = (), host: str = "", initials: bool = False
) -> tuple[str, ...]:
    """The people of `raw` (see read_bylines)."""
    return read_bylines(raw, organisations, host, initials).authors


def read_bylines(
    raw: Iterable[str], organisations: Iterable[str] = (), host: str = "", initials: bool = False
) -> Byline:
    """Split bylines, strip "By …", roles, photo credits and date lines, drop organisations
    (and `organisations`, and names that are the page's `host`), dedupe; the news agencies
    among them are the credits. `raw` is one source's list (often one byline cut at its
    separators): a lone word next to a full name there is a title or a desk ("Ben Cole,
    Privacy"), not a second author. Bare initials ("amw") are no name, unless `initials`:
    a site profile that knows its publisher signs articles so."""
    orgs = {" ".join(o.casefold().split()) for o in organisations if o}
    parts: list[str] = []
    for byline in raw:
        if not isinstance(byline, str):
            continue
        text = _PHOTO_CREDIT.sub("", " ".join(html.unescape(byline).split()))
        text = _CJK_PREFIX.sub("", _LABEL.sub("", _PREFIX.sub("", text)))
        if _HANGUL.search(text):  # "김철수·이영희 기자": two reporters
            text = text.replace("\u00b7", ",")
        parts += _SPLIT.split(text.replace("\u3001", ","))
    found: list[str] = []
    credited: list[str] = []
    for i, part in enumerate(parts):
        if bracket := _OPEN_BRACKET.match(part):
            part = bracket.group(1)
            credited += agencies(bracket.group(2))
        elif bracket := _BRACKETED.match(part):
            named = agencies(bracket.group(2))
            if named or _is_initials_or_word(bracket.group(2)):  # "(dpa)", "(obe)"
                part = bracket.group(1)
                credited += named
        if named := agencies(part.strip(" .\u00b7-\u2013\u2014:()[]\"'")):
            credited += named
        elif name := _name(part, first=i == 0, initials=initials):
            found.append(name)
    if any(" " in name for name in found):
        found = [name for name in found if " " in name]
    names: list[str] = []
    seen: set[str] = set()
    for name in found:
        key = name.casefold()
        if key not in seen and key not in orgs and not _is_host(name, host):
            seen.add(key)
            names.append(name)
    return Byline(tuple(names), tuple(dict.fromkeys(credited)))


def _fold(name: str) -> str:
    """A name compared without case, spaces or punctuation ("Example-News" = "example news")."""
    return re.sub(r"\W+", "", name.casefold())


def _is_host(name: str, host: str) -> bool:
    """Whether `name` is the page's host name taken for a person: its labels with the
    ending ("Nieuwsblad Be" on www.nieuwsblad.be, "Sportschau.de"). A name that spells
    the host without its ending is kept: a personal site is named after its owner ("Kira
    Lund" on kiralund.example), and a brand that signs its own posts is the author its
    pages state."""
    labels = [label for label in host.casefold().removeprefix("www.").split(".") if label]
    return len(labels) > 1 and _fold(name) == _fold("".join(labels))


def _name(part: str, first: bool, initials: bool = False) -> str | None:
    """One part of a byline as a person's name, or None. Only the first part may carry a
    title after the name: a later part with one is that person's job title."""
    name = _CJK_ROLE.sub("", _PREFIX.sub("", part))
    name = _DEGREE_TAIL.sub(r"\1", _TRAILING_ROLE.sub("", _TAIL.sub("", name)))
    if first:
        name = _ROLE_TAIL.sub(r"\1", name)
    name = _drop_trailing_month(name.strip(" .\u00b7-\u2013\u2014:()[]\"'"))
    if not name or (not initials and _is_initials_or_word(name)):
        return None
    return name if _looks_like_person(name) else None


def _is_initials_or_word(name: str) -> bool:
    """Whether a one-word "name" is a preposition, a lower-case word or bare initials
    ("in", "amw", "Amw", "JW"): no name stands alone in such a form."""
    if " " in name or not _is_cased(name):
        return False
    if _PREPOSITIONS.fullmatch(name.casefold()) or _FUNCTION_WORDS.fullmatch(name.casefold()):
        return True
    if name.islower():
        return True
    letters = name.replace(".", "")
    tail = letters[1:].casefold()
    return (
        2 <= len(letters) <= 4
        and letters.isalpha()
        and (letters.isupper() or (not _VOWELS.search(tail) and len(set(tail)) > 1))
    )


def _is_cased(text: str) -> bool:
    """Whether `text` is written in a script with capitals (not Japanese or Korean)."""
    return any(c.isupper() or c.islower() for c in text)


def _drop_trailing_month(name: str) -> str:
    """ "Luke Kim December 3" (the byline run into its date line) is Luke Kim."""
    words = name.split()
    if len(words) > 2 and _DAY.fullmatch(words[-1]) and words[-2].casefold() in MONTHS:
        return " ".join(words[:-2])  # a month followed by a day is a date's, in any language
    if len(words) > 1 and _END_MONTHS.fullmatch(words[-1].casefold().rstrip(".")):
        return " ".join(words[:-1])
    return name


def _looks_like_person(name: str) -> bool:
    words = name.split()
    if not 1 <= len(words) <= 5 or len(name) > 60 or _NOT_A_NAME.search(name):
        return False
    if not _is_cased(name):  # Japanese, Korean: two to a dozen characters, no case to weigh
        return 2 <= len(name.replace(" ", "")) <= 12
    if _ORG_WORDS.search(name) or _ROLE_WORD.search(name) or _UI_WORDS.search(name):
        return False
    if len(words) == 1 and name.casefold().rstrip(".") in MONTHS:  # "Dec", from "Dec 3, 2025"
        return False
    if name.islower():  # "kirstin boatto"; one short word is initials, such as "as"
        if len(words) == 1:
            return len(name) <= 4
        return not any(_FUNCTION_WORDS.fullmatch(w) for w in words)  # "the way", from "by the way"
    # a name's words are capitalised, but for particles: "Personal finance" is not a name
    return all(w[:1].isupper() or not w[:1].isalpha() or _PARTICLES.fullmatch(w) for w in words)
