"""Tagging quality and speed on the project's labelled fixture sets.

- Language: accuracy on tests/fixtures/tagging/languages.jsonl (12 languages, bodies and
  titles, written for this project), with no declared language given (the detector alone).
- Places, people, organisations, topics: per-field precision, recall and F1 (micro, over
  all items) on tests/fixtures/tagging/articles.jsonl (hand-labelled short news articles).
- Speed: the whole tagging step (language, places, entities, topics, keywords) on 500-word
  articles, articles per second on one core, with the rules (`entity_models: rules`) and
  with the default entity tagger: the installed spaCy pipelines (ner-models.txt), or a
  pipeline named with `--spacy MODEL`.

    .venv/bin/python benchmarks/tagging.py [--spacy en_core_web_sm]
"""

from __future__ import annotations

import argparse
import hashlib
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


DEV_SET = ROOT / "benchmarks" / "data" / "entities_dev.jsonl"
HELD_BACK_SHARE = 5  # one document in five is held back: scored, never studied


def held_back(doc: dict[str, Any]) -> bool:
    digest = hashlib.sha256(f"entities/{doc['corpus']}/{doc['id']}".encode()).digest()
    return digest[0] % HELD_BACK_SHARE == 0


def public_scores(setting: str | None) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Per part (dev, held) and field: micro precision, recall and F1 over the documents of
    the hand-labelled public-text set (benchmarks/data/entities_dev.jsonl: article bodies of
    the public evaluation sets, labelled by reading, never by a tagger)."""
    tagger = get_tagger(None, setting)
    fields = ("people", "organizations", "places")
    counts = {part: {f: Counter() for f in fields} for part in ("dev", "held")}
    for line in DEV_SET.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        columns, _ = tagger.tag(None, doc["text"], doc["lang"])
        for f in fields:
            got, want = set(columns[f]), set(doc[f])
            part = counts["held" if held_back(doc) else "dev"][f]
            part["tp"] += len(got & want)
            part["fp"] += len(got - want)
            part["fn"] += len(want - got)
    return {part: {f: _prf(c) for f, c in by_field.items()} for part, by_field in counts.items()}


def _prf(c: Counter[str]) -> tuple[float, float, float]:
    p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
    r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


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
    model = args.spacy  # None: the default, the installed pipelines
    taggers = [("rules", "rules")]
    if get_tagger(None, model).entities.name != "rules":
        taggers.append(("model", model))
    else:
        print("  (no spaCy pipeline installed: the rules only)")
    for name, setting in taggers:
        for field, (p, r, f1) in field_scores(setting).items():
            print(f"  {name:<6} {field:<14} {p:.3f} / {r:.3f} / {f1:.3f}")
    docs = DEV_SET.read_text(encoding="utf-8").count("\n")
    print(
        f"fields on {docs} hand-labelled excerpts of public article bodies "
        "(micro P / R / F1; dev | held back):"
    )
    for name, setting in taggers:
        scores = public_scores(setting)
        for field in scores["dev"]:
            dev, held = scores["dev"][field], scores["held"][field]
            print(
                f"  {name:<6} {field:<14} {dev[0]:.3f} / {dev[1]:.3f} / {dev[2]:.3f}"
                f"  |  {held[0]:.3f} / {held[1]:.3f} / {held[2]:.3f}"
            )
    for _name, setting in taggers:
        described = get_tagger(None, setting).entities.name
        print(
            f"tagging step, 500-word articles, one core: {speed(setting):,.0f} articles/s "
            f"({described})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
