"""Tagging: each tagger, the taxonomy loader's messages, error isolation, retag."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from transforms.dataset import article_files
from transforms.tagging import TAG_COLUMNS, Tagger, get_tagger, retag, tag_rows
from transforms.tagging.entities import RuleEntityTagger
from transforms.tagging.keywords import keywords
from transforms.tagging.language import detect
from transforms.tagging.places import find_places
from transforms.tagging.topics import TaxonomyError, load_taxonomy

SEED = Path(__file__).resolve().parents[1] / "fixtures" / "profiles"
SEED_TITLE = "New Putin-Lukashenko plan: Russia apparently moves Belarus troops"


def seed_text() -> str:
    import json

    text: str = json.loads((SEED / "limited-times-2023-04-06.expected.json").read_text("utf-8"))[
        "text"
    ]
    return text


def test_the_seed_article_carries_its_language_places_people_and_topics() -> None:
    columns, failed = get_tagger(None, "rules").tag(SEED_TITLE, seed_text(), "en")
    assert failed == []
    assert columns["language"] == "en" and columns["language_score"] > 0.9
    assert {"RU", "BY", "UA", "FI", "PL"} <= set(columns["places"])
    assert {"Vladimir Putin", "Alexander Lukashenko"} <= set(columns["people"])
    assert "conflict" in columns["topics"] and "politics" in columns["topics"]
    assert columns["tags"] == columns["topics"]
    evidence = {e["tag"]: e["terms"] for e in columns["tag_evidence"]}
    assert "troop*" in evidence["conflict"] and "kremlin" in evidence["politics"]
    assert columns["keywords"] and columns["tagger_version"].startswith("4+rules+taxonomy-")


@pytest.mark.parametrize(
    ("text", "places", "cities"),
    [
        ("Belarusian troops crossed into Poland, the Kremlin said.", ["BY", "PL", "RU"], []),
        ("Fighting in Donbass and talks in Helsinki.", ["FI", "UA"], ["Helsinki"]),
        ("The Bank of England met in London.", ["GB"], ["London"]),
        ("Michael Jordan spoke at Georgia Tech; Chad Smith played.", [], []),
        ("Jordan's king met Finns and Poles in the Netherlands.", ["FI", "JO", "NL", "PL"], []),
        ("The U.S. and Republic of Korea signed.", ["KR", "US"], []),
        ("a china cup and a turkey dinner", [], []),
    ],
)
def test_places(text: str, places: list[str], cities: list[str]) -> None:
    assert find_places(text) == (places, cities)


def test_people_and_organizations_by_rules() -> None:
    text = (
        'Mayor Anna Berg said the council would vote. "We are ready," said Tom Hale, a '
        "spokesman for the Port Authority. The World Health Organization (WHO) and Deutsche "
        "Bank agreed. Alexander Lukashenka met President Putin. Berg added that the University "
        "of Oslo helped."
    )
    people, organizations = RuleEntityTagger().people_and_organizations(text)
    assert people == ["Alexander Lukashenko", "Anna Berg", "Tom Hale", "Vladimir Putin"]
    assert {"World Health Organization", "Deutsche Bank", "University of Oslo"} <= set(
        organizations
    )
    assert "Berg" not in people and "Mayor Anna Berg" not in people


@pytest.mark.parametrize(
    ("text", "declared", "expected"),
    [
        ("Der Bundestag hat am Donnerstag das neue Gesetz zur Rente beschlossen.", None, "de"),
        (
            "Le gouvernement a présenté mercredi son projet de budget pour l'année prochaine.",
            "fr",
            "fr",
        ),
        ("Уряд ухвалив", "ru", "ru"),  # too short to tell apart: the declared language stands
        ("Уряд ухвалив новий закон про освіту", "ru", "uk"),  # long enough: the text wins
        ("", "pt-BR", "pt"),
        (
            "The council approved the budget on Tuesday after a long debate.",
            "de",
            "en",
        ),  # wrong hint
        # tables of results and lists of names: the detector guesses, the page's word stands
        (
            "PSV Eindhoven 16 12 3 1 42 10 39 Feyenoord 15 10 3 2 26 15 33 Twente 16 9 3 4 28",
            "en",
            "en",
        ),
        (
            "Jakarta Composite 512.34 Surabaya 201.1 Bandung 55.2 Medan 88.1 Semarang 12.0",
            "en",
            "en",
        ),
        (
            "Jakarta Composite 512.34 Surabaya 201.1 Bandung 55.2 Medan 88.1 Semarang 12.0",
            None,
            "id",
        ),
        (
            "Die Regierung hat am Dienstag beschlossen, die Steuern zu senken, sagte der Minister.",
            "en",
            "de",
        ),
    ],
)
def test_language_with_the_declared_language_as_a_hint(
    text: str, declared: str | None, expected: str
) -> None:
    assert detect(text, declared)[0] == expected


def test_topics_fire_on_distinct_terms_and_record_them(tmp_path: Path) -> None:
    taxonomy = load_taxonomy()
    fired = taxonomy.match(
        "Storm warning for the coast",
        "Forecasters expect heavy rain and gusts of wind; temperatures will fall.",
    )
    assert [(tag, terms) for tag, _, terms in fired] == [
        ("weather", ["forecast*", "gust*", "rain", "storm*", "temperature*", "wind"])
    ]
    assert taxonomy.match("", "It rained.") == []


def test_user_tags_extend_and_replace_the_bundled_taxonomy(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "tags:\n"
        "  harbour:\n    terms: [harbour, port authority, crane*]\n    min_score: 2\n    topic: false\n"
        "  weather:\n    terms: [drizzle]\n    min_score: 1\n",
        encoding="utf-8",
    )
    taxonomy = load_taxonomy(mine)
    fired = taxonomy.match("Cranes for the harbour", "A light drizzle fell.")
    assert [(tag, is_topic) for tag, is_topic, _ in fired] == [
        ("weather", True),
        ("harbour", False),
    ]
    assert taxonomy.digest != load_taxonomy().digest


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("tags: [1, 2]", "needs a `tags:` mapping of tag names to `terms:` lists"),
        ("tags:\n  Bad Name:\n    terms: [x]", "tags.Bad Name: a tag name is lower-case letters"),
        ("tags:\n  a:\n    terms: []", "tags.a: give it a non-empty `terms:` list"),
        (
            "tags:\n  a:\n    terms: [x]\n    weight: 2",
            "tags.a: unknown key 'weight'; use terms, min_score or topic",
        ),
        ("tags:\n  a:\n    terms: ['(x)']", "tags.a: term '(x)' is not a word or phrase"),
        (
            "tags:\n  a:\n    terms: [x]\n    min_score: 0",
            "tags.a.min_score: 0 is not a whole number from 1 to 100",
        ),
        ("tags:\n  a:\n    terms: [x]\n    topic: maybe", "tags.a.topic: write true or false"),
        ("tags: {a: [", "not a valid YAML file at line"),
    ],
)
def test_taxonomy_errors_name_the_file_the_item_and_the_fix(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "tags.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TaxonomyError) as raised:
        load_taxonomy(path)
    assert str(raised.value).startswith(f"{path}: ") and message in str(raised.value)
    with pytest.raises(TaxonomyError, match="cannot read the taxonomy file"):
        load_taxonomy(tmp_path / "missing.yaml")


def test_a_bad_taxonomy_in_the_sources_file_is_a_config_error(tmp_path: Path) -> None:
    from ingest.config import ConfigError, load_sources

    (tmp_path / "tags.yaml").write_text("tags:\n  a:\n    terms: []\n", encoding="utf-8")
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "settings:\n  taxonomy: tags.yaml\nsources:\n"
        "  - {id: a, name: A, feeds: ['http://127.0.0.1:1/feed.xml']}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_sources(sources)
    assert str(raised.value).startswith(f"{sources}: settings.taxonomy: ")
    assert "tags.a: give it a non-empty `terms:` list" in str(raised.value)


class Broken:
    name = "broken"

    def people_and_organizations(
        self, text: str, tokens: list[Any] | None = None, language: str | None = None
    ) -> tuple[list[str], list[str]]:
        raise RuntimeError("entity model crashed")


def test_a_failing_tagger_leaves_its_columns_empty_and_the_others_filled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tagger = Tagger(load_taxonomy(), Broken())
    rows: list[dict[str, Any]] = [{"title": SEED_TITLE, "text": seed_text(), "language": "en"}]
    with caplog.at_level(logging.ERROR, logger="transforms.tagging"):
        assert tag_rows(rows, tagger) == 1
    row = rows[0]
    assert row["people"] == [] and row["organizations"] == []
    assert "RU" in row["places"] and "conflict" in row["topics"]
    assert "tagging: entities failed" in caplog.text and "entity model crashed" in caplog.text
    assert set(TAG_COLUMNS) <= set(row) and row["language_declared"] == "en"


def test_keywords_are_a_handful_of_phrases_from_the_article() -> None:
    found = keywords(SEED_TITLE, seed_text())
    assert 1 <= len(found) <= 5
    assert any("Belarus" in k for k in found)
    assert len({k.casefold() for k in found}) == len(found)


def test_retag_is_idempotent_and_follows_a_changed_taxonomy(
    demo_sources: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ingest.cli import main

    data = tmp_path / "data"
    assert main(["ingest", "--config", str(demo_sources), "--data", str(data)]) == 0
    assert retag(data, get_tagger())["changed"] == 0  # the ingest tagged with the same tagger
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "tags:\n  harbour:\n    terms: [harbour, port, crane*, ferry]\n    min_score: 1\n    topic: false\n",
        "utf-8",
    )
    tagger = get_tagger(str(mine))
    first = retag(data, tagger, since=dt.date(2023, 4, 1))
    assert first["changed"] == 5 and first["failed"] == 0  # every row's tagger_version changes
    mtimes = {p: p.stat().st_mtime_ns for p in article_files(data)}
    assert retag(data, tagger)["changed"] == 0
    assert {p: p.stat().st_mtime_ns for p in article_files(data)} == mtimes
    rows = [r for p in article_files(data) for r in pq.read_table(p).to_pylist()]
    ferry = next(r for r in rows if "ferry" in (r["title"] or "").lower())
    assert "harbour" in ferry["tags"] and "harbour" not in ferry["topics"]
    assert all(r["tagger_version"] == tagger.version for r in rows)


def test_norway_is_a_country_code_not_yamls_false() -> None:
    from transforms.tagging.places import find_places

    codes, _ = find_places("Norwegian officials met German ministers in Oslo on Tuesday.")
    assert codes == ["DE", "NO"]


def test_russia_by_its_short_name() -> None:
    from transforms.tagging.places import find_places

    assert find_places("Russia said the talks would go on.")[0] == ["RU"]


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Talks between Turkey and Greece resumed on Monday.", ["GR", "TR"]),
        ("Troops from Zaire crossed into Yugoslavia, officials said.", ["CD", "RS"]),
        ("Ivory Coast beat Ghana on Sunday.", ["CI", "GH"]),
        ("WASHINGTON 1996-12-06 The president signed the bill.", ["US"]),
        ("Die Schweiz und Frankreich einigten sich mit Deutschland.", ["CH", "DE", "FR"]),
        ("L'Allemagne et l'Espagne ont signé.", ["DE", "ES"]),
        ("BERLIN (dpa) - Die Regierung hat beschlossen.", ["DE"]),
        ("Banks in Frankfurt and Cologne reported.", ["DE"]),
        # a city that is also a surname does not count inside a person's name
        ("President John F. Kennedy visited the port.", []),
        ("Kennedy said the bill would pass. Kennedy's aides agreed.", []),  # alone, too
        ("Flooding hit homes in Kennedy, a district of the capital.", ["CO"]),
    ],
)
def test_places_in_other_spellings_languages_and_datelines(text: str, codes: list[str]) -> None:
    """Names the country library no longer uses (Turkey) or never used (Zaire, Yugoslavia's
    successor, Ivory Coast), the names in six other languages, and agency datelines."""
    from transforms.tagging.places import find_places

    assert find_places(text)[0] == codes


def test_a_country_that_names_an_organisation_is_not_a_place_of_the_story() -> None:
    from transforms.tagging.places import find_places

    assert find_places("The Union Bank of Switzerland raised its forecast.")[0] == []
    assert find_places("Students at the University of Ghana protested.")[0] == []
    assert find_places("Exports to Switzerland rose.")[0] == ["CH"]


@pytest.mark.parametrize(
    ("text", "people"),
    [
        # a surname alone is not a well-known person without a first name or a title
        ("Results: Powell 71, Smith 70, Jones 68.", []),
        ("Vance said the tanker was late.", []),
        ("Mr Vance said the plan was ready.", ["JD Vance"]),
        # inside a longer name it is someone else's
        ("The economist John Vance Langmore said the plan was late.", ["John Vance Langmore"]),
        # the full name printed once makes the surname alone count
        ("JD Vance arrived. Later, Vance spoke.", ["JD Vance"]),
    ],
)
def test_a_lone_surname_is_a_well_known_person_only_with_a_cue(
    text: str, people: list[str]
) -> None:
    found, _ = RuleEntityTagger().people_and_organizations(text)
    assert found == people


@pytest.mark.parametrize(
    ("text", "people", "organizations"),
    [
        # a name is whole: inner capitals and hyphens belong to it
        ("Mike McCarthy said he was ready.", ["Mike McCarthy"], []),
        ("Boutros Boutros-Ghali said the talks failed.", ["Boutros Boutros-Ghali"], []),
        ("Sean O'Brien said no.", ["Sean O'Brien"], []),
        # a role before the name is not part of it
        ("Industry Secretary Ian Lang said the plan was sound.", ["Ian Lang"], []),
        # streets and buildings are not people
        ("A spokesman for Downing Street said no. The White House said yes.", [], []),
        # a bracket after a name is an acronym only when it abbreviates the name
        ("Tim Stimpson (England) scored twice.", [], []),
        ("The World Health Organization (WHO) said.", [], ["World Health Organization"]),
    ],
)
def test_names_are_whole_people_and_acronyms_are_real(
    text: str, people: list[str], organizations: list[str]
) -> None:
    found_people, found_organizations = RuleEntityTagger().people_and_organizations(text)
    assert found_people == people
    assert found_organizations == organizations


def test_places_in_german_and_french_by_names_exonyms_and_lower_case_adjectives() -> None:
    from transforms.tagging.places import find_places

    german = (
        "BERLIN (dpa) - Bundeskanzler Friedrich Merz hat am Dienstag mit dem französischen "
        "Präsidenten über die Lage gesprochen. Die russische Armee habe ihre Angriffe auf Kiew "
        "verstärkt. Auch Großbritannien will helfen. Aus Warschau hieß es, man sei bereit."
    )
    assert find_places(german, None, "de")[0] == ["DE", "FR", "GB", "PL", "RU", "UA"]
    french = (
        "Le président français a reçu le chancelier allemand. Selon Moscou, l'armée russe a "
        "avancé; les autorités chinoises et le ministre turc ont appelé au calme à Bruxelles."
    )
    assert find_places(french, None, "fr")[0] == ["BE", "CN", "DE", "FR", "RU", "TR"]
    # the adjectives are German and French words: not read in other languages' articles
    assert find_places("An afghan rug and argentine tango.", None, "en")[0] == []
    # names and the language's name are not the adjectives: capitalised words are other words
    assert find_places("Deutsche Bank profits rose; she teaches Deutsch and Français.")[0] == []


@pytest.mark.parametrize(
    ("text", "people"),
    [
        # ranks without their dots and occupations are cut like roles
        ("Lt Col Mara Ellison told the committee she had objected.", ["Mara Ellison"]),
        ("Meteorologist Dana Whitfield said the storm would turn north.", ["Dana Whitfield"]),
        # organisations, programmes and places printed where a name could stand are not people
        ("Coastal Research, a charity, said the plan would fail.", []),
        ("Harbour Marine Park Authority said the reef was recovering.", []),
        ("Weather Canada said the warning would stay in place.", []),
        ("San Francisco, a city of fog, said it would appeal.", []),
        # a trailing particle belongs to the next words, not to the name
        ("said Paul Girard de la Tour", ["Paul Girard"]),
    ],
)
def test_the_rules_keep_whole_peoples_names_only(text: str, people: list[str]) -> None:
    from transforms.tagging.entities import RuleEntityTagger

    assert RuleEntityTagger().people_and_organizations(text)[0] == people


def test_german_people_after_a_role_or_a_reporting_verb_and_german_organisations() -> None:
    from transforms.tagging.entities import RuleEntityTagger

    text = (
        "Wirtschaftsministerin Petra Lindqvist hat am Dienstag mit Verbänden gesprochen. "
        "Die Gespräche seien gut gewesen, sagte Regierungssprecher Jonas Brandt. "
        "CDU-Chef Karl Hoffmann kritisierte den Plan. Laut Frau Özlem Demir ist die Lage "
        "ernst. Am Montag Abend sagte der Minister nichts. Die Deutsche Bahn und die "
        "Gruppe Wagner wurden im Bundestag genannt. Die CDU stimmte zu."
    )
    people, organizations = RuleEntityTagger().people_and_organizations(text, None, "de")
    assert people == ["Petra Lindqvist", "Jonas Brandt", "Karl Hoffmann", "Özlem Demir"]
    assert {"Deutsche Bahn", "Wagner Group", "Bundestag", "Christian Democratic Union"} <= set(
        organizations
    )
    # German nouns are capitalised: without a role or a verb saying so, no name is taken
    assert RuleEntityTagger().people_and_organizations(text, None, "en")[0] == []
    # "Wagner" alone is a surname (the composer, a footballer), not the Wagner Group
    assert RuleEntityTagger().people_and_organizations("Wagner scored twice.")[1] == []


def test_tokens_and_where_sentences_start() -> None:
    from transforms.tagging.tokens import flatten, tokenize

    text = flatten(
        "  The U.S. envoy met John F. Kennedy's aide.\tThen  \u00a0 they left!\n\n“Yes,” she said"
    )
    assert text == "The U.S. envoy met John F. Kennedy's aide. Then they left!\n\n“Yes,” she said"
    tokens = tokenize(text)
    assert [t.text for t in tokens][:7] == ["The", "U.S.", "envoy", "met", "John", "F", "Kennedy's"]
    assert [t.text for t in tokens if t.sentence_start] == ["The", "Then", "Yes", "she"]
    assert all(text[t.start : t.end] == t.text for t in tokens)
    # a text that starts at a full stop (an article with no title): its first word starts it
    assert [(t.text, t.sentence_start) for t in tokenize(". A plan")] == [
        ("A", True),
        ("plan", False),
    ]


def test_a_text_that_starts_at_a_full_stop_is_tagged() -> None:
    columns, failed = get_tagger(None, "rules").tag(
        None, ". A council meeting was held in Berlin on Monday.", "en"
    )
    assert failed == [] and columns["places"] == ["DE"]
