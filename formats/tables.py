"""Readers and writers of the small CSV tables of a store recording (see docs/FORMAT.md).

catalog.csv, planogram.csv and events.csv (truth or predicted). Every reader validates as it reads.
With ``problems=None`` the first problem raises :class:`FormatError`; with a list, every problem is
appended to it, the bad rows are dropped, and the good rows are returned (the validator's mode).
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from formats.errors import FormatError

CATALOG_COLUMNS = ("sku", "name", "weight_g")
PLANOGRAM_COLUMNS = ("shelf", "plate", "sku")
EVENT_COLUMNS = ("timestamp", "shopper", "action", "sku", "quantity", "shelf")
PREDICTED_EXTRA_COLUMNS = ("plates", "camera", "frame", "confidence")
ACTIONS = ("pick", "return")

# The tables `walkout run` writes into a recording's run folder (docs/FORMAT.md, "Run outputs"):
# column -> dtype ("str": text, kept as written), the one definition of each file's columns.
TRACKS_SCHEMA = {
    "frame": "int64", "track_id": "int64", "x1": "float64", "y1": "float64", "x2": "float64", "y2": "float64",
    "confidence": "float64", "camera": "str",
}
# Optional tracks.csv columns: the reach classifier's probability that the shopper reaches into a
# shelf in that frame, and the store-level shopper a camera's track belongs to.
REACHING_COLUMN = "reaching"
TRACKS_OPTIONAL_SCHEMA = {REACHING_COLUMN: "float64", "shopper": "str"}
HANDS_SCHEMA = {
    "frame": "int64", "owner": "int64", "x": "float64", "y": "float64", "zone": "int64", "sku": "str",
    "count": "int64", "sku_confidence": "float64", "camera": "str",
}
REACHES_SCHEMA = {
    "camera": "str", "shopper": "str", "shelf": "str", "plates": "str", "start": "float64", "end": "float64",
    "frames": "int64",
}
# shoppers.csv: each store-level shopper's floor position (store metres) and the cameras that saw them.
SHOPPERS_SCHEMA = {"timestamp": "float64", "shopper": "str", "x": "float64", "y": "float64", "cameras": "str"}
# truth/shoppers.csv (mock store): the same without the cameras.
TRUTH_SHOPPERS_SCHEMA = {"timestamp": "float64", "shopper": "str", "x": "float64", "y": "float64"}

# One camera's tables as the pipeline builds them, before tracks.csv / hands.csv add the camera.
TRACK_COLUMNS = tuple(c for c in TRACKS_SCHEMA if c != "camera")
HAND_COLUMNS = tuple(c for c in HANDS_SCHEMA if c != "camera")
REACH_COLUMNS = tuple(REACHES_SCHEMA)
SHOPPER_COLUMNS = tuple(SHOPPERS_SCHEMA)
# Unix seconds above this are milliseconds (year 5138 in seconds): reported, never guessed.
MAX_UNIX_SECONDS = 1e11


def parse_plates(text: object) -> tuple[int, ...]:
    """A ``plates`` cell (';'-separated plate numbers, may be empty) -> the plate numbers; anything that
    is not a whole number is skipped."""
    return tuple(int(p) for p in str(text).split(";") if p.strip().lstrip("-").isdigit())


def _report(problems: list[FormatError] | None, error: FormatError) -> None:
    if problems is None:
        raise error
    problems.append(error)


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    """Read a CSV as strings (so SKUs keep their leading zeros) and check its header."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(path, "file not found")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise FormatError(path, "file is empty (no header line)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise FormatError(path, f"not a readable CSV: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise FormatError(path, f"missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}", line=1)
    for column in frame.columns:
        frame[column] = frame[column].str.strip()
    return frame


def _numeric(
    frame: pd.DataFrame, column: str, path: Path, problems: list[FormatError] | None, *, integer: bool = False
) -> np.ndarray:
    """Parse one column as numbers; report each unparsable cell with its line. Returns a validity mask."""
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & (frame[column] != "") | (frame[column] == "")
    if integer:
        bad |= values.notna() & (values != values.round())
    for index in np.flatnonzero(bad.to_numpy()):
        kind = "an integer" if integer else "a number"
        _report(problems, FormatError(path, f"{frame[column].iloc[index]!r} is not {kind}", line=index + 2, field=column))
    frame[column] = values
    return ~bad.to_numpy()


