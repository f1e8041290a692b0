"""Carts (picks minus returns, in units), receipt accuracy, receipts.json, weight-only scoring."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from formats.errors import FormatError
from walkout.bench import run_bench
from walkout.bench.counts import Counts
from walkout.bench.receipts import (
    compare_carts,
    net_carts,
    read_receipts,
    receipt_events,
    score_carts,
    store_cart,
)

from .conftest import T0, events, make_recording, two_shopper_tracks


def test_net_carts_subtract_returns(tmp_path):
    rows = [
        (0, 1, "pick", "a", 2),
        (1, 1, "return", "a", 1),
        (2, 1, "pick", "b", 1),
        (3, 1, "return", "b", 1),
        (4, 2, "pick", "a", 1),
    ]
    carts = net_carts(events(tmp_path, rows))
    assert carts == {"1": Counter({"a": 2 - 1}), "2": Counter({"a": 1})}  # b: 1 - 1 = 0, dropped


def test_net_negative_is_clipped(tmp_path):
    assert net_carts(events(tmp_path, [(0, 1, "return", "a", 1)])) == {"1": Counter()}


@pytest.mark.parametrize(
    ("truth", "predicted", "expected"),
    [
        ({}, {}, Counts(0, 0, 0)),
        ({"a": 2}, {}, Counts(0, 0, 2)),
        ({}, {"a": 1}, Counts(0, 1, 0)),
        ({"a": 2, "b": 1}, {"a": 1, "b": 1, "c": 3}, Counts(1 + 1, 3, 1)),
    ],
)
def test_compare_carts_multiset(truth, predicted, expected):
    assert compare_carts(truth, predicted) == expected


def test_receipt_accuracy_counts_truth_shoppers_including_empty_carts():
    truth = {"1": Counter({"a": 1}), "2": Counter({"b": 2})}
    predicted = {"1": Counter({"a": 1}), "2": Counter({"b": 1}), "pred:9": Counter({"c": 1})}
    score, rows = score_carts(truth, predicted, extra_truth_shoppers=["3"])  # shopper 3 took nothing
    assert (score.shoppers, score.exact) == (3, 2)  # 1 and 3 exact, 2 short by one b
    assert score.receipt_accuracy == 2 / 3
    assert score.units == Counts(1 + 1, 1, 1)  # pred:9's c is extra, shopper 2 misses one b
    assert [r["shopper"] for r in rows] == ["1", "2", "3", "pred:9"]


def test_no_truth_shoppers_is_vacuously_accurate():
    score, _ = score_carts({}, {})
    assert score.receipt_accuracy == 1.0


def test_weight_only_receipts_scored_at_store_level(tmp_path):
    truth = events(
        tmp_path,
        [(0, 1, "pick", "a", 2), (1, 2, "pick", "b", 1), (2, 2, "return", "b", 1), (3, 2, "pick", "c", 1)],
    )
    path = tmp_path / "receipts.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "recording": "r",
                "shoppers": {},
                "unattributed": {"items": {"a": 2, "d": 1}, "lines": []},
            }
        )
    )
    receipts = read_receipts(path)
    store = compare_carts(store_cart(truth), receipts.store)
    assert store_cart(truth) == Counter({"a": 2, "c": 1})
    assert store == Counts(2, 1, 1)
    assert (store.precision, store.recall, store.exact) == (2 / 3, 2 / 3, False)


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        json.dumps({"version": 2}),
        json.dumps({"version": 1, "shoppers": {"7": {"items": {"a": 1.5}}}}),
    ],
)
def test_bad_receipts_name_the_file(tmp_path, payload):
    path = tmp_path / "receipts.json"
    path.write_text(payload)
    with pytest.raises(FormatError, match="receipts.json"):
        read_receipts(path)


def receipt_line(t_s, sku, action="pick", quantity=1, counted=True, shelf="S1"):
    return {"status": "confirmed", "sku": sku, "quantity": quantity, "action": action, "timestamp": T0 + t_s,
            "shelf": shelf, "plates": [1], "counted": counted, "reason": ""}


def test_wrong_shopper_lines_name_their_cause(tmp_path):
    """A line given to a track that was on the right shopper at the time, but whose id belongs to
    another shopper over the recording, is an *identity* error; a line given to a track on someone
    else is an *attribution* error. Both are in fused_confusion.csv and report.md."""
    truth_tracks = two_shopper_tracks((1, 2), 100)  # shopper 1 left, 2 right, frames 1..100
    swapped = {(f, 1): 2 for f in range(51, 61)} | {(f, 2): 1 for f in range(51, 61)}
    pred_tracks = [(f, swapped.get((f, i), i), x, y, w, h) for f, i, x, y, w, h in truth_tracks]  # ids crossed 51-60
    truth = [(5.5, 2, "pick", "b2", 1), (8.0, 1, "pick", "a1", 1)]
    receipts = {
        "version": 1, "recording": "demo",
        "shoppers": {"1": {"items": {}, "lines": [receipt_line(5.5, "b2")]},  # track 1 was on shopper 2 then
                     "2": {"items": {}, "lines": [receipt_line(8.0, "a1")]}},  # track 2 was on shopper 2
    }
    recording, predictions = make_recording(tmp_path, "demo", truth, [], receipts=receipts,
                                            truth_tracks=truth_tracks, pred_tracks=pred_tracks)
    report = run_bench([recording], predictions, tmp_path / "report")
    (result,) = report.scored
    assert result.id_mapping == {"cam0": {"1": "1", "2": "2"}}
    wrong = [(c["sku"], c["cause"]) for c in result.fused_confusion if c["kind"] == "misattributed"]
    assert wrong == [("b2", "identity"), ("a1", "attribution")]
    table = (tmp_path / "report" / "fused_confusion.csv").read_text()
    assert "misattributed" in table and ",identity" in table and ",attribution" in table
    assert "1 *identity*" in (tmp_path / "report" / "report.md").read_text()


def test_wrong_shopper_causes_of_a_store_run_compare_store_level_shoppers(tmp_path):
    """In a store run a receipt's shopper is a store-level id ("A", "B"), not a camera's track id:
    the cause looks at the boxes of the tracks that shopper is made of (run.json's shoppers.tracks)."""
    truth_tracks = two_shopper_tracks((1, 2), 100)
    swapped = {(f, 1): 2 for f in range(51, 61)} | {(f, 2): 1 for f in range(51, 61)}
    pred_tracks = [(f, swapped.get((f, i), i), x, y, w, h) for f, i, x, y, w, h in truth_tracks]
    truth = [(5.5, 2, "pick", "b2", 1), (8.0, 1, "pick", "a1", 1)]
    receipts = {
        "version": 1, "recording": "demo",
        "shoppers": {"B": {"items": {}, "lines": [receipt_line(5.5, "b2")]},  # track 1 (B) was on shopper 2 then
                     "A": {"items": {}, "lines": [receipt_line(8.0, "a1")]}},  # track 2 (A) was on shopper 2
    }
    run_info = {"shoppers": {"identity": "store", "tracks": {"cam0": {"1": "B", "2": "A"}}}}
    recording, predictions = make_recording(tmp_path, "demo", truth, [], receipts=receipts, run_info=run_info,
                                            truth_tracks=truth_tracks, pred_tracks=pred_tracks)
    (result,) = run_bench([recording], predictions, tmp_path / "report").scored
    wrong = [(c["sku"], c["pred_shopper"], c["cause"]) for c in result.fused_confusion if c["kind"] == "misattributed"]
    assert wrong == [("b2", "B", "identity"), ("a1", "A", "attribution")]


def test_a_store_line_whose_camera_track_was_right_but_joined_to_another_shopper_is_an_association_error(tmp_path):
    """Each camera track follows one person all along, but the store-level join put the right
    person's later track under the other shopper's id: the line given at that time is an
    *association* error (the camera did its job; the join across cameras did not)."""
    truth_tracks = two_shopper_tracks((1, 2), 100)
    left, right = {f: (x, y, w, h) for f, i, x, y, w, h in truth_tracks if i == 1}, \
        {f: (x, y, w, h) for f, i, x, y, w, h in truth_tracks if i == 2}
    pred_tracks = ([(f, 1, *left[f]) for f in range(1, 61)] + [(f, 2, *right[f]) for f in range(61, 101)]
                   + [(f, 3, *right[f]) for f in range(1, 61)] + [(f, 4, *left[f]) for f in range(61, 101)])
    run_info = {"shoppers": {"identity": "store", "tracks": {"cam0": {"1": "A", "2": "A", "3": "B", "4": "B"}}}}
    truth = [(8.0, 2, "pick", "b2", 1), (3.0, 1, "pick", "a1", 1)]
    receipts = {
        "version": 1, "recording": "demo",
        "shoppers": {"A": {"items": {}, "lines": [receipt_line(8.0, "b2")]},  # A (mostly 1) is track 2, on 2, then
                     "B": {"items": {}, "lines": [receipt_line(3.0, "a1")]}},  # B was track 3, on shopper 2
    }
    recording, predictions = make_recording(tmp_path, "demo", truth, [], receipts=receipts, run_info=run_info,
                                            truth_tracks=truth_tracks, pred_tracks=pred_tracks)
    report = run_bench([recording], predictions, tmp_path / "report")
    (result,) = report.scored
    causes = {c["sku"]: c["cause"] for c in result.fused_confusion if c["kind"] == "misattributed"}
    assert causes == {"b2": "association", "a1": "attribution"}
    assert "1 *association*" in (tmp_path / "report" / "report.md").read_text()
    metrics = report.metrics()  # shares of the 2 truth events
    assert (metrics["fused_wrong_identity"], metrics["fused_wrong_association"],
            metrics["fused_wrong_attribution"]) == (0.0, 0.5, 0.5)


def test_quantity_errors_around_one_weight_change_of_several_shoppers_are_named(tmp_path):
    """Two shoppers each lift one 'a' at once and both units go on shopper 1's line: shopper 2's pick is
    missed because of it (*shared*). Shopper 1 lifts two 'b' and one of them goes on shopper 2's line
    (*divided*). A pick missed on its own ('c') has no such cause."""
    truth = [(5.0, 1, "pick", "a", 1), (5.3, 2, "pick", "a", 1), (10.0, 1, "pick", "b", 2), (15.0, 2, "pick", "c", 1)]
    receipts = {
        "version": 1, "recording": "demo",
        "shoppers": {"1": {"items": {}, "lines": [receipt_line(5.1, "a", quantity=2), receipt_line(10.0, "b")]},
                     "2": {"items": {}, "lines": [receipt_line(10.2, "b")]}},
    }
    recording, predictions = make_recording(tmp_path, "demo", truth, [], receipts=receipts)
    report = run_bench([recording], predictions, tmp_path / "report")
    (result,) = report.scored
    causes = sorted((c["kind"], c["sku"], c["cause"]) for c in result.fused_confusion)
    assert causes == [("extra", "b", "divided"), ("missed", "a", "shared"), ("missed", "c", ""),
                      ("quantity", "a", "shared"), ("quantity", "b", "divided")]
    metrics = report.metrics()  # shares of the 4 truth events
    assert (metrics["fused_shared_takes"], metrics["fused_divided_takes"]) == (0.25, 0.25)
    assert "1 truth events missed because another shopper's line took their units" in (
        tmp_path / "report" / "report.md").read_text()


def test_receipt_lines_are_scored_as_the_fused_timeline(tmp_path):
    truth = [(1.0, 1, "pick", "a1", 1), (3.0, 2, "pick", "b2", 2), (6.0, 1, "return", "a1", 1)]
    receipts = {
        "version": 1, "recording": "demo",
        "shoppers": {
            "1": {"items": {}, "lines": [receipt_line(1.2, "a1"), receipt_line(6.1, "a1", "return"),
                                         receipt_line(7.0, "c3", counted=False)]},  # a false pick: not counted
            "2": {"items": {"a1": 1}, "lines": [receipt_line(3.0, "b2", quantity=2)]},
        },
        "unattributed": {"items": {}, "lines": [receipt_line(9.0, "d4")]},
    }
    recording, _ = make_recording(tmp_path, "demo", truth, [(1.0, 1, "pick", "a1", 1)], receipts=receipts,
                                  truth_tracks=two_shopper_tracks((1, 2), 100),
                                  pred_tracks=two_shopper_tracks((1, 2), 100))
    events_table = receipt_events(tmp_path / "predictions" / "demo" / "receipts.json")
    assert events_table[["shopper", "sku", "quantity"]].values.tolist() == [
        ["1", "a1", 1], ["2", "b2", 2], ["1", "a1", 1], ["", "d4", 1]]
    report = run_bench([recording], tmp_path / "predictions")
    metrics = report.metrics()
    assert metrics["attributed_recall"] == 1 / 3  # vision alone saw the first pick only
    fused = report.fused_events.attributed
    assert (fused.matched, fused.false_pos, fused.missed) == (3, 1, 0)  # the unattributed d4 is extra
    assert metrics["fused_attributed_f1"] == pytest.approx(2 * 3 / (2 * 3 + 1))


def test_a_malformed_receipt_line_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "receipts.json"
    path.write_text(json.dumps({"version": 1, "shoppers": {"1": {"items": {}, "lines": [{"sku": "a1"}]}}}))
    with pytest.raises(FormatError, match="receipts.json.*malformed receipt line of shopper 1"):
        receipt_events(path)


def test_a_shopper_whose_items_came_on_two_receipts_is_counted_as_split():
    from walkout.bench.receipts import split_receipts

    carts = {"1": Counter({"a": 1}), "4": Counter({"b": 1}), "2": Counter({"c": 1}), "5": Counter(), "6": Counter()}
    # Track 4 is shopper 1 re-found; tracks 5 and 6 (empty receipts) do not count; 9 maps nowhere.
    mapping = {"1": "1", "4": "1", "2": "2", "5": "2", "6": "7"}
    assert split_receipts(carts, mapping) == {"1"}
    assert split_receipts({"1": Counter({"a": 1}), "2": Counter({"c": 1})}, {"1": "1", "2": "2"}) == set()


def test_the_bench_reports_the_share_of_split_receipts(tmp_path):
    truth = [(1.0, 1, "pick", "a1", 1), (3.0, 2, "pick", "b2", 1), (8.0, 1, "pick", "c3", 1)]
    receipts = {"version": 1, "recording": "demo", "unattributed": {"items": {}, "lines": []}, "shoppers": {
        "1": {"items": {"a1": 1}, "lines": [receipt_line(1.0, "a1")]},
        "2": {"items": {"b2": 1}, "lines": [receipt_line(3.0, "b2")]},
        "3": {"items": {"c3": 1}, "lines": [receipt_line(8.0, "c3")]}}}
    # Shopper 1 (left) is tracked as 1, lost, and re-found as 3; shopper 2 (right) is 2 throughout.
    left = [(f, 1 if f <= 50 else 3, 10, 10, 50, 100) for f in range(1, 101)]
    right = [(f, 2, 300, 10, 50, 100) for f in range(1, 101)]
    recording, _ = make_recording(tmp_path, "demo", truth, [], receipts=receipts,
                                  truth_tracks=two_shopper_tracks((1, 2), 100), pred_tracks=left + right)
    report = run_bench([recording], tmp_path / "predictions")
    assert (report.receipts.split, report.receipts.exact) == (1, 2)  # right once merged, but in two parts
    assert report.metrics()["fused_split_receipts"] == 0.5  # of 2 truth shoppers
    # A store would hand shopper 1 two receipts: right only when a shopper's items come on one.
    assert report.metrics()["fused_receipt_accuracy"] == 1.0
    assert report.metrics()["fused_unsplit_receipt_accuracy"] == 0.5
    assert report.receipts.exact_unsplit == 1 and report.carts.exact_unsplit is None  # fused receipts only


def test_unsplit_receipt_counts_add_up_over_recordings():
    from walkout.bench.counts import Counts
    from walkout.bench.receipts import CartScore

    total = CartScore(2, 2, Counts(), 1, 1) + CartScore(3, 2, Counts(), 0, 2)
    assert (total.exact, total.exact_unsplit, total.split) == (4, 3, 1)
    assert total.unsplit_receipt_accuracy == pytest.approx(3 / 5)
    assert (CartScore(2, 1) + CartScore(1, 1)).unsplit_receipt_accuracy is None  # carts from events: not scored


def test_an_empty_receipt_of_a_shopper_no_truth_shopper_matches_is_not_counted_as_a_right_receipt(tmp_path):
    truth = [(1.0, 1, "pick", "a1", 1), (3.0, 2, "pick", "b2", 1)]
    receipts = {"version": 1, "recording": "demo", "unattributed": {"items": {}, "lines": []}, "shoppers": {
        "1": {"items": {"a1": 1}, "lines": [receipt_line(1.0, "a1")]},
        "2": {"items": {"b2": 1}, "lines": [receipt_line(3.0, "b2")]},
        "9": {"items": {}, "lines": []}}}  # a track no truth shopper matches (a passer-by, a shelf), nothing bought
    left = [(f, 1, 10, 10, 50, 100) for f in range(1, 101)]
    right = [(f, 2, 300, 10, 50, 100) for f in range(1, 101)]
    recording, _ = make_recording(tmp_path, "demo", truth, [], receipts=receipts,
                                  truth_tracks=two_shopper_tracks((1, 2), 100), pred_tracks=left + right)
    report = run_bench([recording], tmp_path / "predictions")
    assert (report.receipts.shoppers, report.receipts.exact, report.receipts.exact_unsplit) == (2, 2, 2)
    assert report.metrics()["fused_unsplit_receipt_accuracy"] == 1.0
