"""Word tokens with their positions, shared by the gazetteer taggers."""

from __future__ import annotations

import re
from typing import NamedTuple

# initialisms with dots (U.S., U.K.), then words with inner apostrophes, hyphens or dots
_TOKEN = re.compile(r"[A-Z]\.(?:[A-Z]\.)+|\w+(?:['\u2019\-]\w+)*")
# a token and the gap before it (no word character: a token takes every run of them), or the
# gap at the end; the gap taken whole, never given back: a long run of punctuation is read
# once, not once from each of its characters
_GAP_AND_TOKEN = re.compile(rf"(\W*+)({_TOKEN.pattern}|\Z)")
POSSESSIVES = ("'s", "\u2019s")
_BREAK = re.compile(r"[.!?\n:;\"\u201c\u201d]")
# a run of spaces other than a line break that is not one " " already: a non-space, or a
# space with more after it (the same result as replacing every run, in half the time)
_SPACES = re.compile(r"(?:[^\S\n ]| (?=[^\S\n]))[^\S\n]*")
_INITIAL = re.compile(r"[A-Z]")


class Token(NamedTuple):
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
        return self.text[:-2] if self.text.endswith(POSSESSIVES) else self.text


def flatten(text: str) -> str:
    """Spaces collapsed, line breaks kept (they end sentences and names)."""
    return _SPACES.sub(" ", text).strip()


def tokenize(text: str) -> list[Token]:
    """The text's tokens. A token starts a sentence when it is the first, or when the gap
    before it holds a break (_BREAK) and is not the ". " after a middle initial ("John F.
    Kennedy")."""
    tokens: list[Token] = []
    add = tokens.append
    make = tuple.__new__  # Token's own __new__, without its keyword-argument layer
    breaks = _BREAK.search
    end = 0
    last = ""
    for gap, word in _GAP_AND_TOKEN.findall(text):
        if not word:  # (the end)
            break
        start = end + len(gap)
        end = start + len(word)
        if gap == " " or breaks(gap) is None:  # (" ": most gaps)
            starts = not tokens
        else:
            starts = gap != ". " or _INITIAL.fullmatch(last) is None
        add(make(Token, (word, start, end, starts)))
        last = word
    return tokens


def first_words(names: object) -> dict[str, int]:
    """For a collection of names: the first word of each and the most words a name starting
    with it has — so a lookup at a token tries only the lengths that can match."""
    longest: dict[str, int] = {}
    for name in names:  # type: ignore[attr-defined]
        words = str(name).split()
        longest[words[0]] = max(longest.get(words[0], 0), len(words))
    return longest


def phrases(tokens: list[Token], start: int, longest: int) -> list[tuple[str, int]]:
    """The phrases of 1..longest tokens starting at `start`, longest first, as (text, size);
    the last token's possessive 's dropped."""
    out = []
    for size in range(min(longest, len(tokens) - start), 0, -1):
        words = [t.text for t in tokens[start : start + size]]
        words[-1] = tokens[start + size - 1].bare
        out.append((" ".join(words), size))
    return out
