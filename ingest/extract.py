"""Article extraction: the page's structured metadata first, then trafilatura for body and gaps."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version

from ingest.decode import decode_html
from ingest.metadata import read_metadata

MIN_WORDS = 20
EXTRACTOR = f"trafilatura/{version('trafilatura')}"


class ExtractError(Exception):
    """A page that yields no article; `reason` is a quarantine code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ExtractedPage:
    title: str | None
    text: str
    description: str | None
    authors: tuple[str, ...]
    published: str | None  # as the page states it
    published_from: str | None  # jsonld | meta | time_element | page_heuristic
    modified: str | None
    canonical: str | None
    site_name: str | None
    language: str | None
    extractor: str


def extract_page(body: bytes, url: str, header_charset: str | None = None) -> ExtractedPage:
    """Extract one article from HTML bytes; raises ExtractError (`parse_error`, `no_text`)."""
    import trafilatura
    from lxml import etree
    from lxml import html as lxml_html

    text, _ = decode_html(body, header_charset)
    try:
        tree = lxml_html.document_fromstring(text.encode("utf-8"), parser=_parser())
    except (etree.ParserError, ValueError) as exc:
        raise ExtractError("parse_error", f"{url}: {exc}") from None
    meta = read_metadata(tree)
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        date_extraction_params={
            "extensive_search": True,
            "original_date": True,
            "outputformat": "%Y-%m-%d",
        },
    )
    if doc is None or isinstance(doc, dict) or not (doc.text or "").strip():
        raise ExtractError("no_text", f"{url}: no article text found")
    title = meta.title or doc.title
    body_text = _drop_title_line(doc.text or "", title)
    if len(body_text.split()) < MIN_WORDS:
        raise ExtractError(
            "no_text", f"{url}: only {len(body_text.split())} words of text (minimum {MIN_WORDS})"
        )
    published, published_from = meta.published, meta.published_from
    if published is None and doc.date:
        published, published_from = doc.date, "page_heuristic"
    authors = meta.authors or tuple(a.strip() for a in (doc.author or "").split(";") if a.strip())
    return ExtractedPage(
        title=title,
        text=body_text,
        description=meta.description or doc.description,
        authors=authors,
        published=published,
        published_from=published_from,
        modified=meta.modified,
        canonical=meta.canonical,
        site_name=meta.site_name or doc.sitename,
        language=meta.language,
        extractor=EXTRACTOR,
    )


def _parser() -> object:
    from lxml import html as lxml_html

    return lxml_html.HTMLParser(encoding="utf-8", remove_comments=True, huge_tree=False)


def _drop_title_line(text: str, title: str | None) -> str:
    """trafilatura keeps the headline as the body's first line; the record has it as `title`."""
    lines = text.strip().split("\n")
    if (
        title
        and lines
        and " ".join(lines[0].split()).casefold() == " ".join(title.split()).casefold()
    ):
        lines = lines[1:]
    return "\n".join(lines).strip()
