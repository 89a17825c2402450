"""Where newsflow keeps what a machine can rebuild at any time (the object store's local
mirrors, unpacked models): `NEWSFLOW_CACHE_DIR`, by default ~/.cache/newsflow."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "NEWSFLOW_CACHE_DIR"


def cache_base() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "newsflow")
