"""Bytes to text for web pages, as browsers decode them (the WHATWG Encoding Standard).

1. A byte order mark decides (UTF-8, UTF-16LE, UTF-16BE), whatever else is declared.
2. The HTTP header's charset, else the page's own `<meta charset>` (or `http-equiv`
   Content-Type) in its first META_SCAN bytes.
3. Labels resolve by the standard's table (the `webencodings` package), not Python's codec
   names: `iso-8859-1`, `latin1` and `ascii` are windows-1252, so curly quotes, "€" and dashes
   survive; `gb2312` is GBK; a `<meta>` that says UTF-16 means UTF-8 (a page that could
   be read as ASCII to find its meta is not UTF-16); an unknown label is ignored.
4. With nothing declared, or a declared UTF-8 that the bytes are not: UTF-8 when the bytes
   are valid UTF-8, else charset detection (charset-normalizer).

One deviation, for the servers that send a default charset for every file: when the header
names a single-byte legacy encoding, the page's own meta says UTF-8 and the bytes are valid
UTF-8, the page is read as UTF-8 (a browser shows mojibake there; an archive should not).
A declared encoding is otherwise authoritative: bytes it does not map become U+FFFD.
"""

from __future__ import annotations

import codecs
import re

import webencodings

META_SCAN = 4096  # bytes of the page searched for <meta charset> (the standard says 1024)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16le"),
    (codecs.BOM_UTF16_BE, "utf-16be"),
)
_UTF16 = frozenset({"utf-16le", "utf-16be"})
_SINGLE_BYTE = re.compile(r"^(?:windows-125\d|iso-8859-\d+|koi8-[ru]|macintosh|ibm866)$")


def resolve(label: str | None) -> str | None:
    """The WHATWG encoding name a charset label means ("latin1" → "windows-1252"), or None
    for an unknown label (and for "replacement", which decodes nothing)."""
    if not label:
        return None
    found = webencodings.lookup(label.strip())
    if found is None or found.name == "replacement":
        return None
    return str(found.name)


def decode_html(body: bytes, header_charset: str | None = None) -> tuple[str, str]:
    """(text, encoding used) as a browser decodes the page (see the module docstring);
    never raises."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(_python(name), errors="replace"), name
    meta = _meta_encoding(body)
    declared = resolve(header_charset) or meta
    if (
        declared is not None
        and meta == "utf-8"
        and declared != meta
        and _SINGLE_BYTE.match(declared)
        and _is_utf8(body)
    ):
        declared = "utf-8"
    if declared is not None and declared != "utf-8":
        return body.decode(_python(declared), errors="replace"), declared
    if _is_utf8(body):
        return body.decode("utf-8"), "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    if best is not None and best.encoding:
        name = resolve(best.encoding) or "utf-8"
        return body.decode(_python(name), errors="replace"), name
    return body.decode("utf-8", errors="replace"), "utf-8"


def _meta_encoding(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:META_SCAN])
    name = resolve(match.group(1).decode("ascii", "ignore")) if match else None
    if name in _UTF16:
        return "utf-8"  # the meta was read as ASCII: the page is not UTF-16
    if name == "x-user-defined":
        return "windows-1252"
    return name


def _python(name: str) -> str:
    """The Python codec of a WHATWG encoding name (x-user-defined, which Python lacks, read as
    windows-1252, as the standard reads it from a <meta>)."""
    found = webencodings.lookup(name)
    codec = str(found.codec_info.name) if found is not None else "utf-8"
    try:
        codecs.lookup(codec)
    except LookupError:
        return "cp1252"
    return codec


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
