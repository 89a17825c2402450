"""Extraction quality, side by side: newsflow's layered extractor and plain trafilatura, on two
public sets with human-checked ground truth (see ../shared/eval/README.md):

- the Scrapinghub article-extraction benchmark (181 pages, body only);
- the development split of WCXB (793 articles with body, title, author and day of
  publication, plus 216 listing/collection pages that are not articles).

Metrics: body precision/recall/F1 with the Scrapinghub metric (token 4-gram multisets,
per-page P and R averaged, F1 from the averages) on both sets, and WCXB's own bag-of-words
F1; title exact match; author F1; date accuracy (exact day) on the dated articles, and the
share of undated articles left without a date (a date there is most often invented from a
copyright year or an unrelated month); page-type accuracy (article vs not); pages per second
on one core.

    .venv/bin/python benchmarks/extraction.py [--limit N] [--write-baseline]

Not a test. The gate (tests/benchmarks/test_extraction_gate.py) compares newsflow's scores
with the floors pinned in benchmarks/baseline.json for the same corpus hash.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVAL = Path(os.environ.get("NEWSFLOW_EVAL_DIR", ROOT.parent / "shared" / "eval"))
BASELINE = ROOT / "benchmarks" / "baseline.json"
_TOKEN = re.compile(r"\w+", re.UNICODE)


# ------------------------------------------------------------------------------ corpus


@dataclass(frozen=True)
class Page:
    corpus: str  # "aeb" or "wcxb"
    id: str
    url: str
    path: Path
    body: str
    title: str | None = None
    authors: tuple[str, ...] = ()
    date: str | None = None  # YYYY-MM-DD
    is_article: bool = True


def load_corpus(root: Path = EVAL) -> list[Page]:
    pages: list[Page] = []
    truth = json.loads((root / "aeb" / "ground-truth.json").read_text(encoding="utf-8"))
    for pid, item in sorted(truth.items()):
        pages.append(
            Page(
                "aeb",
                pid,
                item["url"],
                root / "aeb" / "html" / f"{pid}.html.gz",
                item["articleBody"],
            )
        )
    for path in sorted((root / "wcxb-dev" / "ground-truth").glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        gt = doc["ground_truth"]
        author = gt.get("author")
        authors = (
            tuple(a.strip() for a in re.split(r",| and |;", author) if a.strip())
            if isinstance(author, str)
            else ()
        )
        pages.append(
            Page(
                "wcxb",
                path.stem,
                doc.get("url") or "",
                root / "wcxb-dev" / "html" / f"{path.stem}.html.gz",
                gt.get("main_content") or "",
                gt.get("title"),
                authors,
                (gt.get("publish_date") or None),
                doc["_internal"]["page_type"]["primary"] == "article",
            )
        )
    return pages


def corpus_hash(root: Path = EVAL) -> str:
    """SHA-256 over every ground-truth and HTML file of both sets (names and bytes)."""
    digest = hashlib.sha256()
    files = [root / "aeb" / "ground-truth.json", *sorted((root / "aeb" / "html").iterdir())]
    files += sorted((root / "wcxb-dev" / "ground-truth").iterdir()) + sorted(
        (root / "wcxb-dev" / "html").iterdir()
    )
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


# ----------------------------------------------------------------------------- metrics


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(unicodedata.normalize("NFKC", text or ""))


def shingle_pr(pred: str, truth: str, n: int = 4) -> tuple[float, float]:
    """The Scrapinghub metric for one page: multiset precision and recall of token n-grams."""
    p, t = tokens(pred), tokens(truth)
    pc = Counter(tuple(p[i : i + n]) for i in range(max(len(p) - n + 1, 0)))
    tc = Counter(tuple(t[i : i + n]) for i in range(max(len(t) - n + 1, 0)))
    if not pc:
        return 0.0, 0.0
    common = sum((pc & tc).values())
    return common / sum(pc.values()), (common / sum(tc.values()) if tc else 0.0)


def bow_f1(pred: str, truth: str) -> float:
    """WCXB's metric for one page: bag-of-words F1 of lower-cased \\w+ tokens."""
    p, t = Counter(tokens(pred.lower())), Counter(tokens(truth.lower()))
    if not t:
        return 1.0 if not p else 0.0
    if not p:
        return 0.0
    common = sum((p & t).values())
    if not common:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(t.values())
    return 2 * precision * recall / (precision + recall)


def name_key(name: str) -> str:
    return " ".join(
        tokens(unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower())
    )


def author_f1(pred: Iterable[str], truth: Iterable[str]) -> float:
    p, t = {name_key(a) for a in pred} - {""}, {name_key(a) for a in truth} - {""}
    if not t:
        return 1.0 if not p else 0.0
    common = len(p & t)
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(t)
    return 2 * precision * recall / (precision + recall)


_TYPOGRAPHY = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)


def title_key(title: str | None) -> str:
    """Titles compared as words: case, white space and typographic quotes and dashes folded
    (the WCXB truth writes ASCII apostrophes where pages print typographic ones)."""
    return " ".join(
        unicodedata.normalize("NFKC", title or "").translate(_TYPOGRAPHY).split()
    ).casefold()


