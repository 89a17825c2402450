"""Word tokens with their positions, shared by the gazetteer taggers."""

from __future__ import annotations

import re
from dataclasses import dataclass

# initialisms with dots (U.S., U.K.), then words with inner apostrophes, hyphens or dots
_TOKEN = re.compile(r"[A-Z]\.(?:[A-Z]\.)+|\w+(?:['\u2019\-]\w+)*")
_POSSESSIVE = re.compile(r"['\u2019]s$")


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int
    sentence_start: bool  # first word of a sentence (or of the text)

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()

    @property
    def bare(self) -> str:
        """Without a possessive 's: "Russia's" -> "Russia"."""
        return _POSSESSIVE.sub("", self.text)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    previous_end = 0
    for match in _TOKEN.finditer(text):
        gap = text[previous_end : match.start()]
        sentence_start = not tokens or any(c in gap for c in '.!?\n:;"“”')
        tokens.append(Token(match.group(0), match.start(), match.end(), sentence_start))
        previous_end = match.end()
    return tokens


def phrases(tokens: list[Token], start: int, longest: int) -> list[tuple[str, int]]:
    """The phrases of 1..longest tokens starting at `start`, longest first, as (text, size);
    the last token's possessive 's dropped."""
    out = []
    for size in range(min(longest, len(tokens) - start), 0, -1):
        words = [t.text for t in tokens[start : start + size]]
        words[-1] = tokens[start + size - 1].bare
        out.append((" ".join(words), size))
    return out
