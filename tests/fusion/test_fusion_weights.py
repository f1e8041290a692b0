"""Loading weight logs: formats, cleaning with per-plate problem counts, wrong units, bad cells."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from fusion_synth import CATALOG, T0, LogSpec, make_log, write_recording

from formats.errors import FormatError
from formats.tables import read_catalog
from fusion.weights import find_weight_log, load_weights


def kinds(log) -> dict[tuple[str, str | None, int | None], int]:
    return {(p.kind, p.shelf, p.plate): p.count for p in log.problems}


@pytest.mark.parametrize("name", ["weights.csv", "weights.csv.gz", "weights.parquet"])
def test_every_format_loads_sorted_per_plate(tmp_path, name):
    rec = write_recording(tmp_path / "r", make_log(LogSpec(duration_s=2.0)), name=name)
    log = load_weights(find_weight_log(rec))
    assert log.n_samples == 6 * 120
    assert list(log.bounds["shelf"]) == ["A1"] * 4 + ["B1"] * 2
    assert log.problems == []
    for _, _, t, _ in log.plates():
        assert np.all(np.diff(t) > 0)


def test_empty_log_has_no_plates(tmp_path):
    path = tmp_path / "weights.csv"
    path.write_text("timestamp,shelf,plate,grams\n")
    log = load_weights(path)
    assert log.n_samples == 0 and len(log.bounds) == 0 and log.problems == []


def test_unsorted_duplicate_nan_and_gap_rows_are_reported_per_plate(tmp_path):
    frame = make_log(LogSpec(duration_s=3.0))
    a1p3 = frame.index[(frame.shelf == "A1") & (frame.plate == 3)]
    frame.loc[a1p3[10:13], "grams"] = np.nan                       # 3 dropouts
    frame = pd.concat([frame, frame.loc[a1p3[20:22]]])              # 2 duplicate timestamps
    b1p2 = frame.index[(frame.shelf == "B1") & (frame.plate == 2)]
    frame = frame.drop(b1p2[60:150])                                # a 1.5 s gap
    frame = frame.iloc[::-1]                                        # every plate out of order
    log = load_weights(write_recording(tmp_path / "r", frame) / "weights.csv.gz")
    found = kinds(log)
    path = str(tmp_path / "r" / "weights.csv.gz")
    assert found[("NaN readings (dropouts)", "A1", 3)] == 3
    assert found[("duplicate timestamps", "A1", 3)] == 2
    assert found[("gaps", "B1", 2)] == 1
    assert found[("rows out of time order", "A1", 1)] == 180 - 1
    assert all(p.path == path for p in log.problems)
    assert log.n_samples == 6 * 180 - 3 - 90
    for _, _, t, g in log.plates():
        assert np.all(np.diff(t) > 0) and not np.isnan(g).any()


def test_plates_missing_from_the_planogram_are_reported(tmp_path):
    frame = make_log(LogSpec(duration_s=1.0))
    rec = write_recording(tmp_path / "r", frame)
    planogram = pd.read_csv(rec / "planogram.csv", dtype={"sku": str}).iloc[:4]
    log = load_weights(rec / "weights.csv.gz", planogram=planogram)
    assert [(p.kind, p.count) for p in log.problems] == [("plates not in the planogram", 2)]


def test_kilograms_are_an_error(tmp_path):
    frame = make_log(LogSpec(duration_s=1.0))
    frame["grams"] = frame["grams"] / 1000.0
    rec = write_recording(tmp_path / "r", frame)
    with pytest.raises(FormatError, match="looks? like kilograms"):
        load_weights(rec / "weights.csv.gz", catalog=read_catalog(rec / "catalog.csv"))


def test_milliseconds_are_an_error(tmp_path):
    frame = make_log(LogSpec(duration_s=1.0))
    frame["timestamp"] = frame["timestamp"] * 1000.0
    rec = write_recording(tmp_path / "r", frame)
    with pytest.raises(FormatError, match="milliseconds"):
        load_weights(rec / "weights.csv.gz")


@pytest.mark.parametrize("column", ["timestamp", "plate", "grams"])
def test_text_in_a_numeric_column_names_the_line(tmp_path, column):
    path = tmp_path / "weights.csv"
    rows = [f"{T0 + i / 60:.4f},A1,1,{1000 + i}" for i in range(5)]
    cells = rows[3].split(",")
    cells[{"timestamp": 0, "plate": 2, "grams": 3}[column]] = "oops"
    rows[3] = ",".join(cells)
    path.write_text("timestamp,shelf,plate,grams\n" + "\n".join(rows) + "\n")
    with pytest.raises(FormatError) as caught:
        load_weights(path)
    assert caught.value.line == 5 and caught.value.field == column
    assert "'oops'" in str(caught.value)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty"),
        (b"time,shelf,plate,grams\n1,A1,1,2\n", "missing column(s) timestamp"),
    ],
)
def test_unreadable_files_are_one_clear_error(tmp_path, content, problem):
    path = tmp_path / "weights.csv.gz"
    path.write_bytes(gzip.compress(content))
    with pytest.raises(FormatError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        load_weights(path)


def test_no_weight_log_in_the_recording(tmp_path):
    with pytest.raises(FormatError, match="no weight log"):
        find_weight_log(tmp_path)


def test_catalog_fixture_is_consistent():
    assert len({sku for sku, _, _ in CATALOG}) == len(CATALOG)