# --------------------------------------------------------------------------- extractors


@dataclass
class Result:
    body: str
    title: str | None
    authors: tuple[str, ...]
    date: str | None  # YYYY-MM-DD
    is_article: bool
    seconds: float
    stored: bool = True  # False: the page was quarantined or dropped (not_article, no_text...)


def run_newsflow(html: bytes, url: str) -> Result:
    from ingest.extract.page import ExtractError, extract_page
    from transforms.normalise import local_day

    started = time.process_time()
    try:
        page = extract_page(html, url)
    except ExtractError as exc:
        return Result(
            "",
            None,
            (),
            None,
            exc.reason not in ("not_article", "no_text"),
            time.process_time() - started,
            stored=False,
        )
    # the day the page names, in its own offset (the truth is a local calendar day)
    day = local_day(page.published)
    return Result(page.text, page.title, page.authors, day, True, time.process_time() - started)


def run_trafilatura(html: bytes, url: str) -> Result:
    import trafilatura

    from ingest.extract.article_body import trafilatura_as_shipped

    started = time.process_time()
    with trafilatura_as_shipped():  # trafilatura as it ships, though newsflow ran in this process
        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    elapsed = time.process_time() - started
    if doc is None or isinstance(doc, dict):
        return Result("", None, (), None, False, elapsed, stored=False)
    authors = tuple(a.strip() for a in (doc.author or "").split(";") if a.strip())
    return Result(
        doc.text or "", doc.title, authors, doc.date, bool(doc.text), elapsed, bool(doc.text)
    )


EXTRACTORS: dict[str, Callable[[bytes, str], Result]] = {
    "newsflow": run_newsflow,
    "trafilatura": run_trafilatura,
}


_WARM_PAGE = (
    b"<html lang='en'><head><title>Warm-up</title></head><body><article><h1>Warm-up</h1>"
    b"<p>Published March 3, 2024. " + b"A sentence of the warm-up page. " * 40 + b"</p>"
    b"</article></body></html>"
)


def _warm_up() -> None:
    """Each worker runs both extractors once before anything is timed: their one-off costs
    (imports, htmldate's date parser set-up) must not land on whichever runs first."""
    for extract in EXTRACTORS.values():
        extract(_WARM_PAGE, "https://warm.example/2024/03/03/warm-up")


def _work(args: tuple[str, Page]) -> tuple[str, str, Result]:
    name, page = args
    html = gzip.decompress(page.path.read_bytes())
    return name, page.id + page.corpus, EXTRACTORS[name](html, page.url)


# ------------------------------------------------------------------------------- scoring


def score(pages: list[Page], results: dict[str, Result]) -> dict[str, float]:
    out: dict[str, float] = {}
    for corpus in ("aeb", "wcxb"):
        chosen = [p for p in pages if p.corpus == corpus and p.is_article]
        if not chosen:
            continue
        prs = [shingle_pr(results[p.id + p.corpus].body, p.body) for p in chosen]
        precision = sum(pr[0] for pr in prs) / len(prs)
        recall = sum(pr[1] for pr in prs) / len(prs)
        out[f"{corpus}_body_precision"] = precision
        out[f"{corpus}_body_recall"] = recall
        out[f"{corpus}_body_f1"] = (
            2 * precision * recall / (precision + recall) if precision + recall else 0.0
        )
    wcxb = [p for p in pages if p.corpus == "wcxb"]
    articles = [p for p in wcxb if p.is_article]
    if articles:
        out["wcxb_bow_f1"] = sum(
            bow_f1(results[p.id + p.corpus].body, p.body) for p in articles
        ) / len(articles)
        titled = [p for p in articles if p.title]
        out["title_exact"] = sum(
            title_key(results[p.id + p.corpus].title) == title_key(p.title) for p in titled
        ) / len(titled)
        authored = [p for p in articles if p.authors]
        out["author_f1"] = sum(
            author_f1(results[p.id + p.corpus].authors, p.authors) for p in authored
        ) / len(authored)
        dated = [p for p in articles if p.date]
        out["date_day_accuracy"] = sum(
            results[p.id + p.corpus].date == p.date for p in dated
        ) / len(dated)
        # a date on a page whose truth has none is most often invented (a copyright year)
        undated = [p for p in articles if not p.date]
        out["undated_left_blank"] = sum(
            results[p.id + p.corpus].date is None for p in undated
        ) / len(undated)
    # an article page must never be lost: not stored as an article (not_article, no_text...)
    every = [p for p in pages if p.is_article]
    if every:
        out["articles_kept"] = sum(results[p.id + p.corpus].stored for p in every) / len(every)
    if wcxb:
        out["page_type_accuracy"] = sum(
            results[p.id + p.corpus].is_article == p.is_article for p in wcxb
        ) / len(wcxb)
    out["pages_per_second"] = len(pages) / sum(results[p.id + p.corpus].seconds for p in pages)
    return out


