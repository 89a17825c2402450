"""Fixtures shared by the extraction tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_author_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """trafilatura's byline search fails the test if it runs: a layer above should have
    named the author."""
    from trafilatura import metadata

    def refuse(tree: object) -> None:
        raise AssertionError("trafilatura's author search ran")

    monkeypatch.setattr(metadata, "extract_author", refuse)
