"""Tracking metrics through trackers.eval (TUD reference), and predicted-id -> truth-id mapping."""

from __future__ import annotations

import json

import pytest

from walkout.bench.config import BenchConfig
from walkout.bench.counts import Counts
from walkout.bench.inputs import read_mot
from walkout.bench.score import score_recording
from walkout.bench.tracking import (
    map_ids,
    overlap_table,
    prepare_sequence,
    score_sequence,
    score_tracks,
    visible_sequence,
)

from .conftest import make_recording, two_shopper_tracks, write_mot


@pytest.mark.parametrize("sequence", ["TUD-Campus", "TUD-Stadtmitte"])
def test_tud_reference_reproduced(shared_data, sequence):
    folder = shared_data / "mot-tud" / sequence
    expected = json.loads((shared_data / "mot-tud" / "expected.json").read_text())[sequence]
    summary = score_tracks(folder / "gt.txt", folder / "test.txt", BenchConfig()).summary()
    assert round(summary["mota"], 3) == round(expected["MOTA"], 3)
    assert round(summary["idf1"], 3) == round(expected["IDF1"], 3)
    assert round(summary["idp"], 3) == round(expected["IDP"], 3)
    assert round(summary["idr"], 3) == round(expected["IDR"], 3)
    assert (summary["id_switches"], summary["false_pos"], summary["missed"]) == (
        expected["IDSW"],
        expected["FP"],
        expected["FN"],
    )
    assert (summary["mostly_tracked"], summary["partly_tracked"], summary["mostly_lost"]) == (
        expected["MT"],
        expected["PT"],
        expected["ML"],
    )
    assert round(1 - summary["motp"], 3) == round(expected["MOTP_distance"], 3)


def test_perfect_tracks_score_one(tmp_path):
    rows = two_shopper_tracks((1, 2))
    truth = write_mot(tmp_path / "gt.txt", rows)
    pred = write_mot(tmp_path / "pred.txt", [(f, {1: 7, 2: 9}[i], x, y, w, h) for f, i, x, y, w, h in rows])
    summary = score_tracks(truth, pred, BenchConfig()).summary()
    assert (summary["mota"], summary["idf1"], summary["hota"], summary["id_switches"]) == (
        1.0,
        1.0,
        pytest.approx(1.0),
        0,
    )


def test_map_ids_majority_and_fragments(tmp_path):
    truth = write_mot(tmp_path / "gt.txt", two_shopper_tracks((1, 2), frames=10))
    # Track 7 follows shopper 1 for frames 1-6 then jumps to shopper 2 for 7-10 (6 > 4: maps to 1);
    # track 9 follows shopper 2 for 1-6 only; track 11 follows shopper 1 for 7-10 (a fragment of 1).
    pred_rows = [(f, 7, 10, 10, 50, 100) for f in range(1, 7)] + [
        (f, 7, 300, 10, 50, 100) for f in range(7, 11)
    ]
    pred_rows += [(f, 9, 300, 10, 50, 100) for f in range(1, 7)] + [
        (f, 11, 10, 10, 50, 100) for f in range(7, 11)
    ]
    pred = write_mot(tmp_path / "pred.txt", pred_rows)
    sequence = prepare_sequence(read_mot(truth), read_mot(pred))
    assert map_ids(overlap_table(sequence, 0.5)) == {"7": "1", "9": "2", "11": "1"}


def test_shopper_id_permutation_mapped_through_tracks(tmp_path):
    # Predicted track 7 is truth shopper 1, track 9 is shopper 2 (the boxes say so, not the ids).
    truth = [(0.5, 1, "pick", "a", 1), (1.0, 2, "pick", "b", 1), (1.5, 2, "return", "b", 1)]
    pred = [(0.6, 7, "pick", "a", 1), (1.1, 9, "pick", "b", 1), (1.4, 9, "return", "b", 1)]
    recording, predictions = make_recording(
        tmp_path,
        "perm",
        truth,
        pred,
        truth_tracks=two_shopper_tracks((1, 2)),
        pred_tracks=two_shopper_tracks((7, 9)),
    )
    result = score_recording(recording, predictions / "perm", BenchConfig())
    assert result.id_mapping == {"cam0": {"7": "1", "9": "2"}}
    assert result.events.attributed == Counts(3, 0, 0)
    assert (result.carts.shoppers, result.carts.exact) == (2, 2)


