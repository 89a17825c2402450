from __future__ import annotations

import pytest

from ingest.extract.decode import decode_html

TEXT = "<html><body><p>Zürich: die Straßenbahn fährt wieder über die Brücke, sagt der Gemeinderat. Öffnungszeiten folgen.</p></body></html>"


def test_header_charset_wins_over_the_meta_charset() -> None:
    body = TEXT.replace("<html>", '<html><meta charset="utf-8">').encode("iso-8859-1")
    assert decode_html(body, "iso-8859-1") == (
        TEXT.replace("<html>", '<html><meta charset="utf-8">'),
        "iso8859-1",
    )


def test_meta_charset_is_used_without_a_header() -> None:
    page = TEXT.replace(
        "<html>", '<html><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
    )
    text, used = decode_html(page.encode("cp1252"))
    assert text == page and used == "cp1252"


@pytest.mark.parametrize("encoding", ["utf-8", "iso-8859-1", "cp1252"])
def test_undeclared_charsets_are_detected_without_mojibake(encoding: str) -> None:
    text, _ = decode_html(TEXT.encode(encoding))
    assert "Zürich" in text and "Straßenbahn" in text and "Ã" not in text


def test_a_bogus_declared_charset_falls_back() -> None:
    text, _ = decode_html(TEXT.encode("utf-8"), "no-such-charset")
    assert "Zürich" in text
