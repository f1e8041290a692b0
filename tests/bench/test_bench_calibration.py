"""The attribution probability on receipt lines: reliability bins, expected calibration error, the
review curve, and fusion's own review status, pooled line by line over a bench run."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from formats.errors import FormatError
from walkout.bench import BenchConfig, BenchReport, RecordingResult, run_bench, score_recording
from walkout.bench.calibration import (
    LineOutcome,
    budget_accuracy,
    calibrate,
    expected_calibration_error,
    reliability,
    review_curve,
)
from walkout.bench.plots import PLOT_FILES, calibration_figure
from walkout.bench.receipts import receipt_events

from .conftest import T0, make_recording, two_shopper_tracks

# (probability, right shopper?) of nine lines; bins: 0.2 | 0.6, 0.65 | 0.85 | 0.95 x4, 1.0.
LINES = [(0.2, False), (0.6, True), (0.65, False), (0.85, False),
         (0.95, True), (0.95, True), (0.95, True), (0.95, False), (1.0, True)]
PROBABILITY = np.array([p for p, _ in LINES])
CORRECT = np.array([c for _, c in LINES])


def test_reliability_bins_are_equal_width_lower_edge_in_and_one_in_the_last():
    bins = reliability(PROBABILITY, CORRECT)
    assert [(b.low, b.high) for b in bins] == [(k / 10, (k + 1) / 10) for k in range(10)]
    assert [b.lines for b in bins] == [0, 0, 1, 0, 0, 0, 2, 0, 1, 5]  # 0.6 in [0.6, 0.7), 1.0 in the last
    filled = {k: (b.confidence, b.accuracy) for k, b in enumerate(bins) if b.lines}
    assert filled == {2: (0.2, 0.0), 6: (pytest.approx(0.625), 0.5), 8: (0.85, 0.0),
                      9: (pytest.approx((4 * 0.95 + 1.0) / 5), 0.8)}
    assert all(math.isnan(b.confidence) and math.isnan(b.accuracy) for b in bins if not b.lines)


def test_expected_calibration_error_weights_each_bin_by_its_lines():
    # (1 * |0 - 0.2| + 2 * |0.5 - 0.625| + 1 * |0 - 0.85| + 5 * |0.8 - 0.96|) / 9
    assert expected_calibration_error(reliability(PROBABILITY, CORRECT)) == pytest.approx(2.1 / 9)
    perfect = reliability(np.array([0.75, 0.75, 0.75, 0.75]), np.array([True, True, True, False]))
    assert expected_calibration_error(perfect) == pytest.approx(0.0)
    assert math.isnan(expected_calibration_error(reliability(np.array([]), np.array([], dtype=bool))))


def test_review_curve_sends_lines_below_the_threshold_to_review():
    curve = review_curve(PROBABILITY, CORRECT)
    assert [p.threshold for p in curve] == [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    assert [p.review_rate for p in curve] == pytest.approx([1 / 9, 1 / 9, 3 / 9, 3 / 9, 4 / 9, 4 / 9])
    # 0.6 is not below 0.6 and 0.95 not below 0.95: they stay out of review.
    assert [p.unreviewed_accuracy for p in curve] == pytest.approx([5 / 8, 5 / 8, 4 / 6, 4 / 6, 4 / 5, 4 / 5])
    (nothing, everything) = review_curve(PROBABILITY, CORRECT, thresholds=(0.1, 1.5))
    assert (nothing.review_rate, nothing.unreviewed_accuracy) == (0.0, pytest.approx(5 / 9))
    assert everything.review_rate == 1.0 and math.isnan(everything.unreviewed_accuracy)  # nothing left


def test_a_fixed_review_budget_sets_aside_the_least_probable_lines_whatever_fusion_reviewed():
    # 9 lines: a 5 % budget reviews none (rounded down); a third of them, the three least probable.
    assert budget_accuracy(PROBABILITY, CORRECT) == pytest.approx(5 / 9)
    assert budget_accuracy(PROBABILITY, CORRECT, budget=1 / 3) == pytest.approx(4 / 6)  # 0.2, 0.6, 0.65 reviewed
    twenty = np.r_[np.full(19, 0.9), 0.1]  # 20 lines: 5 % is one, the 0.1 line (wrong)
    right = np.r_[np.ones(19, dtype=bool), False]
    assert budget_accuracy(twenty, right) == 1.0
    ties = np.full(20, 0.5)  # all alike: the first line goes (the lines' order)
    assert budget_accuracy(ties, np.r_[False, np.ones(19, dtype=bool)]) == 1.0
    assert math.isnan(budget_accuracy(np.array([]), np.array([], dtype=bool)))
    calibration = calibrate([LineOutcome(p, c, False) for p, c in zip(twenty, right, strict=True)])
    assert calibration.budget_accuracy == 1.0 and calibration.unreviewed_accuracy == pytest.approx(19 / 20)
    metrics = BenchReport([RecordingResult("r", line_outcomes=[LineOutcome(p, c, False) for p, c in
                                                              zip(twenty, right, strict=True)])], BenchConfig()).metrics()
    assert metrics["budget_unreviewed_accuracy"] == 1.0


def test_calibrate_uses_fusions_own_review_status_for_the_run_figures():
    reviewed = {0, 3}  # fusion sent the 0.2 and the 0.85 line to review
    outcomes = [LineOutcome(p, c, i in reviewed) for i, (p, c) in enumerate(LINES)]
    calibration = calibrate(outcomes)
    assert calibration.lines == 9
    assert calibration.review_rate == pytest.approx(2 / 9)
    assert calibration.unreviewed_accuracy == pytest.approx(5 / 7)
    assert calibration.ece == pytest.approx(2.1 / 9)
    assert calibrate([]) is None


def test_pooled_over_lines_not_averaged_over_recordings():
    one = RecordingResult("one", line_outcomes=[LineOutcome(0.9, True, False)])
    three = RecordingResult("three", line_outcomes=[LineOutcome(0.9, c, False) for c in (True, False, False)])
    metrics = BenchReport([one, three], BenchConfig()).metrics()
    assert metrics["unreviewed_accuracy"] == pytest.approx(2 / 4)  # not (1 + 1/3) / 2
    assert metrics["ece"] == pytest.approx(0.9 - 0.5)  # not (0.1 + (0.9 - 1/3)) / 2
    assert metrics["review_rate"] == 0.0


def test_undefined_figures_are_left_out_of_the_metrics():
    all_reviewed = RecordingResult("r", line_outcomes=[LineOutcome(0.3, True, True)])
    metrics = BenchReport([all_reviewed], BenchConfig()).metrics()
    assert metrics["review_rate"] == 1.0 and metrics["ece"] == pytest.approx(0.7)
    assert "unreviewed_accuracy" not in metrics


def line(t_s, sku, probability=None, status="confirmed", quantity=1, counted=True):
    payload = {"status": status, "sku": sku, "quantity": quantity, "action": "pick", "timestamp": T0 + t_s,
               "shelf": "S1", "plates": [1], "counted": counted, "reason": ""}
    return payload if probability is None else {**payload, "probability": probability, "evidence": [],
                                                "look_at": [["cam0", 10, 20]]}


TRUTH = [(1.0, 1, "pick", "a", 1), (3.0, 2, "pick", "b", 1), (5.0, 1, "pick", "c", 2)]
TRACKS = {"truth_tracks": two_shopper_tracks((1, 2), 100), "pred_tracks": two_shopper_tracks((7, 9), 100)}


def receipts_with_probabilities() -> dict:
    """Track 7 is shopper 1, track 9 shopper 2."""
    return {"version": 1, "recording": "demo", "shoppers": {
        "7": {"items": {}, "lines": [
            line(1.1, "a", 0.9),  # right
            line(3.0, "b", 0.55, status="review"),  # b was shopper 2's: wrong shopper, sent to review
            line(5.0, "c", 0.7, quantity=1),  # right shopper, wrong quantity: still right (who, not how many)
            line(6.0, "d", 0.3, counted=False),  # a false pick: not counted, not scored
        ]},
        "9": {"items": {}, "lines": [line(8.0, "e", 0.8), line(9.0, "a")]},  # e: no such event; a: no probability
    }, "unattributed": {"items": {}, "lines": [line(4.0, "f")]}}


def test_score_recording_pairs_each_line_probability_with_its_correctness(tmp_path):
    recording, predictions = make_recording(tmp_path, "demo", TRUTH, None, receipts=receipts_with_probabilities(),
                                            **TRACKS)
    result = score_recording(recording, predictions / "demo", BenchConfig())
    assert result.id_mapping == {"cam0": {"7": "1", "9": "2"}}
    assert result.line_outcomes == [
        LineOutcome(0.9, True, False),
        LineOutcome(0.55, False, True),
        LineOutcome(0.7, True, False),
        LineOutcome(0.8, False, False),
    ]
    metrics = BenchReport([result], BenchConfig()).metrics()
    assert metrics["review_rate"] == pytest.approx(1 / 4)
    assert metrics["unreviewed_accuracy"] == pytest.approx(2 / 3)
    assert metrics["ece"] == pytest.approx((0.55 + 0.3 + 0.8 + 0.1) / 4)  # four bins of one line each


def test_report_has_the_section_tables_and_plot(tmp_path):
    recording, predictions = make_recording(tmp_path, "demo", TRUTH, None, receipts=receipts_with_probabilities(),
                                            **TRACKS)
    out = tmp_path / "report"
    report = run_bench([recording], predictions, out)
    markdown = (out / "report.md").read_text()
    section = markdown[markdown.index("## Attribution probability"):markdown.index("## Tracking")]
    assert "4 counted receipt lines with a probability" in section
    assert "| 0.5–0.6 | 1 | 0.550 | 0.000 |" in section and "| 0.0–0.1 | 0 | – | – |" in section
    assert "Expected calibration error (ECE): 0.438." in section
    assert "| 0.5 | 0.000 | 0.500 |" in section  # nothing below 0.5; 2 of the 4 right
    assert "| 0.95 | 1.000 | – |" in section  # every line in review: no accuracy
    assert "| fusion's own *review* status | 0.250 | 0.667 |" in section
    (link,) = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", section)
    assert link == PLOT_FILES["calibration"]
    assert (out / link).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    overall = json.loads((out / "report.json").read_text())["overall"]["calibration"]
    assert overall["lines"] == 4 and overall["curve"][-1]["unreviewed_accuracy"] is None

    fig = calibration_figure(report)
    (curve,) = [a for ax in fig.axes for a in ax.findobj() if a.get_gid() == "review_curve"]
    assert list(curve.get_xdata()) == pytest.approx([0.0, 0.25, 0.25, 0.5, 0.75, 1.0])
    bars = [a for ax in fig.axes for a in ax.findobj() if a.get_gid() == "reliability_bar"]
    assert sorted((round(b.get_x(), 1), b.get_height()) for b in bars) == [(0.5, 0.0), (0.7, 1.0), (0.8, 0.0),
                                                                          (0.9, 1.0)]


def test_old_receipts_without_probabilities_score_as_before_with_no_calibration(tmp_path):
    old = {"version": 1, "recording": "demo", "shoppers": {
        "7": {"items": {"a": 1}, "lines": [line(1.0, "a")]}, "9": {"items": {"b": 1}, "lines": [line(3.0, "b")]}}}
    recording, predictions = make_recording(tmp_path, "demo", TRUTH, None, receipts=old, **TRACKS)
    fused = receipt_events(predictions / "demo" / "receipts.json")
    assert fused["probability"].isna().all() and list(fused["status"]) == ["confirmed", "confirmed"]
    out = tmp_path / "report"
    report = run_bench([recording], predictions, out)
    (result,) = report.scored
    assert result.line_outcomes == [] and report.calibration is None
    assert (result.fused_events.attributed.matched, result.fused_events.attributed.missed) == (2, 1)
    metrics = report.metrics()
    assert not {"review_rate", "unreviewed_accuracy", "ece"} & set(metrics)
    assert metrics["fused_attributed_recall"] == pytest.approx(2 / 3)
    markdown = (out / "report.md").read_text()
    section = markdown[markdown.index("## Attribution probability"):markdown.index("## Tracking")]
    assert section.strip().splitlines()[1:] == ["", "No receipt line has an attribution probability: not scored."]
    assert not (out / PLOT_FILES["calibration"]).exists()
    assert json.loads((out / "report.json").read_text())["overall"]["calibration"] is None


@pytest.mark.parametrize("probability", [1.2, -0.1, "high"])
def test_a_probability_outside_0_1_is_refused_naming_the_file(tmp_path, probability):
    path = tmp_path / "receipts.json"
    path.write_text(json.dumps({"version": 1, "shoppers": {"1": {"items": {}, "lines": [line(1.0, "a", probability)]}}}))
    with pytest.raises(FormatError, match="receipts.json.*malformed receipt line of shopper 1.*probability"):
        receipt_events(path)
