"""Tagging quality and speed on the project's labelled fixture sets.

- Language: accuracy on tests/fixtures/tagging/languages.jsonl (12 languages, bodies and
  titles, written for this project), with no declared language given (the detector alone).
- Places, people, organisations, topics: per-field precision, recall and F1 (micro, over
  all items) on tests/fixtures/tagging/articles.jsonl (hand-labelled short news articles).
- Speed: the whole tagging step (language, places, entities, topics, keywords) on 500-word
  articles, articles per second on one core, with the default (rule-based) entity tagger,
  and with a spaCy pipeline when `--spacy MODEL` names an installed one.

    .venv/bin/python benchmarks/tagging.py [--spacy en_core_web_sm]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transforms.tagging import get_tagger  # noqa: E402
from transforms.tagging.language import detect  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "tagging"
FIELDS = ("places", "people", "organizations", "topics")


def load(name: str) -> list[dict[str, Any]]:
    with (FIXTURES / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def language_scores() -> dict[str, Any]:
    out: dict[str, Any] = {}
    misses: Counter[str] = Counter()
    for kind in ("body", "title"):
        items = [i for i in load("languages.jsonl") if i["kind"] == kind]
        right = 0
        for item in items:
            found, _ = detect(item["text"])
            right += found == item["lang"]
            if found != item["lang"]:
                misses[f"{item['lang']}->{found}"] += 1
        out[kind] = (right / len(items), len(items))
    out["languages"] = len({i["lang"] for i in load("languages.jsonl")})
    out["misses"] = dict(misses.most_common())
    return out


def field_scores(tagger_model: str | None = None) -> dict[str, tuple[float, float, float]]:
    tagger = get_tagger(None, tagger_model)
    counts = {f: Counter() for f in FIELDS}
    for item in load("articles.jsonl"):
        columns, failed = tagger.tag(item["title"], item["text"], "en")
        assert not failed, failed
        for f in FIELDS:
            got, want = set(columns[f]), set(item[f])
            counts[f]["tp"] += len(got & want)
            counts[f]["fp"] += len(got - want)
            counts[f]["fn"] += len(want - got)
    out = {}
    for f, c in counts.items():
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        out[f] = (p, r, 2 * p * r / (p + r) if p + r else 0.0)
    return out


def speed(model: str | None, n: int = 400) -> float:
    """Articles of 500 words built from the fixture articles' sentences."""
    rng = random.Random(4)
    sentences = [
        s.strip() + "."
        for item in load("articles.jsonl")
        for s in item["text"].replace("\n", " ").split(". ")
        if s.strip()
    ]
    texts = []
    for _ in range(n):
        words: list[str] = []
        while len(words) < 500:
            words += rng.choice(sentences).split()
        texts.append(" ".join(words[:500]))
    tagger = get_tagger(None, model)
    tagger.tag("warm-up", texts[0], "en")
    started = time.process_time()
    for text in texts:
        tagger.tag(text[:80], text, "en")
    return n / (time.process_time() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spacy", metavar="MODEL", help="also measure a spaCy entity tagger")
    args = parser.parse_args()
    lang = language_scores()
    print(f"language, {lang['languages']} languages, no declared language:")
    for kind in ("body", "title"):
        accuracy, count = lang[kind]
        print(f"  {kind:<6} accuracy {accuracy:.3f} ({count} texts)")
    if lang["misses"]:
        print(f"  misses: {lang['misses']}")
    items = load("articles.jsonl")
    print(f"fields on {len(items)} hand-labelled articles (micro precision / recall / F1):")
    for name, model in (("rules", None), *((("spacy", args.spacy),) if args.spacy else ())):
        for field, (p, r, f1) in field_scores(model).items():
            print(f"  {name:<6} {field:<14} {p:.3f} / {r:.3f} / {f1:.3f}")
    print(f"tagging step, 500-word articles, one core: {speed(None):,.0f} articles/s (rules)")
    if args.spacy:
        print(
            f"tagging step, 500-word articles, one core: {speed(args.spacy):,.0f} articles/s (spaCy {args.spacy})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