HELD_BACK_SHARE = 5  # one page in five of each set is held back: scored, never studied


def held_back(page: Page) -> bool:
    """Whether the page is in the held-back part: a fixed fifth of each set, by a hash of its
    id, so no rule is ever written while looking at it (`--dump` leaves it out)."""
    digest = hashlib.sha256(f"{page.corpus}/{page.id}".encode()).digest()
    return digest[0] % HELD_BACK_SHARE == 0


def evaluate(
    names: list[str],
    pages: list[Page],
    workers: int,
    dump: Path | None = None,
    split: str = "all",
) -> dict[str, dict[str, float]]:
    """Scores of each extractor on `pages` (`split`: "all", or "dev" and "held" for the two
    parts; see `held_back`)."""
    return {n: s[split] for n, s in evaluate_splits(names, pages, workers, dump).items()}


def evaluate_splits(
    names: list[str], pages: list[Page], workers: int, dump: Path | None = None
) -> dict[str, dict[str, dict[str, float]]]:
    """Scores of each extractor on all pages, on the development part and on the held-back
    part, from one extraction of every page."""
    results: dict[str, dict[str, Result]] = {name: {} for name in names}
    jobs = [(name, page) for page in pages for name in names]
    with ProcessPoolExecutor(max_workers=workers, initializer=_warm_up) as pool:
        for name, key, result in pool.map(_work, jobs, chunksize=8):
            results[name][key] = result
    dev = [p for p in pages if not held_back(p)]
    held = [p for p in pages if held_back(p)]
    if dump is not None:
        write_dump(dump, dev, results)
    return {
        name: {
            "all": score(pages, results[name]),
            "dev": score(dev, results[name]),
            "held": score(held, results[name]),
        }
        for name in names
    }


def write_dump(path: Path, pages: list[Page], results: dict[str, dict[str, Result]]) -> None:
    """One JSON line per page: the truth and each extractor's fields and per-page scores, for
    studying misses by kind (never for rules about single pages)."""
    with path.open("w", encoding="utf-8") as out:
        for page in pages:
            row: dict[str, object] = {
                "corpus": page.corpus,
                "id": page.id,
                "url": page.url,
                "is_article": page.is_article,
                "truth": {"title": page.title, "authors": page.authors, "date": page.date},
            }
            for name, by_key in results.items():
                result = by_key[page.id + page.corpus]
                precision, recall = shingle_pr(result.body, page.body)
                row[name] = {
                    "title": result.title,
                    "authors": result.authors,
                    "date": result.date,
                    "is_article": result.is_article,
                    "body_precision": round(precision, 4),
                    "body_recall": round(recall, 4),
                    "bow_f1": round(bow_f1(result.body, page.body), 4),
                    "seconds": round(result.seconds, 4),
                }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--limit", type=int, default=0, help="only the first N pages of each set (a quick look)"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", choices=list(EXTRACTORS), help="one extractor only")
    parser.add_argument(
        "--dump", type=Path, help="write one JSON line per page with both extractors' fields"
    )
    parser.add_argument(
        "--write-baseline",
        action="store_true",
        help="pin the newsflow scores in benchmarks/baseline.json",
    )
    args = parser.parse_args()
    pages = load_corpus()
    if args.limit:
        pages = [
            p for c in ("aeb", "wcxb") for p in [q for q in pages if q.corpus == c][: args.limit]
        ]
    names = [args.only] if args.only else list(EXTRACTORS)
    started = time.monotonic()
    splits = evaluate_splits(names, pages, args.workers, args.dump)
    scores = {name: parts["all"] for name, parts in splits.items()}
    held = sum(held_back(p) for p in pages)
    print(
        f"{len(pages)} pages ({sum(p.corpus == 'aeb' for p in pages)} Scrapinghub, {sum(p.corpus == 'wcxb' for p in pages)} WCXB-dev; {held} held back) in {time.monotonic() - started:.0f}s"
    )
    keys = list(next(iter(scores.values())))
    columns = [(n, part) for n in names for part in ("all", "dev", "held")]
    print(f"{'metric':<22}" + "".join(f"{f'{n} {part}':>18}" for n, part in columns))
    for key in keys:
        print(f"{key:<22}" + "".join(f"{splits[n][part][key]:>18.3f}" for n, part in columns))
    if args.write_baseline:
        if args.limit or "newsflow" not in scores:
            parser.error("--write-baseline needs the whole corpus and the newsflow extractor")
        floors = {
            k: round(v - 0.005, 3) for k, v in scores["newsflow"].items() if k != "pages_per_second"
        }
        BASELINE.write_text(
            json.dumps(
                {
                    "corpus_sha256": corpus_hash(),
                    "measured": time.strftime("%Y-%m-%d"),
                    "scores": {
                        n: {k: round(v, 4) for k, v in s.items()} for n, s in scores.items()
                    },
                    "floors": floors,
                },
                indent=1,
                sort_keys=True,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"wrote {BASELINE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
