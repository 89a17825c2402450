"""JSON as websites write it (JSON-LD blocks, JSON Feeds), parsed into values every later
step can store."""

from __future__ import annotations

import json
import re
from typing import Any

# a \uD800-\uDFFF escape: JSON may hold half of a surrogate pair (an emoji cut in two),
# which json.loads keeps as a lone surrogate that no UTF-8 writer can encode
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def web_json(text: str) -> Any:
    """`json.loads(text)` with every lone surrogate replaced by U+FFFD. Raises ValueError
    for what is not JSON, nesting too deep for the parser included."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    return _cleaned(data) if _SURROGATE_ESCAPE.search(text) else data


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    if isinstance(value, dict):
        return {_cleaned(k): _cleaned(v) for k, v in value.items()}
    return value
