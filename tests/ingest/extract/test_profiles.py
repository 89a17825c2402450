"""Site profiles: each ships a real-looking page and an expected JSON (sorted keys)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from lxml import etree

from ingest.config import PROFILES as PROFILE_NAMES
from ingest.demo import DEMO_SITE
from ingest.extract.metadata import PageMetadata
from ingest.extract.page import extract_page
from ingest.extract.profiles import find_profile, limited_times, profiles
from ingest.extract.profiles.limited_times import LIMITED_TIMES, VERSIONS
from tests.conftest import FIXTURES

PROFILES = FIXTURES / "profiles"
BASE = "http://127.0.0.1:8765"
SEED = (
    DEMO_SITE
    / "limited-times"
    / "news"
    / "2023-04-06-new-putin-lukashenko-plan-russia-apparently-moves-belarus-troops.html"
)


def test_limited_times_page_matches_its_expected_json() -> None:
    page = extract_page(
        SEED.read_bytes().replace(b"{{BASE_URL}}", BASE.encode()),
        f"{BASE}/limited-times/news/{SEED.name}",
    )
    got = json.loads(json.dumps(dataclasses.asdict(page), sort_keys=True))
    expected = json.loads(
        (PROFILES / "limited-times-2023-04-06.expected.json").read_text(encoding="utf-8")
    )
    assert got == expected


def test_limited_times_seed_record_field_by_field() -> None:
    page = extract_page(
        SEED.read_bytes().replace(b"{{BASE_URL}}", BASE.encode()),
        f"{BASE}/limited-times/news/{SEED.name}",
    )
    # the "(as)" initials leave the body and are not an author: initials are not people
    assert page.original_source == "merkur" and page.authors == ()
    assert "Source: merkur" not in page.text and "(as)" not in page.text
    lead = "Vladimir Putin and Alexander Lukashenko strengthen their alliance."
    assert page.text.startswith(lead) and page.text.count(lead) == 1  # the lead is not repeated
    assert page.description is not None and page.description.startswith(lead)
    assert (
        "headlined the Russian news agency Tass.\n" in page.text
    )  # the inline name stays in its sentence
    for chrome in (
        "You may like",
        "Trends 24h",
        "Latest",
        "©",
        "All news articles on",
        "Now you can see",
    ):
        assert chrome not in page.text


def test_profile_versions_are_dated_and_compiled_once() -> None:
    assert [v.valid_from for v in VERSIONS] == sorted(v.valid_from for v in VERSIONS)
    assert all(isinstance(v.body, etree.XPath) for v in VERSIONS)
    fetched = dt.datetime(2023, 4, 6, 11, 5, tzinfo=dt.UTC)
    assert limited_times.version_for(fetched) is VERSIONS[-1]
    assert limited_times.version_for(None) is VERSIONS[-1]  # fetched now: the current layout


REDESIGN = limited_times.Version(
    valid_from="2024-02-01",
    body=etree.XPath("//section[@class='article-text']"),
    blocks=etree.XPath("./p"),
    excerpt=etree.XPath("//p[@class='standfirst']"),
)


def redesigned_page(published: str) -> bytes:
    """A Limited Times page in the 2024 layout (another body container and excerpt)."""
    paragraphs = "".join(
        f"<p>Paragraph {n} of a story served in the redesigned layout, whatever its age.</p>"
        for n in range(5)
    )
    return (
        '<html><head><meta property="og:site_name" content="The Limited Times">'
        f'<meta property="article:published_time" content="{published}"></head><body>'
        "<article><h1>Redesigned</h1><p class='standfirst'>The lead of the redesigned page, "
        "printed above the body as before.</p>"
        f"<section class='article-text'>{paragraphs}</section></article></body></html>"
    ).encode()


def test_the_layout_version_is_chosen_by_fetch_day_not_publication_day(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limited_times, "VERSIONS", (*VERSIONS, REDESIGN))
    url = "https://www.thelimitedtimes.com/news/old-story.html"
    # a page published in 2021 but fetched after the redesign is served in the new layout
    after = extract_page(
        redesigned_page("2021-05-01T08:00:00Z"),
        url,
        fetched_at=dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC),
    )
    assert after.extractor == "profile:limited-times@2024-02-01"
    assert after.text.startswith("The lead of the redesigned page")
    # the same page fetched before the redesign was read with the old layout's selectors,
    # which find no post-content block: the generic layers take over
    before = extract_page(
        redesigned_page("2021-05-01T08:00:00Z"),
        url,
        fetched_at=dt.datetime(2024, 1, 31, 23, 0, tzinfo=dt.UTC),
    )
    assert before.extractor.startswith("trafilatura/")
    # the seed page, fetched in 2023, keeps its 2019 layout
    seed = extract_page(
        SEED.read_bytes().replace(b"{{BASE_URL}}", BASE.encode()),
        f"{BASE}/limited-times/news/{SEED.name}",
        fetched_at=dt.datetime(2023, 4, 6, 12, 0, tzinfo=dt.UTC),
    )
    assert seed.extractor == "profile:limited-times@2019-01-01"


def test_a_record_is_extracted_with_its_fetch_time_and_its_sources_profile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ingest.run.items import extract_record

    monkeypatch.setattr(limited_times, "VERSIONS", (*VERSIONS, REDESIGN))
    body = redesigned_page("2021-05-01T08:00:00Z").replace(b"The Limited Times", b"Mirror")
    item = {"url": "https://mirror.example/a", "final_url": "https://mirror.example/a"}
    record, _ = extract_record(
        {**item, "fetched_at": "2024-03-01T12:00:00+00:00"}, body, "en", "limited-times"
    )
    assert record is not None and record["extractor"] == "profile:limited-times@2024-02-01"
    record, _ = extract_record({**item, "fetched_at": "2024-03-01T12:00:00+00:00"}, body, "en")
    assert record is not None and record["extractor"].startswith("trafilatura/")


def test_a_profile_named_by_the_source_reads_pages_that_do_not_name_its_site() -> None:
    page = SEED.read_bytes().replace(b"{{BASE_URL}}", BASE.encode())
    page = page.replace(b'content="The Limited Times"', b'content="Mirror of the Times"')
    url = "https://mirror.example/news/seed.html"
    assert extract_page(page, url).extractor.startswith("trafilatura/")
    named = extract_page(page, url, profile="limited-times")
    assert named.extractor == "profile:limited-times@2019-01-01"
    assert named.original_source == "merkur"


def test_an_unknown_profile_name_falls_back_to_matching() -> None:
    assert find_profile(PageMetadata(site_name="The Limited Times"), "http://x/", "gone") is (
        LIMITED_TIMES
    )
    assert find_profile(PageMetadata(), "http://x/", "gone") is None


def test_the_sources_file_knows_every_profile() -> None:
    assert sorted(PROFILE_NAMES) == sorted(profiles())


def test_profile_matches_by_site_name_or_host_only() -> None:
    assert LIMITED_TIMES.matches(PageMetadata(site_name="The Limited Times"), "http://127.0.0.1/x")
    assert LIMITED_TIMES.matches(PageMetadata(), "https://www.thelimitedtimes.com/x")
    assert not LIMITED_TIMES.matches(
        PageMetadata(site_name="The Harbour Gazette"), "https://harbour.example/x"
    )


def test_a_page_the_profile_cannot_read_falls_back_to_the_generic_layers() -> None:
    paragraphs = "".join(
        f"<p>Paragraph {n} of a story that has no post-content block at all, only an article.</p>"
        for n in range(6)
    )
    html = f'<html><head><meta property="og:site_name" content="The Limited Times"></head><body><article><h1>Redesign</h1>{paragraphs}</article></body></html>'
    page = extract_page(html.encode(), "https://www.thelimitedtimes.com/news/redesign.html")
    assert page.extractor.startswith("trafilatura/") and page.title == "Redesign"
