"""Language of an article: detected from its text with py3langid (its model ships inside
the package: no download), with the page's declared language as a hint."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

MAX_CHARS = 2000  # the start of a text decides; more adds time, not accuracy
HINT_WITHIN = 0.5  # the declared language wins if its probability is at least this share of the top
UNSURE = 0.9  # below this probability of its first choice the detector is guessing (tables,
# results, lists of names): the declared language wins, whatever its rank


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


def detect(text: str, declared: str | None = None) -> tuple[str | None, float | None]:
    """(ISO 639-1 code, probability) of the text's language. The declared language (a page's
    <html lang>, or the source's `language`) is taken when the detector ranks it close to its
    first choice — pages rarely declare a wrong language, detectors often confuse neighbours
    on short texts (Ukrainian/Russian, Norwegian/Danish) — or whenever the detector is unsure
    of its first choice (UNSURE): a table of results or a list of place names reads as
    Dutch or Javanese to it. No text: the declared language."""
    sample = " ".join(text[:MAX_CHARS].split())
    hint = (declared or "").split("-")[0].split("_")[0].lower() or None
    if not sample:
        return hint, None
    ranked: list[tuple[str, float]] = _identifier().rank(sample)
    best, best_p = ranked[0]
    if hint and hint != best:
        for lang, p in ranked:
            if lang == hint and (p >= HINT_WITHIN * best_p or best_p < UNSURE):
                return hint, round(float(p), 4)
    return best, round(float(best_p), 4)
