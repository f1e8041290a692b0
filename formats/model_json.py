"""Fusion's fitted models as JSON files (models/attribution.json, models/confidence.json): plain numbers, a
``version`` and the ``features`` they were fitted on; the one reader that checks both."""

from __future__ import annotations

import json
from pathlib import Path

from formats.errors import FormatError


def read_model_json(path: str | Path, what: str, version: int, features: tuple[str, ...], hint: str) -> dict:
    """The file's JSON object; FormatError naming the file (and ``hint``, how to make one) when it is
    missing or unreadable, not JSON, of another ``version``, or fitted on other ``features``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise FormatError(path, f"{what} not readable ({exc.strerror or exc}); {hint}") from None
    except ValueError as exc:
        raise FormatError(path, f"{what} is not JSON ({exc}); {hint}") from None
    if not isinstance(data, dict) or data.get("version") != version:
        got = data.get("version") if isinstance(data, dict) else None
        raise FormatError(path, f"{what} version {got!r}, this walkout reads {version}; {hint}", field="version")
    if tuple(data.get("features", ())) != features:
        raise FormatError(path, f"{what}'s features differ from this fusion's ({', '.join(features)}); {hint}",
                          field="features")
    return data
