"""People and organisations named in an article.

`EntityTagger` is the interface. `RuleEntityTagger`, the default, needs no statistical
model: a gazetteer of well-known names (data/entities.yaml) plus the ways news prints
names — a role or title before a name ("Prime Minister Anna Berg", "spokesman Tom Hale"),
a reporting verb next to it ("said Tom Hale", "Anna Berg told"), an appositive
("Tom Hale, a spokesman for"), organisation words ("... Bank", "Ministry of ...",
"University of ...") and acronyms defined in brackets. `SpacyEntityTagger` uses a spaCy
pipeline when one is installed (see the README). Both normalise names: a surname printed
alone becomes the full name printed elsewhere in the article; gazetteer aliases become the
canonical name ("Lukashenka" -> "Alexander Lukashenko").
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import yaml

from transforms.tagging.tokens import POSSESSIVES, Token, first_words, flatten, phrases, tokenize

DATA = Path(__file__).parent / "data"
# names of each kind kept per article: merging them takes time quadratic in their number, and
# none of the evaluation sets' 1,190 articles names more than 19 people or 116 organisations
MAX_NAMES = 500

ROLES = (
    "President|Vice President|Prime Minister|Deputy Prime Minister|Chancellor|Minister|"
    "Foreign Minister|Defence Minister|Defense Minister|Finance Minister|Secretary|"
    "Secretary-General|Secretary General|Mayor|Governor|Senator|Sen\\.|Rep\\.|"
    "Representative|Judge|Justice|Dr\\.?|Mr\\.?|Mrs\\.?|Ms\\.?|Professor|Prof\\.|King|Queen|"
    "Prince|Princess|Pope|General|Gen\\.|Colonel|Col\\.|Captain|Capt\\.|Commander|Admiral|"
    "Ambassador|Chief|Sheriff|Inspector|Detective|Sergeant|Officer|Councillor|Councilor|"
    "Archbishop|Bishop|Cardinal|Father|Rabbi|Imam|Sir|Dame|Lord|Lady|Coach|coach|"
    "spokesman|spokeswoman|spokesperson|chief executive|executive|CEO|founder|director|"
    "chairman|chairwoman|chair|president|minister|leader|striker|midfielder|defender|"
    "goalkeeper|captain|manager|head coach|forward|winger|author|writer|novelist|actor|"
    "actress|singer|rapper|musician|artist|director|producer|scientist|researcher|"
    "economist|analyst|lawyer|attorney|prosecutor|professor|teacher|doctor|surgeon|"
    "nurse|farmer|resident|owner|official|commissioner|envoy|negotiator|journalist|"
    "reporter|correspondent|historian|physicist|biologist|astronaut|pilot|champion"
)


def _by_first_letter(alternatives: str, *, word_start: bool = False) -> str:
    """The alternation `alternatives` ("A|B|...") regrouped by first character, in order
    within a group. It matches exactly what the flat one matches, since alternatives with
    different first characters never match at the same place, but tries a few branches at
    each position instead of every one: the role and organisation-word patterns below run in
    half the time. `word_start`: each group also checks, after its first character, that no
    word character comes before it (what a leading \\b says of a word): a pattern that begins
    with the alternation then starts with one of a few characters, which the regular
    expression engine skips to in C instead of trying every position (see AT_CAPITAL)."""
    groups: dict[str, list[str]] = {}
    for alternative in alternatives.split("|"):
        first = alternative[:2] if alternative.startswith("\\") else alternative[:1]
        groups.setdefault(first, []).append(alternative[len(first) :])
    after = _NO_WORD_BEFORE if word_start else ""
    return "|".join(f"{first}{after}(?:{'|'.join(rest)})" for first, rest in groups.items())


# after a pattern's first character: no word character before that one (a \b before it)
_NO_WORD_BEFORE = r"(?<!\w.)"
# one word of a name: "Lang", "McCarthy", "Boutros-Ghali", "O'Brien", "Putin's"
_WORD_REST = r"[a-zß-ÿ]+(?:['\u2019\-]?[A-ZÀ-Þ][a-zß-ÿ]+|['\u2019\-][a-zß-ÿ]+)*"
_NAME_WORD = rf"(?:[A-Z]['\u2019])?[A-ZÀ-Þ]{_WORD_REST}"
_NEXT_NAME_WORDS = rf"(?: (?:{_NAME_WORD}|[A-Z]\.|de|van|von|der|da|bin|al-[A-Z][a-z]+)){{1,3}}"
NAME = rf"(?:{_NAME_WORD}|[A-Z]\.){_NEXT_NAME_WORDS}"
# \b(NAME) as a pattern that starts with a character set, the same matches in about half the
# time: Python's engine skips ahead in C to a character of a pattern's leading set, and tries
# a pattern that starts with \b at every position. The first word's alternatives, in NAME's
# order, each after its first capital: "O'" and a word, a word, an initial.
AT_CAPITAL = (
    rf"[A-ZÀ-Þ]{_NO_WORD_BEFORE}(?:(?<=[A-Z])['\u2019][A-ZÀ-Þ]{_WORD_REST}|{_WORD_REST}"
    rf"|(?<=[A-Z])\.){_NEXT_NAME_WORDS}"
)
_ROLE_NAME = re.compile(rf"\b(?:{_by_first_letter(ROLES)})\.? ({NAME})")
_SAID_NAME = re.compile(
    rf"(?:{_by_first_letter('said|says|told|according to|wrote|added|asked', word_start=True)})"
    rf" ({NAME})\b"
)
_NAME_SAID = re.compile(
    rf"({AT_CAPITAL}),? (?:said|says|told|added|wrote|explained|warned|announced|insisted|"
    r"argued|noted|stressed|confirmed|denied|replied|tweeted|posted)\b"
)
_APPOSITIVE = re.compile(rf"({AT_CAPITAL}), (?:a|an|the|who|whose|\d+,)\b")
# German: a role, often a compound ("Außenministerin", "CDU-Chef", "SPD-Vorsitzende"), or
# Herr/Frau, before a name; a reporting verb before a role and a name. German capitalises
# every noun, so a name is only taken where one of these says a person follows.
_ROLES_DE = (
    r"(?:[A-ZÄÖÜ][\wäöüß]*-)?[A-ZÄÖÜ]?[\wäöüß]*(?:[Kk]anzler|[Mm]inister|[Pp]räsident|"
    r"[Ss]precher|[Vv]orsitzende|[Cc]hef|[Bb]ürgermeister|[Tt]rainer|[Ss]ekretär|[Bb]otschafter|"
    r"[Aa]bgeordnete|[Rr]ichter|[Dd]irektor|[Ll]eiter|[Ss]enator|[Gg]ouverneur)"
    r"(?:in|r|n)?|Herr|Herrn|Frau|Dr\.|Prof\."
)
_ROLE_NAME_DE = re.compile(rf"\b(?:{_ROLES_DE}) ({NAME})\b")
_SAID_NAME_DE = re.compile(
    rf"\b(?:sagte|sagt|erklärte|betonte|kritisierte|warnte|schrieb|so|laut) "
    rf"(?:(?:{_ROLES_DE}) )?({NAME})\b"
)
ORG_WORDS = (
    "Bank|University|Party|Ministry|Agency|Council|Committee|Commission|Association|"
    "Federation|Union|Institute|Foundation|Court|Police|Army|Navy|Corporation|Corp\\.?|Inc\\.?|"
    "Ltd\\.?|LLC|AG|GmbH|SA|plc|Group|Company|Co\\.|Airlines|Airways|Authority|Office|"
    "Department|Service|Services|Club|FC|Organization|Organisation|Fund|Parliament|"
    "Assembly|Senate|Congress|Forces|Guard|Times|Post|News|Herald|Journal|Gazette|Press|"
    "Network|Holdings|Industries|Motors|Energy|Pharmaceuticals|Labs|Laboratories|Hospital|"
    "Center|Centre|School|College|Academy|Museum|Orchestra|Theatre|Theater|Church|Festival|"
    "Exchange|Reserve|Board|Alliance|League|Movement|Front|Coalition|Trust|Society|Institution"
)
# Up to five capitalised words (or of, for, the, de) before an organisation word. A word is at
# most ORG_WORD_CHARS long: a name may start after a hyphen, an apostrophe or a "&" inside a
# word ("pro-Kremlin Party"), and unbounded, every capital of a run like "A-A-A-..." re-read
# the rest of the run (quadratic time).
ORG_WORD_CHARS = 60  # real words run under 40 characters; longer runs are base64 or code
_ORG_SUFFIX = re.compile(
    rf"\b((?:[A-Z][\w&'\u2019\-]{{0,{ORG_WORD_CHARS - 1}}}+|of|for|the|de) ){{0,5}}"
    rf"(?:{_by_first_letter(ORG_WORDS)})\b"
)
_PREFIX_ORG_WORDS = (
    "University|Ministry|Bank|Department|Institute|Court|Museum|Church|Academy|"
    "Council|Office|Federation|Association|Union|Organisation|Organization"
)
_ORG_PREFIX = re.compile(
    rf"(?:{_by_first_letter(_PREFIX_ORG_WORDS, word_start=True)}) (?:of|for) "
    r"(?:the )?[A-Z][\w'\u2019\-]*(?: (?:of|the|[A-Z][\w'\u2019\-]*))*"
)
# Up to seven capitalised words before an acronym in brackets. A match starts only where a word
# (a run of word characters, ' and -) starts, at its first capital ("eBay" from "Bay"): every
# capital of a word leads on to the same words, so trying each of them, as the pattern once
# did, found nothing more and was quadratic on a long run of capitals.
_ACRONYM = re.compile(
    r"(?<![\w'\u2019\-])(?:(?![A-Z])[\w'\u2019\-])*+"
    r"((?:[A-Z][\w'\u2019\-]++ (?:(?:of|for|and|the|on) )?){1,7})\(([A-Z][A-Za-z&]{1,9})\)"
)
# what every match of _ACRONYM holds: most texts have none, and this finds that in a tenth
# of the time _ACRONYM takes to
_BRACKETED = re.compile(r"\(([A-Z][A-Za-z&]{1,9})\)")
_NOT_NAMES = {
    "Der",
    "Die",
    "Das",
    "Dem",
    "Ein",
    "Eine",
    "The",
    "A",
    "An",
    "In",
    "On",
    "At",
    "But",
    "And",
    "Or",
    "If",
    "When",
    "While",
    "After",
    "Before",
    "Since",
    "As",
    "This",
    "That",
    "These",
    "Those",
    "It",
    "He",
    "She",
    "They",
    "We",
    "I",
    "His",
    "Her",
    "Their",
    "Our",
    "Its",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
    "According",
    "Meanwhile",
    "However",
    "Also",
    "Last",
    "Next",
    "New",
    "Read",
    "More",
    "Source",
    "Photo",
    "Image",
}


_ROLE_WORDS = {w.rstrip(".").replace("\\", "") for w in " ".join(ROLES.split("|")).split()}
_ROLE_WORDS |= {"Lt", "Col", "Maj", "Sgt", "Cpl", "Gen", "Capt", "Cmdr", "Adm", "Gov", "Supt"}
# occupations printed before a name ("Meteorologist Anika Shaw"): cut like the roles
_OCCUPATION_ENDINGS = ("ologist", "ician", "ographer", "ometrist")
# last words that make a name an organisation's or a programme's, not a person's
_NOT_SURNAMES = frozenset(
    {w.rstrip(".").replace("\\", "") for w in ORG_WORDS.split("|")}
    | {"Research", "Observatory", "Data", "Authority", "Park", "Reserve", "Group", "Project"}
)
# lower-case words inside names ("Ursula von der Leyen", "Luiz Inacio Lula da Silva")
PARTICLES = frozenset(
    {"de", "da", "di", "del", "van", "von", "der", "den", "bin", "al", "la", "le", "du"}
)


class EntityTagger(Protocol):
    @property
    def name(self) -> str:
        """What tags: `rules`, or the pipelines per language (part of `tagger_version`)."""
        ...

    def prepare(self, language: str | None) -> None:
        """Load what tagging an article of `language` needs (once per process), so that
        the loading does not count against the article's time budget."""
        ...

    def people_and_organizations(
        self, text: str, tokens: list[Token] | None = None, language: str | None = None
    ) -> tuple[list[str], list[str]]:
        """`tokens`, when given, are tokenize(flatten(text)), computed once per article;
        `language`, the article's (an implementation may have a model per language)."""
        ...


