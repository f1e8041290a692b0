"""Config dataclasses from TOML/YAML tables, shared by the fusion stages."""

from __future__ import annotations

from dataclasses import fields
from typing import Any


def settings_from_dict(cls: type, data: dict, section: str) -> Any:
    """``cls`` (a config dataclass) from a table: unknown keys are refused naming the section, and each
    value is converted to its field's declared type (``int``, ``float``; a ``bool`` must be true or
    false, not a string). ValueError on a bad key or value."""
    types = {f.name: str(f.type) for f in fields(cls)}
    unknown = set(data) - set(types)
    if unknown:
        raise ValueError(f"unknown {section} setting(s): {', '.join(sorted(unknown))}")

    def convert(key: str, value: Any) -> Any:
        kind = types[key]
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{section} setting {key} must be true or false, not {value!r}")
            return value
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        return value

    return cls(**{key: convert(key, value) for key, value in data.items()})