def test_swapped_shoppers_are_misattributed(tmp_path):
    truth = [(0.5, 1, "pick", "a", 1), (1.0, 2, "pick", "b", 1)]
    pred = [(0.5, 9, "pick", "a", 1), (1.0, 7, "pick", "b", 1)]  # 9 is shopper 2's track, 7 is shopper 1's
    recording, predictions = make_recording(
        tmp_path,
        "swap",
        truth,
        pred,
        truth_tracks=two_shopper_tracks((1, 2)),
        pred_tracks=two_shopper_tracks((7, 9)),
    )
    result = score_recording(recording, predictions / "swap", BenchConfig())
    assert result.events.product == Counts(2, 0, 0)
    assert result.events.attributed == Counts(0, 2, 2)
    assert result.carts.receipt_accuracy == 0 / 2


def write_mot17_truth(path, rows: list[tuple]):
    """rows: (frame 1-based, id, x, y, w, h, visibility): MOT17 ground truth."""
    path.write_text("".join(f"{f},{i},{x},{y},{w},{h},1,1,{v}\n" for f, i, x, y, w, h, v in rows))
    return path


def test_visibility_is_read_from_mot17_ground_truth_and_absent_elsewhere(tmp_path):
    truth = read_mot(write_mot17_truth(tmp_path / "gt.txt", [(1, 1, 0, 0, 10, 20, 0.25)]))
    predicted = read_mot(write_mot(tmp_path / "pred.txt", [(1, 7, 0, 0, 10, 20)]))  # ...,1,-1,-1,-1
    assert truth["visibility"].tolist() == [0.25]
    assert predicted["visibility"].isna().all()


def test_visible_scores_leave_out_hidden_shoppers_and_the_boxes_found_on_them(tmp_path):
    """Shopper 1 in plain view, shopper 2 mostly hidden (visibility 0.2 < min_visibility 0.5). Missing
    shopper 2 costs the full scores but not the visible ones; finding them is not a false positive."""
    rows = two_shopper_tracks((1, 2))
    truth = read_mot(write_mot17_truth(tmp_path / "gt.txt", [(*r, 1.0 if r[1] == 1 else 0.2) for r in rows]))
    only_one = read_mot(write_mot(tmp_path / "one.txt", [(f, 7, x, y, w, h) for f, i, x, y, w, h in rows if i == 1]))
    both = read_mot(write_mot(tmp_path / "both.txt", [(f, 7 if i == 1 else 9, x, y, w, h) for f, i, x, y, w, h in rows]))
    config = BenchConfig()

    def idf1(sequence):
        return score_sequence(sequence, config).summary()["idf1"]

    assert idf1(prepare_sequence(truth, only_one)) == pytest.approx(2 / 3)
    assert idf1(visible_sequence(truth, only_one, config.min_visibility, config.iou_threshold)) == 1.0
    assert idf1(visible_sequence(truth, both, config.min_visibility, config.iou_threshold)) == 1.0
    # Without the visibility column there is nothing to leave out: no visible scores.
    old_truth = read_mot(write_mot(tmp_path / "old.txt", rows))
    assert visible_sequence(old_truth, both, config.min_visibility, config.iou_threshold) is None