@dataclass(frozen=True)
class Gazetteer:
    people: dict[str, str]  # printed form -> canonical name
    organizations: dict[str, str]
    starts: dict[str, int]  # first word of a name -> most words of a name starting with it


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    data = yaml.safe_load((DATA / "entities.yaml").read_text(encoding="utf-8"))
    people: dict[str, str] = {}
    organizations: dict[str, str] = {}
    for target, section in ((people, "people"), (organizations, "organizations")):
        for canonical, aliases in (data.get(section) or {}).items():
            target[canonical] = canonical
            for alias in aliases or []:
                target.setdefault(alias, canonical)
    return Gazetteer(people, organizations, first_words([*people, *organizations]))


class RuleEntityTagger:
    """The default: a gazetteer and the patterns news uses to print names."""

    name = "rules"

    def prepare(self, language: str | None) -> None:
        """Nothing to load per language: Tagger.load reads the gazetteers."""

    def people_and_organizations(
        self, text: str, tokens: list[Token] | None = None, language: str | None = None
    ) -> tuple[list[str], list[str]]:
        g = gazetteer()
        flat = flatten(text)
        tokens = tokenize(flat) if tokens is None else tokens
        people: dict[str, None] = {}  # in the order found
        organizations: dict[str, None] = {}
        known_spans: list[tuple[int, int]] = []  # in order, disjoint
        lone: list[tuple[str, int]] = []  # (person, token index) named by a surname alone
        starts = g.starts
        after = 0  # the first token after the last name found
        for i, longest in _name_starts(tokens, starts):
            if i < after:
                continue
            for phrase, size in phrases(tokens, i, longest):
                if phrase in g.people and size == 1 and " " in g.people[phrase]:
                    if _inside_name(tokens, i):
                        break  # "John Vance Langmore" is someone else
                    lone.append((g.people[phrase], i))
                elif phrase in g.people:
                    _add(people, g.people[phrase])
                elif phrase in g.organizations:
                    _add(organizations, g.organizations[phrase])
                else:
                    continue
                known_spans.append((tokens[i].start, tokens[i + size - 1].end))
                after = i + size
                break
        for match in _ORG_PREFIX.finditer(flat):
            _add(organizations, _trim_org(match.group(0)))
        for match in _ORG_SUFFIX.finditer(flat):
            org = _trim_org(match.group(0))
            if len(org.split()) >= 2 and not _covered(match.span(), known_spans):
                _add(organizations, org)
        for match in _ACRONYM.finditer(flat) if _BRACKETED.search(flat) else ():
            full = _trim_org(match.group(1).strip())
            if (
                len(full.split()) >= 2
                and full.split()[0] not in _NOT_NAMES
                and _abbreviates(match.group(2), full)
            ):
                _add(organizations, full)
        patterns = [_ROLE_NAME, _SAID_NAME, _NAME_SAID, _APPOSITIVE]
        if (language or "").lower().startswith("de"):
            patterns += [_ROLE_NAME_DE, _SAID_NAME_DE]
        for pattern in patterns:
            for match in pattern.finditer(flat):
                name = _clean_name(match.group(1))
                if name and not _covered(match.span(1), known_spans) and name not in organizations:
                    _add(people, g.people.get(name, name))
        # a well-known person named by the surname alone counts when the article also prints
        # the full name, or a title says who is meant ("President Putin"): a lone "Powell"
        # in a sports result is not the Fed chair
        for person, at in lone:
            if person in people or (at > 0 and tokens[at - 1].text in TITLES):
                _add(people, person)
        merged = _merge_surnames(list(people))
        named = set(merged)
        return merged, _drop_contained([o for o in organizations if o not in named])


