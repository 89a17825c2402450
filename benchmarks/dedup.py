"""Near-duplicate detection and story clustering: quality on a labelled set, speed, memory.

1. Quality. A labelled set built from real article bodies (the two public extraction sets
   in ../shared/eval: Scrapinghub's benchmark, MIT, and WCXB's dev split, CC-BY-4.0): each
   base article is one story; generated variants of it are copies of that story:
     syndicated  the body between another site's header and footer (share prompts, a
                 related-headlines widget listing other stories, newsletter, copyright)
     edited      a wire copy lightly edited: first words rewritten, about 2% of the words
                 replaced, a local sentence inserted, the last paragraph cut
     added       the body with one paragraph from another story appended
     excerpt     the first half of the paragraphs and a "read the full story" line
     url         the same page under a tracking-parameter, mobile or AMP URL with a
                 canonical link (one canonical URL: the same article row)
   and the hard negatives are other stories: every base article against every other (the
   nearest on topic among them), follow-ups (four new paragraphs, one from the nearest story
   on topic, plus one or two background paragraphs of the first, never all but one of them)
   and syndicated copies of different stories on one site (same header and footer). Precision and recall are over pairs of
   documents in one story; the same rules are also scored as plain MinHash at Jaccard 0.8.
2. Speed: fingerprints plus LSH insert and query of 500-word articles on one core.
3. Memory and growth: the index of band hashes plus signatures at 10k, 100k and 1M
   articles, and the per-run read of a window's `lsh_bands` column from Parquet with the
   membership test of a run's new articles against it.

    .venv/bin/python benchmarks/dedup.py [--sizes 10000,100000,1000000] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.extraction import EVAL, load_corpus  # noqa: E402
from transforms import minhash  # noqa: E402
from transforms.dedup import add_fingerprints, copy_pairs  # noqa: E402
from transforms.urls import article_id, canonical_url  # noqa: E402

T0 = dt.datetime(2024, 3, 5, tzinfo=dt.UTC)
WINDOW = dt.timedelta(days=7)
SITES = [
    (
        "Coast Daily\nNews | Sport | Weather\nShare on Facebook\nShare on X",
        "Related stories\n{related}\nSign up for our morning newsletter.\n"
        "Copyright 2024 Coast Daily. All rights reserved.",
    ),
    (
        "THE VALLEY HERALD\nMonday edition\nListen to this article\nBy Herald staff",
        "Most read\n{related}\nFollow us on social media for the latest news.\n"
        "The Valley Herald is part of Valley Media Group.",
    ),
    (
        "World Wire Aggregator - all the news in one place\nTrending now",
        "You may also like\n{related}\nSource: original publisher\n"
        "This article was automatically republished from a news feed.",
    ),
]
EDIT_WORDS = ["reportedly", "officials", "local", "Tuesday", "several", "new", "major", "said"]


# ------------------------------------------------------------------------------ the set


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n") if p.strip()]


def build_set(limit: int, seed: int = 7) -> list[dict[str, Any]]:
    """Documents with a `story` label, a `kind` and a URL; deterministic for a seed."""
    rng = random.Random(seed)
    bodies = [
        p
        for p in load_corpus()
        if p.is_article and len(p.body.split()) >= 50 and len(paragraphs(p.body)) >= 2
    ]
    rng.shuffle(bodies)
    bases = bodies[:limit]
    titles = [(p.title or paragraphs(p.body)[0][:80]).split("\n")[0] for p in bases]
    neighbour = topic_neighbours([p.body for p in bases])
    docs: list[dict[str, Any]] = []

    def add(story: str, kind: str, text: str, url: str, canonical: str | None = None) -> None:
        when = T0 + dt.timedelta(hours=rng.randint(0, 72))
        docs.append(
            {
                "story": story,
                "kind": kind,
                "text": text,
                "url": url,
                "canonical": canonical,
                "published_at": when,
            }
        )

    for i, page in enumerate(bases):
        story, body, url = f"s{i}", page.body, f"https://base{i}.example/story/{i}"
        paras = paragraphs(body)
        other = bases[neighbour[i]]
        add(story, "base", body, url)
        related = "\n".join(rng.sample(titles, 4))
        head, tail = SITES[i % len(SITES)]
        add(
            story,
            "syndicated",
            f"{head}\n{body}\n{tail.format(related=related)}",
            f"https://site{i % len(SITES)}.example/copy/{i}",
        )
        add(story, "edited", edited(paras, rng), f"https://wire{i}.example/{i}")
        extra = rng.choice(paragraphs(bases[(i + 7) % len(bases)].body))
        add(story, "added", "\n".join([*paras, extra]), f"https://local{i}.example/{i}")
        if len(paras) >= 4:
            half = paras[: len(paras) // 2]
            add(
                story,
                "excerpt",
                "\n".join([*half, "Read the full story on the original site."]),
                f"https://digest{i}.example/{i}",
            )
        variant = rng.choice(
            [f"{url}?utm_source=feed&fbclid=abc", url.replace("base", "m.base"), f"{url}/amp"]
        )
        add(story, "url", body, variant, canonical=url)
        # hard negatives: a follow-up, and (through SITES) other stories in the same wrapper
        if len(paras) > 2:
            background = rng.sample(paras, min(len(paras) - 2, rng.choice([1, 2])))
            news = [rng.choice(paragraphs(other.body))] + [
                rng.choice(paragraphs(bases[rng.randrange(len(bases))].body)) for _ in range(3)
            ]
            add(
                f"f{i}",
                "follow_up",
                "\n".join([*news, *background]),
                f"https://follow{i}.example/{i}",
            )
    return docs


def edited(paras: list[str], rng: random.Random) -> str:
    kept = paras[:-1] if len(paras) >= 3 else list(paras)
    out = []
    for n, para in enumerate(kept):
        words = para.split()
        if n == 0 and len(words) > 8:
            words[:5] = ["In", "a", "statement", "on", "Tuesday,"]
        for k in range(len(words)):
            if rng.random() < 0.02:
                words[k] = rng.choice(EDIT_WORDS)
        out.append(" ".join(words))
    at = rng.randrange(len(out))
    out[at] += " The decision was welcomed by residents of the region."
    return "\n".join(out)


def topic_neighbours(texts: list[str]) -> list[int]:
    """For each text, the other text sharing most distinct content words (same topic)."""
    vocab: dict[str, int] = {}
    sets = []
    for text in texts:
        words = {w for w in re.findall(r"\w{4,}", text.casefold())}
        sets.append({vocab.setdefault(w, len(vocab)) for w in words})
    best = []
    for i, a in enumerate(sets):
        scores = [(len(a & b) / (len(a | b) or 1), j) for j, b in enumerate(sets) if j != i]
        best.append(max(scores)[1])
    return best


# ------------------------------------------------------- scripts written without spaces

# a Chinese site's wrapper, and the text a copy adds (written for the project)
UNSPACED_HEAD = "新闻 | 体育 | 天气\n分享到微博 分享到微信"
UNSPACED_TAIL = "相关新闻\n{related}\n版权所有\uff0c未经授权不得转载。"
UNSPACED_ADDED = "本网记者将继续关注此事的进展。"


def unspaced_bodies() -> list[str]:
    """The article bodies, as newsflow extracts them, of the pages of the htmldate set
    (../shared/eval/htmldate) written mostly in the scripts without spaces between words
    (Chinese, Japanese, Thai: at least 300 of their characters, and most of the text's
    word characters); chosen by script alone."""
    import gzip
    import json

    from ingest.extract.page import ExtractError, extract_page

    folder = EVAL / "htmldate"
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    alone = "".join(f"{chr(a)}-{chr(b)}" for a, b in minhash.CHARACTER_WORD_RANGES)
    script = re.compile(f"(?=\\w)[{alone}]")
    bodies = []
    for page_id, row in sorted(truth.items()):
        raw = gzip.decompress((folder / "html" / f"{page_id}.html.gz").read_bytes())
        if len(script.findall(raw[:200_000].decode("utf-8", "ignore"))) < 200:
            continue  # (a cheap look before extracting)
        try:
            text = extract_page(raw, row["url"]).text
        except ExtractError:
            continue
        chars = len(script.findall(text))
        if chars >= 300 and chars >= 0.5 * len(re.findall(r"\w", text)):
            bodies.append(text)
    return bodies


def build_unspaced_set(bodies: list[str], seed: int = 11) -> list[dict[str, Any]]:
    """Stories of `bodies` with copies edited at the character level: syndicated in a
    Chinese site's wrapper, edited (2% of the characters replaced, a sentence inserted, the
    last paragraph cut), one paragraph of another story added, an excerpt (the first half)."""
    rng = random.Random(seed)
    docs: list[dict[str, Any]] = []
    firsts = [paragraphs(b)[0][:40] for b in bodies]

    def add(story: str, kind: str, text: str, url: str) -> None:
        when = T0 + dt.timedelta(hours=rng.randint(0, 72))
        docs.append(
            {"story": story, "kind": kind, "text": text, "url": url, "canonical": None}
            | {"published_at": when}
        )

    for i, body in enumerate(bodies):
        story, paras = f"u{i}", paragraphs(body)
        pool = [c for c in body if not c.isspace()]
        add(story, "base", body, f"https://base{i}.example/story/{i}")
        related = "\n".join(rng.sample(firsts, min(4, len(firsts))))
        syndicated = f"{UNSPACED_HEAD}\n{body}\n{UNSPACED_TAIL.format(related=related)}"
        add(story, "syndicated", syndicated, f"https://site.example/copy/{i}")
        kept = paras[:-1] if len(paras) >= 3 else list(paras)
        changed = ["".join(rng.choice(pool) if rng.random() < 0.02 else c for c in p) for p in kept]
        changed[rng.randrange(len(changed))] += UNSPACED_ADDED
        add(story, "edited", "\n".join(changed), f"https://wire{i}.example/{i}")
        extra = rng.choice(paragraphs(bodies[(i + 5) % len(bodies)]))
        add(story, "added", "\n".join([*paras, extra]), f"https://local{i}.example/{i}")
        if len(paras) >= 4:
            add(
                story,
                "excerpt",
                "\n".join(paras[: len(paras) // 2]),
                f"https://digest{i}.example/{i}",
            )
    return docs


@contextmanager
def older_words() -> Iterator[None]:
    """Fingerprints by the older MinHash scheme's words (minhash.OLDER_SCHEMES): every \\w+
    run one word, whatever its script."""
    table = minhash._word_table()
    saved = table.copy()
    table[table > 0] = 1
    try:
        yield
    finally:
        table[:] = saved


# ------------------------------------------------------------------------------ scoring


def predicted_stories(docs: list[dict[str, Any]], rule: str) -> list[int]:
    """Story of each document under the project's rule ("newsflow") or plain MinHash at
    Jaccard 0.8 ("jaccard-0.8"), with one row per canonical URL."""
    from transforms.normalise import content_hash

    rows = []
    for d in docs:
        canonical = canonical_url(d["url"], d["canonical"])
        rows.append(
            {
                "article_id": article_id(canonical),
                "text": d["text"],
                "content_hash": content_hash(d["text"]),
                "published_at": d["published_at"],
            }
        )
    add_fingerprints(rows)
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_id: dict[str, int] = {}
    for i, r in enumerate(rows):
        parent[find(i)] = find(by_id.setdefault(r["article_id"], i))
    if rule == "newsflow":
        pairs = copy_pairs(rows, WINDOW)
    else:  # plain MinHash: a copy is an estimated Jaccard of 0.8 or more
        pairs = copy_pairs(rows, WINDOW, is_copy=lambda jaccard, _: jaccard >= 0.8)
    for i, j in pairs:
        parent[find(i)] = find(j)
    return [find(i) for i in range(len(rows))]


def pair_scores(docs: list[dict[str, Any]], stories: list[int]) -> dict[str, Any]:
    truth_groups: dict[str, list[int]] = defaultdict(list)
    for i, d in enumerate(docs):
        truth_groups[d["story"]].append(i)
    truth = {p for g in truth_groups.values() for p in combinations(sorted(g), 2)}
    pred_groups: dict[int, list[int]] = defaultdict(list)
    for i, s in enumerate(stories):
        pred_groups[s].append(i)
    pred = {p for g in pred_groups.values() for p in combinations(sorted(g), 2)}
    hit = truth & pred
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for i, j in truth:
        kind = docs[j]["kind"] if docs[i]["kind"] == "base" else docs[i]["kind"]
        if docs[i]["kind"] == "base" or docs[j]["kind"] == "base":
            by_kind[kind][1] += 1
            by_kind[kind][0] += (i, j) in hit
    false = pred - truth
    wrong: dict[str, int] = defaultdict(int)
    for i, j in false:
        wrong["/".join(sorted((docs[i]["kind"], docs[j]["kind"])))] += 1
    return {
        "pairs": len(truth),
        "precision": len(hit) / len(pred) if pred else 1.0,
        "recall": len(hit) / len(truth) if truth else 1.0,
        "recall_by_kind": {k: v[0] / v[1] for k, v in sorted(by_kind.items())},
        "false_pairs": dict(sorted(wrong.items())),
    }


# ------------------------------------------------------------------------------ speed, memory


def synthetic_articles(n: int, words: int, seed: int = 3) -> list[str]:
    """Articles of `words` words made of real sentences from the evaluation bodies."""
    rng = random.Random(seed)
    sentences = [
        s for p in load_corpus() for s in re.split(r"(?<=[.!?])\s+", p.body) if len(s) > 40
    ]
    out = []
    for _ in range(n):
        picked: list[str] = []
        while sum(len(s.split()) for s in picked) < words:
            picked.append(rng.choice(sentences))
        out.append(" ".join(" ".join(picked).split()[:words]))
    return out


def throughput(n: int) -> dict[str, float]:
    texts = synthetic_articles(n, 500)
    index = minhash.BandIndex()
    started = time.process_time()
    batch = 500
    for k in range(0, n, batch):
        prints = minhash.fingerprint(texts[k : k + batch])
        index.query(prints.bands)
        index.add(prints.bands)
    seconds = time.process_time() - started
    return {"articles": n, "per_second": n / seconds}


def growth(sizes: list[int]) -> list[dict[str, float]]:
    """Index plus signatures for up to max(sizes) articles (random signatures: the index's
    size and speed do not depend on the words), inserted in batches of 10,000."""
    rng = np.random.default_rng(5)
    index = minhash.BandIndex()
    signatures: list[np.ndarray] = []
    out = []
    rss0 = _rss()
    step = 10_000
    total = 0
    for size in sorted(sizes):
        while total < size:
            sig = rng.integers(0, 2**32, (step, minhash.NUM_PERM), dtype=np.uint64).astype(
                np.uint32
            )
            index.add(minhash.band_hashes(sig))
            signatures.append(sig)
            total += step
        queries = minhash.band_hashes(
            rng.integers(0, 2**32, (1000, minhash.NUM_PERM), dtype=np.uint64).astype(np.uint32)
        )
        started = time.process_time()
        index.query(queries)
        query_s = time.process_time() - started
        held = index.nbytes + sum(s.nbytes for s in signatures) + total * 4
        out.append(
            {
                "articles": total,
                "held_mib": held / 2**20,
                "rss_growth_mib": (_rss() - rss0) / 2**20,
                "query_per_second": 1000 / query_s if query_s else float("inf"),
            }
        )
    return out


def window_read(sizes: list[int], new: int = 200) -> list[dict[str, float]]:
    """Write a dataset of N articles' dedup columns over 7 days, then time what a run does:
    read the window's content_hash and lsh_bands columns and test a run's new articles'
    hashes against them (pyarrow, vectorised)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from transforms.dataset import partition_dir, read_partitions

    rng = np.random.default_rng(9)
    out = []
    for size in sorted(sizes):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            per_day = size // 7
            for day in range(7):
                sig = rng.integers(0, 2**32, (per_day, minhash.NUM_PERM), dtype=np.uint64).astype(
                    np.uint32
                )
                bands = minhash.band_hashes(sig)
                table = pa.table(
                    {
                        "article_id": pa.array([f"{day:02d}{i:014d}" for i in range(per_day)]),
                        "content_hash": pa.array([f"h{day}-{i}" for i in range(per_day)]),
                        "story_id": pa.nulls(per_day, pa.string()),
                        "lsh_bands": pa.FixedSizeListArray.from_arrays(
                            pa.array(bands.reshape(-1)), minhash.BANDS
                        ).cast(pa.list_(pa.int64())),
                    }
                )
                target = partition_dir(root, (T0 + dt.timedelta(days=day)).date())
                target.mkdir(parents=True)
                pq.write_table(table, target / "bench__run.parquet", compression="zstd")
            probe_bands = pa.array(
                minhash.band_hashes(
                    rng.integers(0, 2**32, (new, minhash.NUM_PERM), dtype=np.uint64).astype(
                        np.uint32
                    )
                ).reshape(-1)
            )
            days = [(T0 + dt.timedelta(days=d)).date() for d in range(7)]
            started = time.perf_counter()
            window = read_partitions(
                root, ["article_id", "content_hash", "story_id", "lsh_bands"], days
            )
            read_s = time.perf_counter() - started
            started = time.perf_counter()
            flat = pc.list_flatten(window["lsh_bands"])
            pc.is_in(flat, value_set=probe_bands)
            pc.is_in(window["content_hash"], value_set=pa.array(["x"] * new))
            match_s = time.perf_counter() - started
            out.append({"articles": size, "read_s": read_s, "match_s": match_s})
    return out


