"""Two runs of the same recordings compared by a paired bootstrap over recordings
(walkout.bench.compare).

Each hand-made recording result holds fused events (10 truth events) and receipts (2 shoppers)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from walkout.bench.compare import difference_table, paired_bootstrap
from walkout.bench.counts import Counts
from walkout.bench.events import EventScore
from walkout.bench.receipts import CartScore
from walkout.bench.score import RecordingResult

from .conftest import T0, make_recording, two_shopper_tracks

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import compare  # noqa: E402  (benchmarks/ is not a package)


def result(name: str, right: int, exact: int, split: int = 0) -> RecordingResult:
    """``right`` of 10 truth events on the right shopper's line (the others on the wrong one); ``exact``
    of 2 shoppers with an exact receipt, ``split`` of them on two receipts."""
    attributed = Counts(matched=right, false_pos=10 - right, missed=10 - right)
    return RecordingResult(name=name, fused_events=EventScore(Counts(10, 0, 0), attributed),
                           receipts=CartScore(2, exact, Counts(), split, exact))


def test_the_same_run_twice_differs_by_nothing():
    run = [result(f"seed{k}", 8, 1) for k in range(6)]
    for d in paired_bootstrap(run, run, samples=200):
        assert d.difference == 0 and d.low == 0 and d.high == 0 and d.b_better == 0


def test_a_run_better_on_every_recording_is_better_in_every_draw():
    a = [result(f"seed{k}", 6, 1) for k in range(8)]
    b = [result(f"seed{k}", 9, 2) for k in range(8)]
    by_metric = {d.metric: d for d in paired_bootstrap(a, b, samples=300)}
    f1 = by_metric["fused_attributed_f1"]
    assert (f1.a, f1.b) == (pytest.approx(0.6), pytest.approx(0.9))
    assert f1.low > 0 and f1.b_better == 1.0 and f1.recordings == 8
    assert by_metric["fused_receipt_accuracy"].difference == pytest.approx(0.5)


def test_one_lucky_recording_leaves_an_interval_that_holds_zero():
    """b wins only on one of eight recordings: the pooled difference is positive, but draws without that
    recording show none, so the interval starts at 0 and b is better in only part of the draws."""
    a = [result(f"seed{k}", 6, 1) for k in range(8)]
    b = [result("seed0", 10, 2), *a[1:]]
    f1 = next(d for d in paired_bootstrap(a, b, samples=500) if d.metric == "fused_attributed_f1")
    assert f1.difference > 0 and f1.low == 0 and 0.4 < f1.b_better < 0.9


def test_fewer_split_receipts_count_as_better():
    a = [result(f"seed{k}", 8, 1, split=1) for k in range(4)]
    b = [result(f"seed{k}", 8, 1, split=0) for k in range(4)]
    split = next(d for d in paired_bootstrap(a, b, samples=100) if d.metric == "fused_split_receipts")
    assert split.difference == pytest.approx(-0.5) and split.b_better == 1.0


def test_recordings_are_paired_by_name_and_failures_left_out():
    a = [result("seed1", 6, 1), result("seed2", 6, 1), RecordingResult(name="seed3", error="bad")]
    b = [result("seed2", 9, 2), result("seed3", 9, 2), result("seed4", 9, 2)]
    assert {d.recordings for d in paired_bootstrap(a, b, samples=50)} == {1}  # only seed2 is in both
    with pytest.raises(ValueError, match="no scored recording"):
        paired_bootstrap([result("seed1", 6, 1)], [result("seed9", 6, 1)])
    with pytest.raises(ValueError, match="level"):
        paired_bootstrap(a, b, level=1.0)


def test_the_table_says_both_runs_the_difference_and_its_interval():
    a = [result(f"seed{k}", 6, 1) for k in range(4)]
    b = [result(f"seed{k}", 9, 2) for k in range(4)]
    lines = difference_table(paired_bootstrap(a, b, ["fused_attributed_f1"], samples=50), "base", "new")
    assert lines[0] == "| metric | base | new | new - base | 90% interval | new better in |"
    assert lines[2] == "| fused_attributed_f1 | 0.600 | 0.900 | +0.300 | +0.300 to +0.300 | 100% of draws |"


def test_the_script_scores_both_runs_of_each_recording_and_prints_the_comparison(tmp_path, capsys):
    """benchmarks/compare.py on an accuracy.py OUT folder whose two-shopper recordings were run twice:
    "worse" gives shopper 2's item to shopper 1 in one recording of three."""

    def receipts(name: str, wrong: bool) -> dict:
        def line(t_s: float, sku: str) -> dict:
            return {"status": "confirmed", "sku": sku, "quantity": 1, "action": "pick", "timestamp": T0 + t_s,
                    "shelf": "A1", "plates": [1], "counted": True, "reason": ""}
        first = [line(1.0, "a1"), *([line(3.0, "b2")] if wrong else [])]
        second = [] if wrong else [line(3.0, "b2")]
        return {"version": 1, "recording": name, "unattributed": {"items": {}, "lines": []}, "shoppers": {
            "1": {"items": {line["sku"]: 1 for line in first}, "lines": first},
            "2": {"items": {line["sku"]: 1 for line in second}, "lines": second}}}

    group = tmp_path / "acc" / "two"
    tracks = two_shopper_tracks((1, 2), 50)
    for k in range(3):
        name = f"seed{k}"
        make_recording(group, name, [(1.0, 1, "pick", "a1", 1), (3.0, 2, "pick", "b2", 1)], None,
                       truth_tracks=tracks, pred_tracks=tracks, receipts=receipts(name, wrong=False))
        worse = group / "worse" / name
        (worse / "tracks").mkdir(parents=True)
        (worse / "tracks" / "cam0.txt").write_text((group / "predictions" / name / "tracks" / "cam0.txt").read_text())
        (worse / "receipts.json").write_text(json.dumps(receipts(name, wrong=k == 0)))
    compare.main([str(tmp_path / "acc"), "--a", "predictions", "--b", "worse", "--groups", "two", "--samples", "40"])
    out = capsys.readouterr().out
    assert "two (3 recordings, 40 draws)" in out
    assert "| fused_receipt_accuracy | 1.000 | 0.667 | -0.333 |" in out