# ------------------------------------------------------------------------------ helpers


# words that say which well-known person a surname printed alone means
TITLES = frozenset(
    {
        "President",
        "Premier",
        "Chancellor",
        "Minister",
        "Secretary",
        "Senator",
        "Sen",
        "Governor",
        "Gov",
        "Mr",
        "Mrs",
        "Ms",
        "Dr",
        "King",
        "Queen",
        "Pope",
        "Speaker",
        "Leader",
        "General",
        "Gen",
        "Judge",
        "Justice",
        "Chair",
        "Chairman",
        "Ambassador",
        "Präsident",
        "Kanzler",
        "Bundeskanzler",
        "Président",
        "Presidente",
    }
)


def _inside_name(tokens: list[Token], at: int) -> bool:
    """Whether tokens[at] sits inside a longer capitalised name (a capitalised word right
    before it that does not start the sentence, or right after it)."""
    before = tokens[at - 1] if at > 0 else None
    after = tokens[at + 1] if at + 1 < len(tokens) else None
    if (
        before is not None
        and before.capitalised
        and not tokens[at].sentence_start
        and before.text not in TITLES
    ):
        return True
    return after is not None and after.capitalised and not after.sentence_start


# the last word of a street's, a building's or a place's name, never of a person's
PLACE_WORDS = frozenset(
    {
        "Street",
        "Road",
        "Avenue",
        "Lane",
        "Boulevard",
        "Square",
        "House",
        "Palace",
        "Hall",
        "Tower",
        "Building",
        "Bridge",
        "Park",
        "Station",
        "Airport",
        "Stadium",
        "Castle",
        "Cathedral",
    }
)


