"""A guard run before any XML parser sees a feed or sitemap: no entity declarations
(entity-expansion bombs) and no external entities or DTDs.

It reads only the prolog with expat and stops at the root element, so it costs little and
lets damaged-but-recoverable documents through to the recovering parsers.
"""

from __future__ import annotations

import re
from xml.parsers import expat

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["'][^>]*\?>""")


class UnsafeXML(Exception):
    """The document declares entities or refers to external ones."""


class _Done(Exception):
    pass


def check_xml(data: bytes) -> None:
    """Return if `data` is safe to hand to an XML parser; raise UnsafeXML otherwise."""
    parser = expat.ParserCreate()

    def entity_decl(name: str, *args: object) -> None:
        raise UnsafeXML(f"declares the entity {name!r}")

    def doctype(
        name: str, system_id: str | None, public_id: str | None, has_internal_subset: bool
    ) -> None:
        if system_id and not public_id:
            raise UnsafeXML(f"refers to an external DTD {system_id!r}")

    def external_ref(
        context: str, base: str | None, system_id: str | None, public_id: str | None
    ) -> int:
        raise UnsafeXML(f"refers to an external entity {system_id!r}")

    def root(name: str, attrs: object) -> None:
        raise _Done

    parser.EntityDeclHandler = entity_decl
    parser.StartDoctypeDeclHandler = doctype
    parser.ExternalEntityRefHandler = external_ref
    parser.StartElementHandler = root
    try:
        parser.Parse(data, True)
    except _Done:
        return
    except ValueError:
        # expat reads no multi-byte legacy encodings (Shift_JIS, GB2312, Big5, ...): check the
        # document again as UTF-8
        check_xml(as_utf8(data))
    except expat.ExpatError:
        # damaged XML: the recovering parsers decide what is left of it, but not with entities
        if _ENTITY_DECL.search(data[:65536]):
            raise UnsafeXML("declares entities in a document the guard cannot read") from None


def as_utf8(data: bytes) -> bytes:
    """The document re-encoded as UTF-8, its XML declaration's encoding removed."""
    match = _DECLARATION.match(data)
    if match is None:
        raise UnsafeXML("declares an encoding the guard cannot read")
    try:
        text = data[match.end() :].decode(match.group(1).decode("ascii"), errors="replace")
    except LookupError:
        raise UnsafeXML(f"declares an unknown encoding {match.group(1)!r}") from None
    return b'<?xml version="1.0"?>' + text.encode("utf-8")
