"""Properties that must hold for any input (hypothesis): the weight-log loader and the event matcher.

Weight logs: the cleaned per-plate series does not depend on row order or on repeated rows; whatever
bytes a file holds, loading either returns a clean log (finite, strictly increasing timestamps per
plate, finite readings) or raises FormatError, never anything else.

Event matching: every truth event is matched or missed and every prediction matched or extra; the
counts do not change when both sides shift in time, when rows are shuffled, and swapping truth and
predictions swaps misses and extras.
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from formats.errors import FormatError
from fusion.weights import load_weights
from walkout.bench.config import BenchConfig
from walkout.bench.events import match_events, score_events

T0 = 1_700_000_000
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- weight logs -------------------------------------------------------------------------------

plates = st.sets(st.tuples(st.sampled_from(["A1", "B2", "007"]), st.integers(1, 4)), min_size=1, max_size=4)
readings = st.one_of(st.floats(-500, 60_000, allow_nan=False), st.just(float("nan")))


@st.composite
def weight_logs(draw) -> list[tuple[float, str, int, float]]:
    """Rows of a valid log: distinct timestamps per plate (on a 1/8 s grid, exact in binary)."""
    rows = []
    for shelf, plate in sorted(draw(plates)):
        ticks = draw(st.lists(st.integers(0, 800), min_size=1, max_size=15, unique=True))
        rows += [(T0 + tick / 8, shelf, plate, draw(readings)) for tick in sorted(ticks)]
    return rows


def write_rows(path: Path, rows: list[tuple[float, str, int, float]]) -> Path:
    path.write_text("timestamp,shelf,plate,grams\n" + "".join(f"{t!r},{s},{p},{g!r}\n" for t, s, p, g in rows))
    return path


def series(path: Path) -> dict[tuple[str, int], tuple[list[float], list[float]]]:
    log = load_weights(path)
    return {(shelf, plate): (t.tolist(), g.tolist()) for shelf, plate, t, g in log.plates()}


@PROPERTY
@given(rows=weight_logs(), data=st.data())
def test_row_order_and_repeated_rows_do_not_change_the_cleaned_series(rows, data):
    shuffled = data.draw(st.permutations(rows))
    repeats = data.draw(st.lists(st.sampled_from(rows), max_size=5))
    mixed = data.draw(st.permutations(shuffled + repeats))
    with tempfile.TemporaryDirectory() as folder:
        clean = series(write_rows(Path(folder) / "sorted.csv", rows))
        assert series(write_rows(Path(folder) / "mixed.csv", mixed)) == clean
    # and the cleaned series is what the rows say, NaN readings left out
    expected: dict = {}
    for t, shelf, plate, g in rows:
        if not np.isnan(g):
            expected.setdefault((shelf, plate), ([], []))
            expected[(shelf, plate)][0].append(t)
            expected[(shelf, plate)][1].append(g)
    assert clean == expected


TOKENS = ["", "nan", "NaN", "inf", "-inf", "1e999", "-1", "0", "1", "1.5", "1e20", "abc", "A1", "True",
          str(T0), f"{T0}.25", str(T0 * 1000), '"', '""', " ", "\t", "é", "1,5"]
junk_rows = st.lists(st.lists(st.sampled_from(TOKENS), min_size=0, max_size=6).map(",".join), max_size=12)
headers = st.sampled_from(["timestamp,shelf,plate,grams", "timestamp,shelf,plate", "grams,plate,shelf,timestamp",
                           "timestamp,shelf,plate,grams,extra", ""])


def assert_clean_or_format_error(path: Path) -> None:
    try:
        log = load_weights(path)
    except FormatError:
        return
    frame = log.frame
    assert np.isfinite(frame["timestamp"].to_numpy()).all()
    assert np.isfinite(frame["grams"].to_numpy()).all()
    assert (np.abs(frame["plate"].to_numpy()) < 2**53).all()  # no integer wrapped around
    for _, _, t, _ in log.plates():
        assert (np.diff(t) > 0).all()


GOOD = f"{T0}.25,A1,1,900"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=headers, lines=junk_rows, compress=st.booleans())
# Found by hand, kept as regressions: an empty timestamp among numbers was kept as NaN; plate
# numbers beyond int64 wrapped around; infinite readings went on into the weight events.
@example(header="timestamp,shelf,plate,grams", lines=[GOOD, ",A1,1,5"], compress=False)
@example(header="timestamp,shelf,plate,grams", lines=[GOOD, f"{T0}.5,A1,inf,5"], compress=False)
@example(header="timestamp,shelf,plate,grams", lines=[GOOD, f"{T0}.5,A1,1e20,5"], compress=False)
@example(header="timestamp,shelf,plate,grams", lines=[GOOD, f"{T0}.5,A1,1,inf"], compress=False)
@example(header="timestamp,shelf,plate,grams", lines=[GOOD, f"{T0}.5,A1,1,1e999"], compress=False)
def test_junk_csv_gives_a_clean_log_or_a_format_error(header, lines, compress):
    text = "\n".join([header, *lines]) + "\n"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("weights.csv.gz" if compress else "weights.csv")
        path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
        assert_clean_or_format_error(path)


@PROPERTY
@given(blob=st.binary(max_size=300), name=st.sampled_from(["weights.csv", "weights.csv.gz", "weights.parquet"]))
def test_random_bytes_give_a_format_error_or_a_clean_log(blob, name):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(blob)
        assert_clean_or_format_error(path)


# --- event matching ----------------------------------------------------------------------------

event = st.tuples(
    st.integers(0, 120),  # quarter seconds after T0: exact in binary, so shifts are exact
    st.sampled_from(["1", "2"]),
    st.sampled_from(["pick", "return"]),
    st.sampled_from(["sku_a", "sku_b"]),
    st.integers(1, 2),
)
events = st.lists(event, max_size=8)


def table(rows) -> pd.DataFrame:
    frame = pd.DataFrame(
        [(T0 + q / 4, shopper, action, sku, quantity) for q, shopper, action, sku, quantity in rows],
        columns=["timestamp", "shopper", "action", "sku", "quantity"],
    )
    return frame.astype({"timestamp": float, "shopper": str, "quantity": int})


def counts(truth: pd.DataFrame, predicted: pd.DataFrame):
    score = score_events(truth, predicted, match_events(truth, predicted, BenchConfig()))
    return score.product, score.attributed


@settings(max_examples=150, deadline=None)
@given(truth=events, predicted=events)
def test_every_event_is_matched_missed_or_extra(truth, predicted):
    product, attributed = counts(table(truth), table(predicted))
    for level in (product, attributed):
        assert level.matched + level.missed == len(truth)
        assert level.matched + level.false_pos == len(predicted)
    assert attributed.matched <= product.matched


@settings(max_examples=150, deadline=None)
@given(truth=events, predicted=events, shift_s=st.integers(-10**6, 10**6))
def test_counts_do_not_change_when_both_sides_shift_in_time(truth, predicted, shift_s):
    before = counts(table(truth), table(predicted))
    shifted_truth, shifted_predicted = table(truth), table(predicted)
    shifted_truth["timestamp"] += shift_s
    shifted_predicted["timestamp"] += shift_s
    assert counts(shifted_truth, shifted_predicted) == before


@settings(max_examples=150, deadline=None)
@given(truth=events, predicted=events, data=st.data())
def test_counts_do_not_depend_on_row_order(truth, predicted, data):
    before = counts(table(truth), table(predicted))
    after = counts(table(data.draw(st.permutations(truth))), table(data.draw(st.permutations(predicted))))
    assert after == before


@settings(max_examples=150, deadline=None)
@given(truth=events, predicted=events)
def test_swapping_truth_and_predictions_swaps_misses_and_extras(truth, predicted):
    product, attributed = counts(table(truth), table(predicted))
    swapped_product, swapped_attributed = counts(table(predicted), table(truth))
    for level, swapped in ((product, swapped_product), (attributed, swapped_attributed)):
        assert (swapped.matched, swapped.false_pos, swapped.missed) == (level.matched, level.missed, level.false_pos)