def _abbreviates(acronym: str, full: str) -> bool:
    """Whether `acronym` is the acronym of `full`: written in capitals, and its letters
    are initials of `full`'s words, in order ("WHO" of "World Health Organization";
    "England" after a name is no acronym)."""
    letters = [c for c in acronym if c.isalpha()]
    if sum(c.isupper() for c in letters) < max(2, len(letters) - 1):
        return False
    initials = "".join(w[0] for w in full.split() if w[:1].isupper()).upper()
    at = 0
    for letter in (c.upper() for c in letters if c.isupper()):
        at = initials.find(letter, at)
        if at < 0:
            return False
        at += 1
    return True


def _name_starts(tokens: list[Token], starts: dict[str, int]) -> list[tuple[int, int]]:
    """(index, most words) of each token that starts a name of `starts` (first words, their
    possessive 's dropped as Token.bare drops it): looked up in one pass, since few do."""
    found = []
    for i, word in enumerate([t[0] for t in tokens]):
        longest = starts.get(word)
        if longest is None and word.endswith(POSSESSIVES):
            longest = starts.get(word[:-2])
        if longest:
            found.append((i, longest))
    return found


def _add(found: dict[str, None], name: str) -> None:
    """Adds `name` once, unless empty or MAX_NAMES are already found."""
    if name and name not in found and len(found) < MAX_NAMES:
        found[name] = None


