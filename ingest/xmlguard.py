"""A guard run before any XML parser sees a feed or sitemap: no entity declarations
(entity-expansion bombs) and no external entities or DTDs.

It reads only the prolog with expat and stops at the root element, so it costs little and
lets damaged-but-recoverable documents through to the recovering parsers.
"""

from __future__ import annotations

from xml.parsers import expat


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
    except expat.ExpatError:
        return  # damaged XML: the recovering parsers decide what is left of it