def test_the_report_gives_visible_scores_only_when_every_recording_has_visibility(tmp_path):
    from walkout.bench.report import BenchReport
    from walkout.bench.score import RecordingResult

    rows = two_shopper_tracks((1, 2))
    truth = read_mot(write_mot17_truth(tmp_path / "gt.txt", [(*r, 1.0 if r[1] == 1 else 0.2) for r in rows]))
    predicted = read_mot(write_mot(tmp_path / "p.txt", [(f, 7, x, y, w, h) for f, i, x, y, w, h in rows if i == 1]))
    config = BenchConfig()
    full = score_sequence(prepare_sequence(truth, predicted), config)
    visible = score_sequence(visible_sequence(truth, predicted, config.min_visibility, config.iou_threshold), config)
    with_visibility = RecordingResult(name="a", tracking={"cam0": full}, visible_tracking={"cam0": visible})
    without = RecordingResult(name="b", tracking={"cam0": full})
    assert BenchReport([with_visibility], config).metrics()["visible_idf1"] == 1.0
    assert "visible_idf1" not in BenchReport([with_visibility, without], config).metrics()


def test_the_tracking_table_says_how_much_of_each_cameras_truth_was_visible_and_scores_those_boxes(tmp_path):
    from walkout.bench.report import BenchReport, to_markdown
    from walkout.bench.score import RecordingResult

    rows = two_shopper_tracks((1, 2))  # shopper 2 mostly hidden (0.2) in every frame shopper 1 is seen
    truth = read_mot(write_mot17_truth(tmp_path / "gt.txt", [(*r, 1.0 if r[1] == 1 else 0.2) for r in rows]))
    predicted = read_mot(write_mot(tmp_path / "p.txt", [(f, 7, x, y, w, h) for f, i, x, y, w, h in rows if i == 1]))
    config = BenchConfig()
    full = score_sequence(prepare_sequence(truth, predicted), config)
    visible = score_sequence(visible_sequence(truth, predicted, config.min_visibility, config.iou_threshold), config)
    shown = sum(1 for r in rows if r[1] == 1) / len(rows)
    markdown = to_markdown(BenchReport([RecordingResult(name="a", tracking={"cam0": full}, visible_tracking={"cam0": visible}),
                                        RecordingResult(name="b", tracking={"cam0": full})], config))
    table = markdown[markdown.index("## Tracking"):markdown.index("### Detection and identity")]
    assert "| truth boxes visible | IDF1 of visible boxes |" in table
    assert f"| {shown:.3f} | 1.000 |" in table.split("| a | cam0 |")[1].split("\n")[0]
    assert table.split("| b | cam0 |")[1].split("\n")[0].endswith("| – | – |")  # no visibility in its truth


def test_the_report_says_how_many_shopper_boxes_the_detector_found_in_plain_view_and_in_all(tmp_path):
    """Shopper 1 in plain view and found; shopper 2 mostly hidden and missed; one box on nobody."""
    from walkout.bench.report import BenchReport
    from walkout.bench.score import RecordingResult

    rows = two_shopper_tracks((1, 2))
    truth = read_mot(write_mot17_truth(tmp_path / "gt.txt", [(*r, 1.0 if r[1] == 1 else 0.2) for r in rows]))
    found = [(f, 7, x, y, w, h) for f, i, x, y, w, h in rows if i == 1]
    stray = [(found[0][0], 8, 1000.0, 1000.0, 10.0, 20.0)]
    predicted = read_mot(write_mot(tmp_path / "p.txt", found + stray))
    config = BenchConfig()
    full = score_sequence(prepare_sequence(truth, predicted), config)
    visible = score_sequence(visible_sequence(truth, predicted, config.min_visibility, config.iou_threshold), config)
    metrics = BenchReport([RecordingResult(name="a", tracking={"cam0": full}, visible_tracking={"cam0": visible})],
                          config).metrics()
    shopper_1 = sum(1 for r in rows if r[1] == 1)
    assert metrics["detection_recall"] == pytest.approx(shopper_1 / len(rows))
    assert metrics["detection_precision"] == pytest.approx(shopper_1 / (shopper_1 + 1))
    assert metrics["visible_detection_recall"] == 1.0
    assert "visible_detection_precision" not in metrics
