"""A handful of key phrases per article: a RAKE-style scorer (phrases are runs of content
words between stop words and punctuation; a word scores its co-occurrence degree over its
frequency; a phrase the sum of its words), with capitalised names and the title favoured.
Pure Python, about a millisecond for a 500-word article."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

MAX_KEYWORDS = 5
MAX_WORDS = 3
_WORD = re.compile(r"[\w'\u2019\-]+")
# a word, or a run of punctuation (a phrase break; "" in findall's list): spaces are neither
_PIECE = re.compile(rf"({_WORD.pattern})|[^\w'\u2019\- ]+")
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves said says say told according new one two three four five year years
    monday tuesday wednesday thursday friday saturday sunday week weeks day days time last
    first may might must shall many much per since still even though however including
    around among upon another every people percent mr mrs ms dr would've it's that's he's
    she's there's they're we're i'm don't doesn't didn't can't won't isn't aren't wasn't
    der die das und ist nicht ein eine zu den von mit sich des auf für im dem le la les et
    des un une est pas du en que qui dans pour sur el los las y es por con para una del al
    il di che non per con più""".split()  # noqa: SIM905 - a word list reads better as text
)


def keywords(title: str, text: str, limit: int = MAX_KEYWORDS) -> list[str]:
    phrases: list[tuple[str, ...]] = []  # each run of words, as the keys of its words
    shown: dict[str, str] = {}  # a key -> the word as first printed
    keys: dict[str, str | None] = {}  # a word as printed -> its key, None for a phrase break
    run: list[str] = []
    for word in _PIECE.findall(f"{title}\n{text}"):  # a word, or "" for punctuation
        key = keys.get(word, "") if word else None  # ("": not seen yet; no key is empty)
        if key == "":
            key = keys[word] = _key(word)
        if key is not None:
            if key not in shown:
                shown[key] = word
            run.append(key)
            continue
        if run:
            _close(run, phrases)
            run = []
    if run:
        _close(run, phrases)
    if not phrases:
        return []
    counted = Counter(phrases)  # each phrase once, in the order first found
    frequency: Counter[str] = Counter()
    degree: defaultdict[str, int] = defaultdict(int)
    for phrase, count in counted.items():
        for word in phrase:
            frequency[word] += count
            degree[word] += count * len(phrase)
    title_words = {w.casefold() for w in _WORD.findall(title)}
    weight = {w: degree[w] / f + f for w, f in frequency.items()}  # a word's share of a score
    capitalised = {w for w in frequency if shown[w][:1].isupper()}
    scores: dict[str, float] = {}
    for phrase, count in counted.items():
        score = sum([weight[w] for w in phrase])
        if not capitalised.isdisjoint(phrase):
            score *= 1.3
        if title_words.issuperset(phrase):
            score *= 1.5
        for _ in range(count - 1):
            score += 0.5  # repeated phrases matter (added one by one: the same float)
        scores[" ".join(phrase)] = score
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    out: list[str] = []
    for key, _ in ranked:
        if any(key in chosen or chosen in key for chosen in out):
            continue
        out.append(" ".join(shown[w] for w in key.split()))
        if len(out) == limit:
            break
    return out


def _close(run: list[str], phrases: list[tuple[str, ...]]) -> None:
    """A run of words ends: a phrase, or, longer than a phrase (a clause without stop
    words), its words one by one."""
    if len(run) <= MAX_WORDS:
        phrases.append(tuple(run))
    else:
        phrases.extend([(w,) for w in run])


def _key(word: str) -> str | None:
    """The word's key in phrases (case-folded), or None for a word that ends a phrase: a
    stop word, a number, a short word that is no acronym, an adverb."""
    key = word.casefold().replace("\u2019", "'")
    if (
        key in STOPWORDS
        or key.isdigit()
        or (len(key) < 3 and not word.isupper())
        or (key.endswith("ly") and len(key) > 4)  # adverbs end phrases
    ):
        return None
    return key
