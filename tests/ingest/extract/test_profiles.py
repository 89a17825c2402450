"""Site profiles: each ships a real-looking page and an expected JSON (sorted keys)."""

from __future__ import annotations

import dataclasses
import json

from ingest.demo import DEMO_SITE
from ingest.extract.metadata import PageMetadata
from ingest.extract.page import extract_page
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
    assert page.original_source == "merkur" and page.authors == ("as",)
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


def test_profile_versions_are_dated_and_chosen_by_publication_day() -> None:
    assert [v.valid_from for v in VERSIONS] == sorted(v.valid_from for v in VERSIONS)
    assert LIMITED_TIMES.version_for("2023-04-06T11:03:23.682Z") is VERSIONS[-1]
    assert LIMITED_TIMES.version_for(None) is VERSIONS[-1]


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