def read_catalog(path: str | Path, problems: list[FormatError] | None = None) -> pd.DataFrame:
    """catalog.csv -> DataFrame[sku: str, name: str, weight_g: float, weight_std_g: float]."""
    path = Path(path)
    frame = _read_csv(path, CATALOG_COLUMNS)
    if "weight_std_g" not in frame.columns:
        frame["weight_std_g"] = "0"
    frame.loc[frame["weight_std_g"] == "", "weight_std_g"] = "0"
    ok = _numeric(frame, "weight_g", path, problems) & _numeric(frame, "weight_std_g", path, problems)
    # 0 g is allowed: real catalogs use it for "weight unknown"; fusion cannot identify those by weight.
    for index in np.flatnonzero(ok & ~(frame["weight_g"].to_numpy() >= 0)):
        _report(problems, FormatError(path, f"weight must be >= 0 grams, got {frame['weight_g'].iloc[index]}", line=index + 2, field="weight_g"))
        ok[index] = False
    for index in np.flatnonzero((frame["sku"] == "").to_numpy()):
        _report(problems, FormatError(path, "empty sku", line=index + 2, field="sku"))
        ok[index] = False
    duplicated = frame["sku"].duplicated().to_numpy() & ok
    for index in np.flatnonzero(duplicated):
        _report(problems, FormatError(path, f"sku {frame['sku'].iloc[index]} appears twice", line=index + 2, field="sku"))
        ok[index] = False
    return frame.loc[ok, ["sku", "name", "weight_g", "weight_std_g"]].reset_index(drop=True)


def read_planogram(
    path: str | Path, catalog: pd.DataFrame | None = None, problems: list[FormatError] | None = None
) -> pd.DataFrame:
    """planogram.csv -> DataFrame[shelf: str, plate: int, sku: str]; skus checked against the catalog."""
    path = Path(path)
    frame = _read_csv(path, PLANOGRAM_COLUMNS)
    ok = _numeric(frame, "plate", path, problems, integer=True)
    if catalog is not None:
        known = set(catalog["sku"])
        for index in np.flatnonzero(ok & ~frame["sku"].isin(known).to_numpy()):
            _report(problems, FormatError(path, f"sku {frame['sku'].iloc[index]} is not in the catalog", line=index + 2, field="sku"))
            ok[index] = False
    duplicated = frame.duplicated(["shelf", "plate"]).to_numpy() & ok
    for index in np.flatnonzero(duplicated):
        row = frame.iloc[index]
        _report(problems, FormatError(path, f"plate {row['shelf']}/{int(row['plate'])} appears twice", line=index + 2))
        ok[index] = False
    frame = frame.loc[ok, ["shelf", "plate", "sku"]].reset_index(drop=True)
    frame["plate"] = frame["plate"].astype(int)
    return frame


def read_events(path: str | Path, problems: list[FormatError] | None = None) -> pd.DataFrame:
    """events.csv (truth or predicted) -> DataFrame sorted by timestamp.

    Columns: timestamp (float s), shopper (str), action ('pick'|'return'), sku (str), quantity (int),
    shelf (str), plates (str, ';'-separated, may be ''), and for predictions camera (str),
    frame (int, -1 if unknown), confidence (float, 1.0 if unknown).
    """
    path = Path(path)
    frame = _read_csv(path, EVENT_COLUMNS)
    for column in ("plates", "camera"):
        if column not in frame.columns:
            frame[column] = ""
    if "frame" not in frame.columns:
        frame["frame"] = "-1"
    if "confidence" not in frame.columns:
        frame["confidence"] = "1"
    ok = _numeric(frame, "timestamp", path, problems)
    ok &= _numeric(frame, "quantity", path, problems, integer=True)
    ok &= _numeric(frame, "frame", path, problems, integer=True)
    ok &= _numeric(frame, "confidence", path, problems)
    for index in np.flatnonzero(ok & (frame["timestamp"].to_numpy() > MAX_UNIX_SECONDS)):
        _report(problems, FormatError(path, "timestamp looks like milliseconds; Unix seconds expected", line=index + 2, field="timestamp"))
        ok[index] = False
    for index in np.flatnonzero(ok & ~frame["action"].isin(ACTIONS).to_numpy()):
        _report(problems, FormatError(path, f"action {frame['action'].iloc[index]!r} is not pick or return", line=index + 2, field="action"))
        ok[index] = False
    for index in np.flatnonzero(ok & ~(frame["quantity"].to_numpy() >= 1)):
        _report(problems, FormatError(path, "quantity must be >= 1", line=index + 2, field="quantity"))
        ok[index] = False
    columns = [*EVENT_COLUMNS, *PREDICTED_EXTRA_COLUMNS]
    frame = frame.loc[ok, columns].reset_index(drop=True)
    frame["quantity"] = frame["quantity"].astype(int)
    frame["frame"] = frame["frame"].astype(int)
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


