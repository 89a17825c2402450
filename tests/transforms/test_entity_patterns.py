"""The entity rules' patterns written to start with a character set (transforms.tagging.
entities: AT_CAPITAL, `_by_first_letter(..., word_start=True)`, the bracket check before
_ACRONYM) find exactly what the same patterns written with a leading \\b find."""

from __future__ import annotations

import random
import re

import pytest

from transforms.tagging import entities as e

VERBS = "said|says|told|added|wrote|explained|warned|announced|insisted|argued|noted|"
VERBS += "stressed|confirmed|denied|replied|tweeted|posted"
# the patterns as they were written before, with \b
WRITTEN_WITH_B = {
    "_SAID_NAME": rf"\b(?:said|says|told|according to|wrote|added|asked) ({e.NAME})\b",
    "_NAME_SAID": rf"\b({e.NAME}),? (?:{VERBS})\b",
    "_APPOSITIVE": rf"\b({e.NAME}), (?:a|an|the|who|whose|\d+,)\b",
    "_ORG_PREFIX": rf"\b(?:{e._PREFIX_ORG_WORDS}) (?:of|for) "
    r"(?:the )?[A-Z][\w'\u2019\-]*(?: (?:of|the|[A-Z][\w'\u2019\-]*))*",
}

CORNERS = [
    "John Smith said the plan works. Ms Anna Lee, a lawyer, said so.",
    "O'Brien Jones said it; D'Arcy O'Neill, the mayor, agreed. J. R. Tolkien, who wrote",
    "McDonald Smith told reporters. xJohn Smith said. _John Smith said. 3John Smith said.",
    "pro-Kremlin Anna Petrova said; Anna-Maria Rossi, 34, said; Émile Zola, a writer",
    "Ursula von der Leyen said. Luiz Inacio Lula da Silva, the president, said.",
    "said John Smith. according to Anna Lee. asked Mr. Jones said Tom Li",
    "University of Oxford and Ministry for the Interior; xUniversity of Oxford; "
    "Bank of England's Governor; Council of the European Union",
    "A.B. Smith said. A. B. said. Putin\u2019s Envoy Ivan Petrov said. ÀÉ Ôô said",
    "World Health Organization (WHO) and the Federal Bureau of Investigation (FBI); (x) (AB)",
    "\nJohn Smith said\nAnna Lee, a\n",
]
ALPHABET = "AaBbJjOoSsÉéß ,.'\u2019-_3()\nsaid told the a who University of Bank for (WHO)"


def _texts() -> list[str]:
    rng = random.Random(15)
    pieces = (
        ALPHABET.split(" ")
        + list(ALPHABET)
        + ["John", "Smith", "Lee", "Anna", "O'", "J.", "Smith,", "Lee,", "said"]
    )
    fuzzed = [" ".join(rng.choice(pieces) for _ in range(rng.randint(1, 40))) for _ in range(3000)]
    return CORNERS + fuzzed


def _found(pattern: re.Pattern[str], text: str) -> list[tuple[tuple[int, int], tuple[str, ...]]]:
    return [(m.span(), m.groups()) for m in pattern.finditer(text)]


@pytest.mark.parametrize("name", sorted(WRITTEN_WITH_B))
def test_a_pattern_starting_with_a_set_finds_what_the_b_pattern_finds(name: str) -> None:
    fast, written = getattr(e, name), re.compile(WRITTEN_WITH_B[name])
    texts = _texts()
    assert sum(bool(_found(written, t)) for t in texts) >= 10  # the texts reach the patterns
    for text in texts:
        assert _found(fast, text) == _found(written, text), text


def test_the_bracket_check_passes_every_text_acronym_matches() -> None:
    matched = 0
    for text in _texts():
        if e._ACRONYM.search(text):
            matched += 1
            assert e._BRACKETED.search(text), text
    assert matched >= 3
