"""Load shelf weight logs (``weights.csv``, ``weights.csv.gz``, ``weights.parquet``) fast and check them.

A log is ``timestamp,shelf,plate,grams`` rows (Unix seconds, raw grams, any row order). Loading is
vectorised (pandas with the pyarrow engine, ``shelf`` categorical) and returns a :class:`WeightLog`:
the rows sorted by plate then time, NaN readings and duplicate timestamps removed, and a list of
:class:`WeightProblem` saying what was wrong, per plate, with counts. Problems that make the log
unusable (wrong units, text in a numeric column, missing columns) raise :class:`FormatError`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from formats.errors import FormatError
from formats.tables import MAX_UNIX_SECONDS

log = logging.getLogger(__name__)

WEIGHT_COLUMNS = ("timestamp", "shelf", "plate", "grams")
WEIGHT_FILE_NAMES = ("weights.parquet", "weights.csv.gz", "weights.csv")
# Unix seconds above this are milliseconds (year 5138 in seconds): reported, never guessed.



@dataclass(frozen=True)
class WeightLogConfig:
    """Thresholds of the weight-log checks.

    max_gap_s: a pause between two readings of one plate longer than this is reported as a gap.
    kilogram_median_g: a log whose typical plate reading (median over plates of |median reading|) is
        below this while the catalog has items heavier than ``kilogram_item_g`` is in kilograms.
    kilogram_item_g: see ``kilogram_median_g``.
    max_abs_grams: a reading beyond +-this (or infinite) is a sensor glitch, dropped like a NaN
        reading and reported (no shelf plate carries a tonne).
    """

    max_gap_s: float = 1.0
    kilogram_median_g: float = 20.0
    kilogram_item_g: float = 100.0
    """a catalog item at least this heavy makes a log with a typical reading below kilogram_median_g
    one in kilograms"""
    max_abs_grams: float = 1e6


@dataclass(frozen=True)
class WeightProblem:
    """One kind of problem found on one plate (or the whole file when ``shelf`` is None)."""

    path: str
    kind: str
    count: int
    shelf: str | None = None
    plate: int | None = None
    detail: str = ""

    def describe(self) -> str:
        where = self.path if self.shelf is None else f"{self.path}, plate {self.shelf}/{self.plate}"
        text = f"{where}: {self.count} {self.kind}"
        return f"{text} ({self.detail})" if self.detail else text

    def to_dict(self) -> dict:
        return {
            "path": self.path, "kind": self.kind, "count": self.count,
            "shelf": self.shelf, "plate": self.plate, "detail": self.detail,
        }


@dataclass
class WeightLog:
    """A clean weight log.

    frame: DataFrame[timestamp: float64 s, shelf: category, plate: int64, grams: float64], sorted by
        (shelf, plate, timestamp), no NaN readings, strictly increasing timestamps per plate.
    bounds: DataFrame[shelf, plate, start, stop]: row range ``[start, stop)`` of each plate in ``frame``.
    problems: what the loader found and fixed (each named by file and plate, with a count).
    """

    path: str
    frame: pd.DataFrame
    bounds: pd.DataFrame
    problems: list[WeightProblem] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return len(self.frame)

    def plates(self) -> Iterator[tuple[str, int, np.ndarray, np.ndarray]]:
        """Yield ``(shelf, plate, timestamps (N,) s, grams (N,))`` per plate, as views (no copies)."""
        t = self.frame["timestamp"].to_numpy()
        g = self.frame["grams"].to_numpy()
        for shelf, plate, start, stop in self.bounds.itertuples(index=False):
            yield str(shelf), int(plate), t[start:stop], g[start:stop]


def find_weight_log(recording: str | Path) -> Path:
    """The weight log of a recording folder (parquet, csv.gz or csv), or FormatError if none."""
    recording = Path(recording)
    for name in WEIGHT_FILE_NAMES:
        if (recording / name).is_file():
            return recording / name
    raise FormatError(recording, f"no weight log ({', '.join(WEIGHT_FILE_NAMES)})")


def _read_raw(path: Path) -> pd.DataFrame:
    """Read the file's four columns; numeric columns may come back as text if a cell is text."""
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            try:
                frame = pd.read_csv(path, engine="pyarrow", dtype={"shelf": "string"})
            except (ValueError, TypeError) as exc:
                # pyarrow refuses text in a float column without naming the row: re-read as text
                # so the bad line can be named.
                log.debug("pyarrow CSV read failed (%s); re-reading %s as text", exc, path)
                frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise FormatError(path, "file not found") from None
    except pd.errors.EmptyDataError:
        raise FormatError(path, "file is empty (no header line)") from None
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file, reported as one line
        raise FormatError(path, f"not a readable weight log: {type(exc).__name__}: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in WEIGHT_COLUMNS if c not in frame.columns]
    if missing:
        raise FormatError(path, f"missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}", line=1)
    return frame[list(WEIGHT_COLUMNS)]


def _as_number(frame: pd.DataFrame, column: str, path: Path, *, allow_nan: bool) -> np.ndarray:
    """The column as float64; the first text cell (or, when ``allow_nan`` is False, the first
    missing or infinite value) raises FormatError naming its line."""
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        if not allow_nan and not np.isfinite(numbers).all():
            index = int(np.flatnonzero(~np.isfinite(numbers))[0])
            shown = "an empty cell" if np.isnan(numbers[index]) else repr(str(numbers[index]))
            raise FormatError(path, f"{shown} is not a number (required)", line=index + 2, field=column)
        return numbers
    text = values.astype("string").str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    empty = text.isna() | text.isin(["", "nan", "NaN", "NA", "null"])
    finite = pd.Series(np.isfinite(numbers.to_numpy(dtype=np.float64, na_value=np.nan)), index=numbers.index)
    bad = numbers.isna() & ~empty if allow_nan else ~finite
    if bad.any():
        index = int(np.flatnonzero(bad.to_numpy())[0])
        kind = "a number" if allow_nan else "a number (required)"
        raise FormatError(path, f"{values.iloc[index]!r} is not {kind}", line=index + 2, field=column)
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def load_weights(
    path: str | Path,
    catalog: pd.DataFrame | None = None,
    planogram: pd.DataFrame | None = None,
    config: WeightLogConfig | None = None,
) -> WeightLog:
    """Load and clean a weight log; see the module docstring.

    catalog (optional) enables the kilogram check; planogram (optional) reports plates it lacks.
    Raises FormatError for unusable input (missing columns, text in numbers, milliseconds, kilograms).
    """
    config = config or WeightLogConfig()
    path = Path(path)
    raw = _read_raw(path)
    n_rows = len(raw)
    timestamp = _as_number(raw, "timestamp", path, allow_nan=False)
    plate = _as_number(raw, "plate", path, allow_nan=False)
    grams = _as_number(raw, "grams", path, allow_nan=True)
    not_integer = (plate != np.round(plate)) | (np.abs(plate) > 2**53)  # beyond 2**53 it would wrap in int64
    if n_rows and not_integer.any():
        index = int(np.flatnonzero(not_integer)[0])
        raise FormatError(path, f"plate {plate[index]:g} is not an integer", line=index + 2, field="plate")
    shelf = raw["shelf"].astype("string").str.strip().astype("category")
    missing_shelf = (shelf.isna() | (shelf == "")).to_numpy(dtype=bool, na_value=True)
    if n_rows and missing_shelf.any():
        index = int(np.flatnonzero(missing_shelf)[0])
        raise FormatError(path, "empty shelf", line=index + 2, field="shelf")
    if n_rows and np.nanmax(timestamp) > MAX_UNIX_SECONDS:
        index = int(np.argmax(timestamp > MAX_UNIX_SECONDS))
        raise FormatError(
            path, "timestamps look like milliseconds; Unix seconds expected", line=index + 2, field="timestamp"
        )
    problems: list[WeightProblem] = []
    key_codes = shelf.cat.codes.to_numpy().astype(np.int64)
    plate_int = plate.astype(np.int64)

    nan = np.isnan(grams)
    out_of_range = ~nan & ~(np.abs(grams) <= config.max_abs_grams)
    # Sort by (shelf, plate, timestamp): skip the sort when the file already is (rare for loggers,
    # which interleave plates, but cheap to check).
    if n_rows > 1:
        same = (key_codes[1:] == key_codes[:-1]) & (plate_int[1:] == plate_int[:-1])
        ordered = (key_codes[1:] > key_codes[:-1]) | (
            (key_codes[1:] == key_codes[:-1]) & (plate_int[1:] > plate_int[:-1])
        ) | (same & (timestamp[1:] >= timestamp[:-1]))
        is_sorted = bool(ordered.all())
    else:
        is_sorted = True
    shelves = np.asarray(shelf.cat.categories, dtype=object)
    order = None if is_sorted else np.lexsort((timestamp, plate_int, key_codes))
    frame = pd.DataFrame(
        {
            "timestamp": timestamp if order is None else timestamp[order],
            "shelf": shelf if order is None else shelf.take(order).reset_index(drop=True),
            "plate": plate_int if order is None else plate_int[order],
            "grams": grams if order is None else grams[order],
        }
    )
    nan = nan if order is None else nan[order]
    out_of_range = out_of_range if order is None else out_of_range[order]
    code = key_codes if order is None else key_codes[order]
    plate_sorted = frame["plate"].to_numpy()
    ts = frame["timestamp"].to_numpy()
    starts_mask = np.ones(len(frame), dtype=bool)
    if len(frame) > 1:
        starts_mask[1:] = (code[1:] != code[:-1]) | (plate_sorted[1:] != plate_sorted[:-1])
    group = np.cumsum(starts_mask) - 1
    # Per-row flags, counted per plate below.
    dup = np.zeros(len(frame), dtype=bool)
    gap = np.zeros(len(frame), dtype=bool)
    if len(frame) > 1:
        dup[1:] = ~starts_mask[1:] & (ts[1:] == ts[:-1])
        gap[1:] = ~starts_mask[1:] & (ts[1:] - ts[:-1] > config.max_gap_s)
    unsorted_rows = np.zeros(len(frame), dtype=bool)
    if order is not None and len(frame) > 1:
        # lexsort is stable, so within a plate a file-order index that goes down marks a reading
        # that came after a later one in the file: one per out-of-order reading.
        unsorted_rows[1:] = ~starts_mask[1:] & (order[1:] < order[:-1])
    n_groups = int(group[-1]) + 1 if len(frame) else 0
    starts = np.flatnonzero(starts_mask)
    group_shelf = shelves[code[starts]] if len(frame) else np.array([], dtype=object)
    group_plate = plate_sorted[starts]
    for kind, mask, detail in (
        ("rows out of time order", unsorted_rows, "sorted"),
        ("duplicate timestamps", dup, "kept the first reading"),
        ("NaN readings (dropouts)", nan, "dropped"),
        ("out-of-range readings", out_of_range, f"beyond +-{config.max_abs_grams:g} g or infinite, dropped"),
        ("gaps", gap, f"longer than {config.max_gap_s:g} s"),
    ):
        if not mask.any():
            continue
        counts = np.bincount(group[mask], minlength=n_groups)
        for g_index in np.flatnonzero(counts):
            problems.append(
                WeightProblem(str(path), kind, int(counts[g_index]), str(group_shelf[g_index]), int(group_plate[g_index]), detail)
            )
    keep = ~(dup | nan | out_of_range)
    if not keep.all():
        frame = frame.loc[keep].reset_index(drop=True)
        code, plate_sorted = code[keep], plate_sorted[keep]
    starts_mask = np.ones(len(frame), dtype=bool)
    if len(frame) > 1:
        starts_mask[1:] = (code[1:] != code[:-1]) | (plate_sorted[1:] != plate_sorted[:-1])
    starts = np.flatnonzero(starts_mask)
    stops = np.append(starts[1:], len(frame)).astype(np.int64)[: len(starts)]
    bounds = pd.DataFrame(
        {
            "shelf": shelves[code[starts]].astype(str) if len(frame) else np.array([], dtype=str),
            "plate": plate_sorted[starts],
            "start": starts,
            "stop": stops,
        }
    )
    _check_units(path, frame, bounds, catalog, config)
    if planogram is not None and len(bounds):
        known = set(zip(planogram["shelf"].astype(str), planogram["plate"].astype(int), strict=True))
        unknown = [(s, p) for s, p in zip(bounds["shelf"], bounds["plate"], strict=True) if (s, int(p)) not in known]
        if unknown:
            shown = ", ".join(f"{s}/{p}" for s, p in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
            problems.append(WeightProblem(str(path), "plates not in the planogram", len(unknown), detail=shown))
    for problem in problems:
        log.warning("%s", problem.describe())
    log.info("%s: %d readings of %d plates", path, len(frame), len(bounds))
    return WeightLog(str(path), frame, bounds, problems)


def _check_units(
    path: Path, frame: pd.DataFrame, bounds: pd.DataFrame, catalog: pd.DataFrame | None, config: WeightLogConfig
) -> None:
    """Raise FormatError when readings look like kilograms (see WeightLogConfig)."""
    if catalog is None or not len(bounds) or not len(catalog):
        return
    if float(catalog["weight_g"].max()) <= config.kilogram_item_g:
        return
    grams = frame["grams"].to_numpy()
    medians = [np.median(np.abs(grams[a:b])) for a, b in zip(bounds["start"], bounds["stop"], strict=True)]
    typical = float(np.median(medians))
    # Raw plates read their tare and stock, so a grams log has typical readings of hundreds of grams.
    if typical < config.kilogram_median_g:
        raise FormatError(
            path,
            f"readings look like kilograms (typical plate reading {typical:.3g}; "
            f"catalog items weigh up to {float(catalog['weight_g'].max()):.0f} g); grams expected",
            field="grams",
        )