def _readable_like_open(handle: int) -> None:
    """mkstemp makes owner-only (0600) files; give the file the mode ``open()`` would (0666 minus the
    umask), so outputs in a shared folder (a cluster run) are readable by the others."""
    umask = os.umask(0o022)
    os.umask(umask)
    os.fchmod(handle, 0o666 & ~umask)


def write_csv_atomic(
    frame: pd.DataFrame, path: str | Path, *, float_format: str | None = None, header: bool = True
) -> Path:
    """Write a CSV to a temporary name beside ``path`` and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    _readable_like_open(handle)
    try:
        with os.fdopen(handle, "w", newline="") as stream:
            frame.to_csv(stream, index=False, header=header, float_format=float_format, quoting=csv.QUOTE_MINIMAL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_events(events: pd.DataFrame, path: str | Path, *, predicted: bool = False) -> Path:
    """Write events in the documented column order (plus camera/frame/confidence when predicted)."""
    columns = [*EVENT_COLUMNS, "plates"] + (list(PREDICTED_EXTRA_COLUMNS[1:]) if predicted else [])
    frame = events.reindex(columns=columns)
    return write_csv_atomic(frame.sort_values("timestamp", kind="stable"), path, float_format="%.3f")


def write_text_atomic(text: str, path: str | Path) -> Path:
    """Write text to a temporary name beside ``path`` and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    _readable_like_open(handle)
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(payload: object, path: str | Path) -> Path:
    """Write JSON (sorted keys, indented) to a temporary name beside ``path`` and rename it into place."""
    import json

    return write_text_atomic(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n", path)


def read_positions(path: str | Path) -> pd.DataFrame:
    """shoppers.csv or truth/shoppers.csv -> DataFrame[timestamp: float, shopper: str, x: float, y: float
    (floor metres), and ``cameras`` where the file has it]; FormatError naming the file, line and column
    on a bad number."""
    path = Path(path)
    frame = _read_csv(path, tuple(TRUTH_SHOPPERS_SCHEMA))
    return floats(frame, ("timestamp", "x", "y"), path)


def read_hand_sightings(path: str | Path) -> pd.DataFrame:
    """A run's hands.csv -> DataFrame[camera: str, owner: int (the camera's track id), frame: int, sku: str
    (the product the hand holds, '' empty or not named)]: the columns fusion uses. FormatError naming the
    file, line and column on a missing column or a bad number."""
    path = Path(path)
    frame = floats(_read_csv(path, ("frame", "owner", "sku", "camera")), ("frame", "owner"), path)
    return frame[["camera", "owner", "frame", "sku"]].astype({"owner": int, "frame": int})


TRUTH_BOX_COLUMNS = ("frame", "object", "track_id", "sku", "x1", "y1", "x2", "y2", "visible")


def read_truth_boxes(path: str | Path) -> pd.DataFrame:
    """A mock recording's truth/boxes/<camera>.csv (docs/FORMAT.md) -> DataFrame[frame: int (0-based),
    object: str, track_id: int, sku: str (leading zeros kept), x1, y1, x2, y2 (px), visible: float];
    FormatError naming the file, line and column on a missing column or a bad number."""
    path = Path(path)
    frame = floats(_read_csv(path, TRUTH_BOX_COLUMNS), ("frame", "track_id", "x1", "y1", "x2", "y2", "visible"), path)
    return frame.astype({"frame": int, "track_id": int})


def floats(frame: pd.DataFrame, columns: tuple[str, ...], path: Path) -> pd.DataFrame:
    """Parse ``columns`` of a text table as floats in place; FormatError naming the file, line and
    column at the first cell that is not a number."""
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise FormatError(path, f"{frame[column].iloc[row]!r} is not a number", line=row + 2, field=column)
        frame[column] = values.astype(float)
    return frame
