"""Config files (TOML or YAML) read into config dataclasses, every value checked against its field's type.

The one loader of `walkout run --config`, `walkout fuse --config` and `walkout config --check`. A config
file is a table of sections, one per stage; each section's keys are the fields of that stage's
dataclass. A problem (file not found, not TOML/YAML, unknown section or key, a value of the wrong
type such as the text "0.5" where a number is expected, a value the stage refuses) raises one
:class:`FormatError` naming the file, the section, the key and the problem.

Types: ``bool`` must be true or false; ``int`` a whole number (``3`` or ``3.0``, not ``3.5``, not
``"3"``); ``float`` any number; ``str`` text; ``tuple[X, ...]`` a list of X; ``dict[str, str]`` a table
of text. A nested dataclass field is a section.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from pathlib import Path
from typing import Any

from formats.errors import FormatError

SUFFIXES = (".toml", ".yaml", ".yml")


class ValueProblemError(ValueError):
    """A value that does not fit its field's type (the message says what was expected and what came)."""


def read_table_file(path: str | Path) -> dict:
    """A TOML (``.toml``) or YAML (``.yaml``, ``.yml``) file as a dict; FormatError naming the file when
    it is missing, unreadable, of another kind, not valid TOML/YAML, or not a table at the top."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise FormatError(path, "config must be .toml, .yaml or .yml")
    if not path.is_file():
        raise FormatError(path, "config file not found")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(path, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - tomllib and yaml parse errors become one line
        raise FormatError(path, f"not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {exc}") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise FormatError(path, "top level must be a table/mapping of sections")
    return data


def type_name(annotation: Any) -> str:
    """How a field's type is written for a user: number, whole number, true/false, text, list of ..."""
    origin = typing.get_origin(annotation)
    if origin is tuple:
        return f"list of {type_name(typing.get_args(annotation)[0])}"
    if origin is dict:
        return "table of text"
    return {bool: "true/false", int: "whole number", float: "number", str: "text"}.get(annotation, str(annotation))


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if value is None:
        return "nothing (null)"
    return repr(value)


def _article(kind: str) -> str:
    if kind.startswith(("list", "true", "text")):
        return kind
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _unknown(names: list[str], known: list[str]) -> str:
    """``a, b`` of unknown keys, with the closest known key of each typo (``did you mean ...?``)."""
    import difflib

    hints = [f"{name} (did you mean {close[0]}?)" if (close := difflib.get_close_matches(str(name), known, 1)) else
             str(name) for name in names]
    return ", ".join(hints)


def typed_value(value: Any, annotation: Any) -> Any:
    """``value`` as ``annotation`` (bool, int, float, str, tuple[X, ...], dict[str, str]); ValueProblemError
    saying what was expected and what came when it does not fit."""
    wrong = ValueProblemError(f"expected {_article(type_name(annotation))}, got {_describe(value)}")
    origin = typing.get_origin(annotation)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise wrong
        item = typing.get_args(annotation)[0]
        try:
            return tuple(typed_value(v, item) for v in value)
        except ValueProblemError as exc:
            raise ValueProblemError(f"expected {type_name(annotation)}: an item: {exc}") from None
    if origin is dict:
        key_type, value_type = typing.get_args(annotation)
        if not isinstance(value, dict):
            raise wrong
        return {typed_value(k, key_type): typed_value(v, value_type) for k, v in value.items()}
    if annotation is bool:
        if not isinstance(value, bool):
            raise wrong
        return value
    if annotation is int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise wrong
        return value
    raise ValueProblemError(f"fields of type {annotation!r} cannot be set from a file")


def field_types(cls: type) -> dict[str, Any]:
    """A dataclass's fields and their resolved types (``from __future__ import annotations`` included)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def section_values(cls: type, values: Any, path: Path, section: str,
                   renamed: dict[str, str] | None = None) -> dict[str, Any]:
    """The keys of one section, each converted to its field's type; FormatError naming the file,
    section and key on an unknown key or a value of the wrong type. ``renamed``: keys this section
    no longer has -> what to say (their new name), said before any unknown key."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise FormatError(path, f"section [{section}] must be a table of settings, got {_describe(values)}")
    old = sorted(set(values) & set(renamed or {}))
    if old:
        raise FormatError(path, "; ".join(f"[{section}] {key}: {renamed[key]}" for key in old))
    types = field_types(cls)
    unknown = sorted(set(values) - set(types))
    if unknown:
        raise FormatError(path, f"unknown key(s) {_unknown(unknown, sorted(types))}; known: {', '.join(sorted(types))}",
                          field=section)
    converted = {}
    for key, value in values.items():
        if dataclasses.is_dataclass(types[key]):
            raise FormatError(path, f"[{section}] {key}: is a section of its own, not a setting")
        try:
            converted[key] = typed_value(value, types[key])
        except ValueProblemError as exc:
            raise FormatError(path, f"[{section}] {key}: {exc}") from None
    return converted


def replace_section(current: Any, values: dict[str, Any], path: Path, section: str) -> Any:
    """``dataclasses.replace`` of one section's defaults by typed values; a value the stage refuses
    (its ``__post_init__``) becomes a FormatError naming the file and section."""
    try:
        return dataclasses.replace(current, **values)
    except (TypeError, ValueError) as exc:
        raise FormatError(path, str(exc), field=section) from None


def load_sections(path: str | Path, defaults: Any, *, top_section: str | None = None,
                  removed: dict[str, str] | None = None, renamed: dict[str, dict[str, str]] | None = None,
                  data: dict | None = None) -> Any:
    """A config dataclass (``defaults`` with the file's values over it) from a TOML/YAML file.

    Each field of ``defaults`` that is a dataclass is a section of the file; the other fields live in
    the section ``top_section`` (``[pipeline]`` of the run config), or cannot be set when None.
    ``removed``: sections of stages that were removed -> what they were (the error says so, naming
    them, before any unknown section). ``renamed``: section -> its keys that were renamed -> what to
    say (the new name; see :func:`section_values`). ``data``: the file's contents when already read.
    """
    path = Path(path)
    data = dict(read_table_file(path) if data is None else data)
    types = field_types(type(defaults))
    sections = [name for name, kind in types.items() if dataclasses.is_dataclass(kind)]
    gone = sorted(set(data) & set(removed or {}))
    if gone:
        what = ", ".join(f"{name} ({removed[name]})" for name in gone)
        raise FormatError(path, f"removed section(s) {what}: walkout no longer has them; delete them from the config")
    unknown = sorted(set(data) - set(sections) - ({top_section} if top_section else set()))
    if unknown:
        raise FormatError(path, f"unknown section(s) {', '.join(map(str, unknown))}")
    changes = {}
    for name in sections:
        if name in data:
            values = section_values(types[name], data[name], path, name, (renamed or {}).get(name))
            changes[name] = replace_section(getattr(defaults, name), values, path, name)
    if top_section and top_section in data:
        top = data[top_section]
        if top is not None and not isinstance(top, dict):
            raise FormatError(path, f"section [{top_section}] must be a table of settings, got {_describe(top)}")
        top = top or {}
        plain = {name: kind for name, kind in types.items() if name not in sections}
        unknown = sorted(set(top) - set(plain))
        if unknown:
            raise FormatError(path, f"unknown key(s) {_unknown(unknown, sorted(plain))}; known: {', '.join(sorted(plain))}",
                              field=top_section)
        for key, value in top.items():
            try:
                changes[key] = typed_value(value, plain[key])
            except ValueProblemError as exc:
                raise FormatError(path, f"[{top_section}] {key}: {exc}") from None
    return replace_section(defaults, changes, path, top_section or "config")