def _covered(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    """Whether `span` overlaps one of `spans` (sorted and disjoint, so their ends are sorted
    too: the first that ends after `span` starts is the only one to check)."""
    at = bisect.bisect_right(spans, span[0], key=lambda s: s[1])
    return at < len(spans) and spans[at][0] < span[1]


def _clean_name(name: str) -> str | None:
    """`name` as a person's whole name (roles, occupations and trailing particles cut), or
    None when it is no person's: too short, a street or a building, an organisation's name
    ("Reef Marine Park Authority") or a place's ("Environment Canada", "San Francisco")."""
    from transforms.tagging.places import gazetteer as place_names

    words = name.split()
    while words and (
        words[0] in _NOT_NAMES
        or words[0].rstrip(".") in _ROLE_WORDS
        or (len(words) > 2 and words[0].lower().endswith(_OCCUPATION_ENDINGS))
    ):
        words = words[1:]
    while words and words[-1] in PARTICLES:  # "Josh Morgan de" (… de Montréal)
        words = words[:-1]
    # a role inside: the name is what follows it ("Industry Secretary Ian Lang")
    roles = [i for i, w in enumerate(words) if w.rstrip(".") in TITLES or w.lower() in _ROLE_WORDS]
    if roles:
        words = words[roles[-1] + 1 :]
    if len(words) < 2 or any(w in _NOT_NAMES for w in words):
        return None
    if words[-1] in PLACE_WORDS:  # "Downing Street", "White House": places, not people
        return None
    if words[-1] in _NOT_SURNAMES:
        return None
    places = place_names()
    last = words[-1].removesuffix("'s").removesuffix("\u2019s")
    whole = " ".join(words)
    if whole in places.cities or whole in places.countries:
        return None
    if last in places.countries and last not in places.ambiguous:
        return None  # "Environment Canada", "Protect Rural England" (not "Jack London")
    return " ".join(words).removesuffix("'s").removesuffix("\u2019s")


def _trim_org(org: str) -> str:
    words = org.split()
    while words and (
        words[0] in _NOT_NAMES
        or words[0] in ("of", "for", "and", "the", "de")
        or (len(words) > 2 and words[0].endswith(("'s", "\u2019s")))  # "Ukraine's State ..."
    ):
        words = words[1:]
    return " ".join(words).removesuffix("'s").removesuffix("\u2019s")


def _merge_surnames(people: list[str]) -> list[str]:
    """A one-word name that is the last word of a full name found becomes that name; the
    full names of people the article prints only by surname stay as printed elsewhere."""
    by_surname: dict[str, str] = {}  # last word -> the first full name ending with it
    for full in people:
        if " " in full:
            by_surname.setdefault(full.split()[-1], full)
    merged: dict[str, None] = {}
    for person in people:
        _add(merged, person if " " in person else by_surname.get(person, person))
    return list(merged)


def _drop_contained(organizations: list[str]) -> list[str]:
    """ "Bank of England" and "England" is one organisation, not two."""
    padded = [(other, f" {other} ") for other in organizations]
    return [
        o
        for o in organizations
        if not any(o != other and f" {o} " in outer for other, outer in padded)
    ]
