from __future__ import annotations

import pytest

from ingest.extract.decode import decode_html

TEXT = "<html><body><p>Zürich: die Straßenbahn fährt wieder über die Brücke, sagt der Gemeinderat. Öffnungszeiten folgen.</p></body></html>"


def test_header_charset_wins_over_the_meta_charset() -> None:
    body = TEXT.replace("<html>", '<html><meta charset="utf-8">').encode("iso-8859-1")
    assert decode_html(body, "iso-8859-1") == (
        TEXT.replace("<html>", '<html><meta charset="utf-8">'),
        "windows-1252",  # the label iso-8859-1 means windows-1252 (WHATWG)
    )


def test_meta_charset_is_used_without_a_header() -> None:
    page = TEXT.replace(
        "<html>", '<html><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
    )
    text, used = decode_html(page.encode("cp1252"))
    assert text == page and used == "windows-1252"


@pytest.mark.parametrize("encoding", ["utf-8", "iso-8859-1", "cp1252"])
def test_undeclared_charsets_are_detected_without_mojibake(encoding: str) -> None:
    text, _ = decode_html(TEXT.encode(encoding))
    assert "Zürich" in text and "Straßenbahn" in text and "Ã" not in text


def test_a_bogus_declared_charset_falls_back() -> None:
    text, _ = decode_html(TEXT.encode("utf-8"), "no-such-charset")
    assert "Zürich" in text


# ruff: noqa: RUF001 - typographic quotes and dashes are what these tests are about
QUOTES = "it’s a “historic” day – prices in € rise…"


@pytest.mark.parametrize("label", ["iso-8859-1", "latin1", "ascii", "us-ascii", "ISO_8859-1"])
def test_latin1_labels_decode_as_windows_1252_as_browsers_do(label: str) -> None:
    body = f"<html><body><p>{QUOTES}</p></body></html>".encode("cp1252")
    text, used = decode_html(body, label)
    assert QUOTES in text and used == "windows-1252"
    # the same label in the page's own meta
    meta = f'<html><head><meta charset="{label}"></head><body><p>{QUOTES}</p></body></html>'
    text, used = decode_html(meta.encode("cp1252"))
    assert QUOTES in text and used == "windows-1252"


@pytest.mark.parametrize(
    ("label", "codec", "words"),
    [
        ("windows-1251", "cp1251", "Городской совет утвердил план порта"),
        ("koi8-r", "koi8_r", "Городской совет утвердил план порта"),
        ("shift_jis", "shift_jis", "市議会は港の計画を可決した"),
        ("x-sjis", "shift_jis", "市議会は港の計画を可決した"),
        ("gb2312", "gbk", "市议会通过了港口计划"),
    ],
)
def test_cyrillic_and_east_asian_legacy_encodings(label: str, codec: str, words: str) -> None:
    page = f'<html><head><meta charset="{label}"></head><body><p>{words}</p></body></html>'
    text, _ = decode_html(page.encode(codec))
    assert words in text
    text, _ = decode_html(f"<html><body><p>{words}</p></body></html>".encode(codec), label)
    assert words in text


def test_a_byte_order_mark_decides_over_every_declaration() -> None:
    page = f"<html><head><meta charset='windows-1252'></head><body>{QUOTES}</body></html>"
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        text, _ = decode_html(bom + page.encode(codec), "iso-8859-1")
        assert QUOTES in text and not text.startswith("\ufeff")


def test_a_meta_that_says_utf_16_means_utf_8() -> None:
    page = f'<html><head><meta charset="utf-16"></head><body>{QUOTES}</body></html>'
    assert decode_html(page.encode("utf-8")) == (page, "utf-8")


def test_a_default_header_charset_gives_way_to_the_pages_own_utf_8() -> None:
    """A server that labels every file ISO-8859-1, a page that says and is UTF-8."""
    page = f'<html><head><meta charset="utf-8"></head><body>{QUOTES}</body></html>'
    assert decode_html(page.encode("utf-8"), "iso-8859-1") == (page, "utf-8")
    # a page that says UTF-8 but is not stays with the header's encoding
    text, used = decode_html(page.encode("cp1252"), "iso-8859-1")
    assert QUOTES in text and used == "windows-1252"


def test_an_article_served_as_iso_8859_1_keeps_its_quotes_euro_and_dashes() -> None:
    from ingest.extract.page import extract_page

    paragraph = f"{QUOTES} The council said the harbour plan passes this week. " * 6
    page = (
        "<html><head><title>Harbour plan</title></head><body><article><h1>Harbour plan</h1>"
        f"<p>{paragraph}</p></article></body></html>"
    )
    found = extract_page(page.encode("cp1252"), "https://news.example/harbour", "iso-8859-1")
    assert QUOTES in found.text


def test_x_user_defined_in_the_header_reads_as_windows_1252() -> None:
    # (Python has no codec of that name: it raised LookupError, quarantining the page)
    text, _ = decode_html(b"<p>caf\xe9 \x93quoted\x94</p>", "x-user-defined")
    assert text == "<p>café \u201cquoted\u201d</p>"
