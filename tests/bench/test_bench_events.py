"""Event matching and counts, with expected values written as arithmetic."""

from __future__ import annotations

import pytest

from walkout.bench.config import BenchConfig
from walkout.bench.counts import Counts
from walkout.bench.events import confusion, match_events, score_events

from .conftest import FPS, T0, events

CFG = BenchConfig()  # tolerance 1.5 s


def score(tmp_path, truth_rows, pred_rows, config=CFG):
    truth = events(tmp_path, truth_rows, name="t.csv")
    pred = events(tmp_path, pred_rows, predicted=True, name="p.csv")
    match = match_events(truth, pred, config)
    return score_events(truth, pred, match), match, truth, pred


@pytest.mark.parametrize(
    ("counts", "precision", "recall", "f1"),
    [
        (Counts(0, 0, 0), 1.0, 1.0, 1.0),  # both empty: nothing claimed, nothing missed
        (Counts(0, 2, 0), 0 / 2, 1.0, 0.0),  # no truth, two predictions
        (Counts(0, 0, 3), 1.0, 0 / 3, 0.0),  # truth, no predictions
        (Counts(3, 1, 2), 3 / 4, 3 / 5, 2 * 3 / (2 * 3 + 1 + 2)),
    ],
)
def test_counts_ratios_and_empty_conventions(counts, precision, recall, f1):
    assert counts.precision == pytest.approx(precision)
    assert counts.recall == pytest.approx(recall)
    assert counts.f1 == pytest.approx(f1)


def test_counts_add_sums_counts_not_ratios():
    total = Counts(1, 0, 0) + Counts(1, 3, 0)
    assert total == Counts(2, 3, 0)
    assert total.precision == 2 / 5  # not the mean of 1/1 and 1/4


@pytest.mark.parametrize(
    ("truth_rows", "pred_rows", "expected"),
    [
        ([], [], Counts(0, 0, 0)),
        ([(0.0, 1, "pick", "a", 1)], [], Counts(0, 0, 1)),
        ([], [(0.0, 1, "pick", "a", 1)], Counts(0, 1, 0)),
        (
            [(0.0, 1, "pick", "a", 1), (5.0, 1, "pick", "b", 1)],
            [(0.2, 1, "pick", "a", 1), (5.1, 1, "pick", "b", 1)],
            Counts(2, 0, 0),
        ),
        # wrong sku and wrong action never match
        ([(0.0, 1, "pick", "a", 1)], [(0.0, 1, "pick", "b", 1)], Counts(0, 1, 1)),
        ([(0.0, 1, "pick", "a", 1)], [(0.0, 1, "return", "a", 1)], Counts(0, 1, 1)),
        # a return is matched like a pick
        (
            [(0.0, 1, "pick", "a", 1), (3.0, 1, "return", "a", 1)],
            [(0.1, 1, "pick", "a", 1), (3.2, 1, "return", "a", 1)],
            Counts(2, 0, 0),
        ),
        # two predictions of one truth event: one matched, one extra
        ([(0.0, 1, "pick", "a", 1)], [(0.0, 1, "pick", "a", 1), (0.5, 1, "pick", "a", 1)], Counts(1, 1, 0)),
    ],
    ids=[
        "both-empty",
        "no-predictions",
        "no-truth",
        "perfect",
        "wrong-sku",
        "wrong-action",
        "returns",
        "duplicate",
    ],
)
def test_product_counts(tmp_path, truth_rows, pred_rows, expected):
    result, *_ = score(tmp_path, truth_rows, pred_rows)
    assert result.product == expected


@pytest.mark.parametrize(
    ("dt_s", "matched"),
    [(1.5, 1), (-1.5, 1), (1.501, 0), (-1.501, 0), (0.0, 1)],
)
def test_tolerance_edges(tmp_path, dt_s, matched):
    result, *_ = score(tmp_path, [(10.0, 1, "pick", "a", 1)], [(10.0 + dt_s, 1, "pick", "a", 1)])
    assert result.product == Counts(matched, 1 - matched, 1 - matched)


def test_hungarian_beats_greedy(tmp_path):
    # Greedy (closest pair first) takes pred 0.9 <-> truth 1.0, then pred 2.2 <-> truth 0.0 is 2.2 s
    # away: 1 match. The optimal assignment pairs 0.9 <-> 0.0 and 2.2 <-> 1.0 (1.2 s): 2 matches.
    truth = [(0.0, 1, "pick", "a", 1), (1.0, 1, "pick", "a", 1)]
    pred = [(0.9, 1, "pick", "a", 1), (2.2, 1, "pick", "a", 1)]
    result, *_ = score(tmp_path, truth, pred)
    assert result.product == Counts(2, 0, 0)


def test_matching_prefers_right_shopper_over_smaller_time_difference(tmp_path):
    # Time alone pairs (0.0, 0.1) and (1.0, 1.0), both with the wrong shopper; among two-pair
    # assignments the one with both shoppers right wins.
    truth = [(0.0, 1, "pick", "a", 1), (1.0, 2, "pick", "a", 1)]
    pred = [(0.1, 2, "pick", "a", 1), (1.0, 1, "pick", "a", 1)]
    result, *_ = score(tmp_path, truth, pred)
    assert result.product == Counts(2, 0, 0)
    assert result.attributed == Counts(2, 0, 0)


def test_misattribution_is_one_false_positive_and_one_miss(tmp_path):
    truth = [(0.0, 1, "pick", "a", 1), (5.0, 1, "pick", "b", 1), (9.0, 2, "pick", "c", 1)]
    pred = [(0.0, 1, "pick", "a", 1), (5.0, 2, "pick", "b", 1), (9.0, 2, "pick", "c", 1)]
    result, match, truth_t, pred_t = score(tmp_path, truth, pred)
    assert result.product == Counts(3, 0, 0)
    assert result.attributed == Counts(2, 1, 1)
    assert result.attributed.precision == 2 / 3
    rows = confusion(truth_t, pred_t, match, lambda t, c: ("cam0", None, t - T0))
    assert [(r["kind"], r["sku"], r["truth_shopper"], r["pred_shopper"]) for r in rows] == [
        ("misattributed", "b", "1", "2")
    ]


def test_quantity_mismatch_is_matched_and_listed(tmp_path):
    result, match, truth, pred = score(tmp_path, [(0.0, 1, "pick", "a", 2)], [(0.3, 1, "pick", "a", 1)])
    assert result.product == Counts(1, 0, 0)
    assert result.quantity_mismatches == 1
    rows = confusion(truth, pred, match, lambda t, c: ("cam0", None, t - T0))
    assert [(r["kind"], r["truth_quantity"], r["pred_quantity"]) for r in rows] == [("quantity", 2, 1)]


def test_confusion_rows_locate_frames(tmp_path):
    from walkout.bench.inputs import CameraClock
    from walkout.bench.score import _locator

    truth = [(2.0, 1, "pick", "a", 1)]
    pred = [(7.5, 1, "pick", "b", 1, "cam0", 75)]
    result, match, truth_t, pred_t = score(tmp_path, truth, pred)
    rows = confusion(truth_t, pred_t, match, _locator({"cam0": CameraClock("cam0", T0, FPS)}))
    missed, extra = rows
    assert (missed["kind"], missed["frame"], missed["video_s"]) == ("missed", 2.0 * FPS, pytest.approx(2.0))
    assert (extra["kind"], extra["frame"], extra["video_s"]) == ("extra", 75, pytest.approx(7.5))
