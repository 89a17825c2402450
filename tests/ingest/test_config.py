from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from ingest.cli import main
from ingest.config import DATA_ENV, ConfigError, data_root, load_sources
from tests.conftest import ROOT

VALID = """
settings:
  user_agent: "newsflow/0.1 (+https://example.org/newsflow)"
  timeout_s: 20
  max_page_bytes: 5000000
  allow_networks: ["127.0.0.0/8"]
sources:
  - id: limited-times
    name: The Limited Times
    feeds: ["https://example.org/feed.xml"]
    sitemaps: []
    language: en
    schedule: "@hourly"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_loads(tmp_path: Path) -> None:
    config = load_sources(write(tmp_path, VALID))
    (source,) = config.sources
    assert source.id == "limited-times"
    assert source.feeds == ("https://example.org/feed.xml",)
    assert source.cron == "0 * * * *"
    assert config.settings.allow_networks == ("127.0.0.0/8",)
    assert config.settings.timeout_s == 20.0


def test_defaults_allow_no_private_networks(tmp_path: Path) -> None:
    config = load_sources(
        write(tmp_path, "sources:\n  - id: a\n    feeds: [https://example.org/f]\n")
    )
    assert config.settings.allow_networks == ()
    assert config.sources[0].schedule == "@hourly"


def test_retention_settings_default_to_a_week_of_work_files_and_raw_files_forever(
    tmp_path: Path,
) -> None:
    settings = load_sources(write(tmp_path, VALID)).settings
    assert (settings.keep_work_days, settings.keep_raw_days) == (7.0, None)
    text = VALID.replace("timeout_s: 20", "keep_work_days: 0\n  keep_raw_days: null")
    settings = load_sources(write(tmp_path, text)).settings
    assert (settings.keep_work_days, settings.keep_raw_days) == (0.0, None)
    text = VALID.replace("timeout_s: 20", "keep_work_days: 2.5\n  keep_raw_days: 365")
    settings = load_sources(write(tmp_path, text)).settings
    assert (settings.keep_work_days, settings.keep_raw_days) == (2.5, 365.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            VALID.replace("    language: en", "    langauge: en"),
            "source 'limited-times' has unknown key 'langauge'",
        ),
        (VALID.replace("  timeout_s: 20", "  timeout: 20"), "'settings' has unknown key 'timeout'"),
        (VALID + "extra: 1\n", "the top level has unknown key 'extra'"),
        (VALID.replace("id: limited-times", "id: Limited_Times"), "has id 'Limited_Times'"),
        (
            VALID.replace('    feeds: ["https://example.org/feed.xml"]\n', ""),
            "source 'limited-times' has no 'feeds'",
        ),
        (
            VALID.replace('feeds: ["https://example.org/feed.xml"]', "feeds: []"),
            "source 'limited-times' has no 'feeds'",
        ),
        (
            VALID.replace("https://example.org/feed.xml", "ftp://example.org/feed.xml"),
            "not an http(s) URL",
        ),
        (VALID.replace('"@hourly"', '"every hour"'), "has schedule 'every hour'"),
        (
            VALID.replace("timeout_s: 20", "max_retries: 2.5"),
            "settings.max_retries (retries of a failed request) must be a whole number",
        ),
        (
            VALID.replace("timeout_s: 20", "rate_limit_per_host: fast"),
            "settings.rate_limit_per_host",
        ),
        (
            VALID.replace("    language: en", "    rate_limit_per_host: 0"),
            "source 'limited-times'.rate_limit_per_host",
        ),
        (
            VALID.replace(
                "    language: en", "    homepage: [https://a.example/, https://b.example/]"
            ),
            "has several homepages",
        ),
        (
            VALID.replace("    sitemaps: []", "    feeds: 3"),
            "the key 'feeds' appears twice at line 11",
        ),
        (
            VALID.replace('feeds: ["https://example.org/feed.xml"]', "feeds: {a: 1}"),
            "'feeds' must be a list of URLs",
        ),
        (VALID.replace("https://example.org/feed.xml", "http://[::1/f"), "not an http(s) URL"),
        (
            VALID.replace("https://example.org/feed.xml", "http://example.org:99999/f"),
            "not an http(s) URL",
        ),
        ("settings: []\nsources:" + VALID.split("sources:", 1)[1], "'settings' must be a mapping"),
        (VALID.replace("name: The Limited Times", "name: 42"), "has name 42"),
        (VALID.replace('"@hourly"', '"61 * * * *"'), "has schedule '61 * * * *'"),
        (VALID.replace('"127.0.0.0/8"', '"localhost"'), "allow_networks has 'localhost'"),
        (
            VALID.replace("timeout_s: 20", "timeout_s: -1"),
            "settings.timeout_s (seconds to connect and between bytes) must be a number from 0.1 to 600, not -1",
        ),
        (VALID.replace("language: en", "language: English"), "has language 'English'"),
        (
            VALID.replace("timeout_s: 20", "keep_work_days: -1"),
            "settings.keep_work_days (days a committed run's work files are kept; 0 removes "
            "them at the next daily upkeep) must be a number from 0 to 3650, not -1",
        ),
        (
            VALID.replace("timeout_s: 20", "keep_raw_days: 0"),
            "settings.keep_raw_days (days a raw WARC file is kept; null, the default, keeps "
            "them forever) must be a number from 1 to 36500, not 0",
        ),
        (
            VALID.replace("timeout_s: 20", "keep_raw_days: forever"),
            "settings.keep_raw_days",
        ),
        (VALID.replace("timeout_s: 20", "keep_raw_days: 40000"), "from 1 to 36500, not 40000"),
        ("sources: []\n", "'sources' must be a non-empty list"),
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("sources:\n  - id: a\n    feeds: [\n", "is not valid YAML at line"),
    ],
)
def test_bad_files_are_rejected_with_a_clear_message(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_sources(path)
    message = str(info.value)
    assert expected in message
    assert message.startswith(str(path))
    assert "\n" not in message


@pytest.mark.parametrize("value", ["0", "257", "2.5", "true", "many"])
def test_ingest_workers_is_a_whole_number_from_1_to_256(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, VALID.replace("timeout_s: 20", f"ingest_workers: {value}"))
    with pytest.raises(ConfigError) as info:
        load_sources(path)
    assert str(info.value) == (
        f"{path}: settings.ingest_workers (sources newsflow ingest runs in parallel processes) "
        f"must be a whole number from 1 to 256, not {yaml.safe_load(value)!r}."
    )


@pytest.mark.parametrize(("cores", "expected"), [(3, 3), (None, 1), (1000, 256)])
def test_ingest_workers_defaults_to_one_per_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cores: int | None, expected: int
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert load_sources(write(tmp_path, VALID)).settings.ingest_workers == expected
    for given in (1, 256):
        text = VALID.replace("timeout_s: 20", f"ingest_workers: {given}")
        assert load_sources(write(tmp_path, text)).settings.ingest_workers == given


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    text = VALID + '  - id: limited-times\n    feeds: ["https://example.org/other.xml"]\n'
    with pytest.raises(ConfigError, match="source 'limited-times' is defined twice"):
        load_sources(write(tmp_path, text))


def test_environment_references_are_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = VALID.replace("https://example.org", "${SITE_URL:-https://fallback.example}")
    path = write(tmp_path, text)
    assert load_sources(path).sources[0].feeds == ("https://fallback.example/feed.xml",)
    monkeypatch.setenv("SITE_URL", "https://news.example")
    assert load_sources(path).sources[0].feeds == ("https://news.example/feed.xml",)
    with pytest.raises(ConfigError, match="environment variable MISSING_VAR is not set"):
        load_sources(write(tmp_path, VALID.replace("https://example.org", "${MISSING_VAR}")))


def test_a_source_names_its_site_profile(tmp_path: Path) -> None:
    text = VALID.replace("    language: en", "    language: en\n    profile: limited-times")
    (source,) = load_sources(write(tmp_path, text)).sources
    assert source.profile == "limited-times"
    (plain,) = load_sources(write(tmp_path, VALID)).sources
    assert plain.profile is None  # pages are matched to a profile by their site name


def test_an_unknown_profile_is_one_sentence_naming_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, VALID.replace("    language: en", "    profile: limited_times"))
    with pytest.raises(ConfigError) as info:
        load_sources(path)
    assert str(info.value) == (
        f"{path}: source 'limited-times' has profile 'limited_times', which is not a site "
        "profile of newsflow; use one of limited-times, or leave 'profile' out to match pages "
        "by their site name."
    )
    code = main(["ingest", "--config", str(path), "--data", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "profile 'limited_times'" in err


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_sources(tmp_path / "nope.yaml")


def test_an_empty_settings_section_means_the_defaults(tmp_path: Path) -> None:
    text = VALID.split("sources:")[1]
    config = load_sources(write(tmp_path, f"settings:\nsources:{text}"))
    assert config.settings.timeout_s == 20.0 and config.settings.allow_networks == ()


def test_a_folder_or_an_endless_file_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder; point --config"):
        load_sources(tmp_path)
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"# " + b"x" * 10_000_000)
    with pytest.raises(ConfigError, match="over 10 MB"):
        load_sources(huge)
    if Path("/dev/zero").exists():  # endless: read no further than the limit
        with pytest.raises(ConfigError, match="over 10 MB"):
            load_sources("/dev/zero")


def test_cli_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, VALID.replace("    language: en", "    langauge: en"))
    code = main(["ingest", "--config", str(path), "--data", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert "unknown key 'langauge'" in err and str(path) in err


def test_cli_rejects_unknown_source_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, VALID)
    code = main(
        ["ingest", "--config", str(path), "--data", str(tmp_path / "data"), "--source", "nope"]
    )
    assert code == 2
    assert "no source with id 'nope'" in capsys.readouterr().err


def test_cli_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["ingest", "--bogus"])
    assert info.value.code == 2


def test_the_data_root_is_a_local_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    assert data_root(str(tmp_path / "new" / "a:b")) == tmp_path / "new" / "a:b"
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert data_root() == tmp_path
    for url in ("s3://bucket/x", "gs://b", "file:///tmp/x", "HTTPS://example.org/d", "hdfs+ha://n"):
        with pytest.raises(ConfigError, match=r"this command needs a local folder"):
            data_root(url)
    monkeypatch.setenv(DATA_ENV, "s3://bucket/x")
    with pytest.raises(ConfigError, match=r"^NEWSFLOW_DATA=s3://bucket/x: this command needs a"):
        data_root()
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"file: is a file, not a folder; pass a folder"):
        data_root(str(tmp_path / "file"))


def test_dags_read_the_data_root_through_data_root(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    for dag_file in sorted((ROOT / "dags").glob("*.py")):
        code = dag_file.read_text(encoding="utf-8")
        assert "environ" not in code and "getenv" not in code, dag_file  # data_root() only
    # parsing does not read the data root (tests/dags/test_dag_integrity.py); a task does
    monkeypatch.setenv(DATA_ENV, "ftp://bucket/x")
    assert not DagBag(dag_folder=str(ROOT / "dags")).import_errors
    with pytest.raises(ConfigError) as error:
        data_root(remote=True)
    assert str(error.value) == (
        "NEWSFLOW_DATA=ftp://bucket/x: this command needs a local folder as the data root (of "
        "the commands, only demo does not take an s3:// data root); pass a local folder."
    )
    # an object store: the ingest DAGs work in a local mirror of it
    monkeypatch.setenv(DATA_ENV, "s3://bucket/x")
    monkeypatch.setenv("NEWSFLOW_CACHE_DIR", str(tmp_path / "cache"))
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors
    assert not (tmp_path / "cache").exists()  # parsing a DAG file writes nothing
    assert data_root(remote=True).is_relative_to(tmp_path / "cache")


def test_the_retry_delay_comes_from_its_variable_or_is_one_clear_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import datetime as dt

    from ingest.config import retry_delay

    monkeypatch.delenv("NEWSFLOW_RETRY_DELAY_S", raising=False)
    assert retry_delay() == dt.timedelta(minutes=2)
    monkeypatch.setenv("NEWSFLOW_RETRY_DELAY_S", "1.5")
    assert retry_delay() == dt.timedelta(seconds=1.5)
    for bad in ("soon", "-1", "nan", "1e9"):
        monkeypatch.setenv("NEWSFLOW_RETRY_DELAY_S", bad)
        with pytest.raises(ConfigError, match=r"NEWSFLOW_RETRY_DELAY_S=.*: must be a number"):
            retry_delay()


# --- inputs found by a hostile read of the loader: each is one sentence, never a traceback

S = "sources:\n  - id: a\n    feeds: ['https://example.org/f']\n"


def _refused(tmp_path: Path, text: str, *expected: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_sources(write(tmp_path, text))
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "sources.yaml")), message
    assert "\n" not in message
    for part in expected:
        assert part in message, message
    return message


def test_aliases_that_nest_aliases_are_expanded_once(tmp_path: Path) -> None:
    # "billion laughs": each level repeats the one before nine times; expanded as a tree it
    # would be 10^9 strings (gigabytes), as the shared objects YAML builds it is nine lists
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    _refused(tmp_path, "\n".join(levels) + "\n" + S, "unknown key")
    sharing = "settings: &s {timeout_s: 5}\n" + S.replace("sources:", "x: *s\nsources:")
    _refused(tmp_path, sharing, "unknown key 'x'")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sources: &a [*a]\n", "must be a mapping"),  # a list that holds itself
        ("settings: &s {x: *s}\n" + S, "unknown key 'x'"),
        ("sources: " + "[" * 5000 + "]" * 5000 + "\n", "too deeply"),
    ],
)
def test_aliases_that_hold_themselves_and_deep_nesting(
    tmp_path: Path, text: str, expected: str
) -> None:
    _refused(tmp_path, text, expected)


def test_a_merge_key_shares_settings_and_a_list_key_is_refused(tmp_path: Path) -> None:
    text = (
        "sources:\n"
        "  - &first {id: a, feeds: ['https://example.org/f'], language: de, schedule: '@daily'}\n"
        "  - <<: *first\n    id: b\n    language: fr\n"
    )
    config = load_sources(write(tmp_path, text))
    assert [(s.id, s.language, s.schedule) for s in config.sources] == [
        ("a", "de", "@daily"),
        ("b", "fr", "@daily"),
    ]
    _refused(tmp_path, S + "    ? [x, y]\n    : 1\n", "line 4", "list or a mapping")


def test_an_unsupported_tag_is_named(tmp_path: Path) -> None:
    _refused(tmp_path, S.replace("id: a", "id: !custom a"), "tag", "!custom", "remove the tag")


@pytest.mark.parametrize("zone", ["Europe", "America", "Etc", "x" * 300])
def test_a_time_zone_folder_or_an_overlong_name_is_refused(tmp_path: Path, zone: str) -> None:
    _refused(tmp_path, S + f"    timezone: {zone}\n", "timezone", "IANA")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pw@db:abc/x",  # a port that is not a number
        "postgresql://u:pw@db:99999/x",
    ],
)
def test_a_state_url_with_a_bad_port_is_refused(tmp_path: Path, url: str) -> None:
    message = _refused(tmp_path, f"settings:\n  state_url: '{url}'\n" + S, "state_url")
    assert "pw@" not in message


def test_a_bad_state_address_in_the_environment_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, "settings:\n  allow_networks: ['127.0.0.0/8']\n" + S)
    for url in ("postgresql://u:secret@[::1/x", "postgresql://u:secret@db:abc/x"):
        monkeypatch.setenv("NEWSFLOW_STATE_URL", url)
        code = main(["ingest", "--config", str(config), "--data", str(tmp_path / "data")])
        err = capsys.readouterr().err
        assert "Traceback" not in err and "secret" not in err, err
        assert "crawl state" in err and "NEWSFLOW_STATE_URL" in err, err
        assert code != 0


@pytest.mark.parametrize("agent", ["/1.0 (+https://x)", "newsflow\u00e9/1.0", " /x"])
def test_a_user_agent_without_a_product_token_or_beyond_ascii_is_refused(
    tmp_path: Path, agent: str
) -> None:
    _refused(tmp_path, f"settings:\n  user_agent: {agent!r}\n" + S, "user_agent", "ASCII")


@pytest.mark.parametrize("item", ['id: "lt\\n"', 'language: "en\\n"'], ids=["id", "language"])
def test_a_trailing_newline_is_not_part_of_an_id_or_a_language(tmp_path: Path, item: str) -> None:
    text = "sources:\n  - id: lt\n    feeds: ['https://example.org/f']\n"
    text = text.replace("id: lt", item) if item.startswith("id") else text + f"    {item}\n"
    _refused(tmp_path, text)


def test_an_empty_or_uncreatable_data_root_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is empty"):
        data_root("")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    for bad in ("/proc/newsflow-data", str(loop), str(tmp_path / ("x" * 300))):
        with pytest.raises(ConfigError, match="cannot be created or used"):
            data_root(bad, remote=True)
    assert data_root(str(tmp_path / "new" / "data"), remote=True).is_dir()


@pytest.mark.parametrize("schedule", ["0 0 31 2 *", "0 0 30 2 *", "R * * * *", "H * * * *"])
def test_a_schedule_that_never_fires_or_is_random_is_refused(tmp_path: Path, schedule: str) -> None:
    _refused(tmp_path, S + f"    schedule: '{schedule}'\n", "schedule")
    assert load_sources(write(tmp_path, S + "    schedule: '0 6 * * THU'\n"))


def test_a_feed_url_with_credentials_is_refused_without_echoing_them(tmp_path: Path) -> None:
    message = _refused(
        tmp_path, S.replace("https://example.org/f", "http://user:s3cret@example.org/f"), "password"
    )
    assert "s3cret" not in message
    message = _refused(
        tmp_path, S.replace("https://example.org/f", "http://u:s3cret@example.org:99999/")
    )
    assert "s3cret" not in message


def test_c1_control_characters_in_a_url_are_refused(tmp_path: Path) -> None:
    text = 'sources:\n  - id: a\n    feeds: ["https://example.org/f\\x85x"]\n'  # (NEL)
    _refused(tmp_path, text, "control character")


def test_entity_model_names_are_package_names_and_rules_is_the_rules(tmp_path: Path) -> None:
    _refused(tmp_path, "settings:\n  entity_model: this.x\n" + S, "package name")
    config = load_sources(write(tmp_path, "settings:\n  entity_model: rules\n" + S))
    assert config.settings.entity_models == "rules"


def test_a_default_that_names_another_variable_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NF_A", raising=False)
    _refused(tmp_path, "settings:\n  user_agent: 'a-${NF_A:-${NF_B}}-z'\n" + S, "another variable")


def test_a_taxonomy_path_the_system_cannot_take_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, 'settings:\n  taxonomy: "a\\0b"\n' + S, "taxonomy")