def _rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ------------------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bases", type=int, default=600, help="base stories in the labelled set")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="index sizes to measure")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.quick:
        args.bases, sizes = 60, [10_000]
    if not EVAL.is_dir():
        parser.error(f"{EVAL}: the evaluation sets are needed for the labelled set")
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    docs = build_set(args.bases)
    kinds = defaultdict(int)
    for d in docs:
        kinds[d["kind"]] += 1
    print(f"labelled set: {len(docs)} documents, {args.bases} stories ({dict(kinds)})")
    print(
        f"scheme {minhash.SCHEME}; copy = containment >= {minhash.CONTAINMENT_MIN} and Jaccard >= {minhash.JACCARD_MIN}"
    )
    for rule in ("newsflow", "jaccard-0.8"):
        scores = pair_scores(docs, predicted_stories(docs, rule))
        print(
            f"{rule:<12} pairs={scores['pairs']} precision={scores['precision']:.3f} "
            f"recall={scores['recall']:.3f}"
        )
        print(
            "  recall by kind: "
            + ", ".join(f"{k} {v:.3f}" for k, v in scores["recall_by_kind"].items())
        )
        if scores["false_pairs"]:
            print(f"  false pairs: {scores['false_pairs']}")

    bodies = unspaced_bodies()
    unspaced = build_unspaced_set(bodies)
    print(
        f"scripts without spaces (htmldate set): {len(unspaced)} documents, {len(bodies)} stories"
    )
    for name, words in (("current scheme", nullcontext), ("older scheme", older_words)):
        with words():
            scores = pair_scores(unspaced, predicted_stories(unspaced, "newsflow"))
        print(
            f"  {name:<15} pairs={scores['pairs']} precision={scores['precision']:.3f} "
            f"recall={scores['recall']:.3f}; by kind: "
            + ", ".join(f"{k} {v:.3f}" for k, v in scores["recall_by_kind"].items())
        )

    speed = throughput(2_000 if args.quick else 20_000)
    print(
        f"fingerprint + LSH query + insert, 500-word articles, one core: "
        f"{speed['per_second']:,.0f} articles/s ({speed['articles']:,} articles)"
    )
    print(f"{'window':>10} {'held MiB':>10} {'RSS growth MiB':>15} {'queries/s':>10}")
    for g in growth(sizes):
        print(
            f"{g['articles']:>10,} {g['held_mib']:>10.0f} {g['rss_growth_mib']:>15.0f} "
            f"{g['query_per_second']:>10,.0f}"
        )
    print(f"{'window':>10} {'read lsh_bands+hash s':>22} {'membership test s':>18}")
    for w in window_read(sizes):
        print(f"{w['articles']:>10,} {w['read_s']:>22.2f} {w['match_s']:>18.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
