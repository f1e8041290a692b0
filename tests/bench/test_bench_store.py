"""Identity across cameras: every camera pooled under store-level ids, and floor positions scored
within a radius (WILDTRACK's ground-plane scoring).

Two cameras each see truth shopper 1 in frames 1-20 (camera 0 with box x = 10, camera 1 with x = 100);
the prediction boxes equal the truth boxes, with the camera's own track id 1 in both.
"""

from __future__ import annotations

import pandas as pd
import pytest

from walkout.bench.config import BenchConfig
from walkout.bench.tracking import floor_sequence, pooled_sequence, score_floor, score_sequence, visible_rows

FRAMES = range(1, 21)


def mot(x: float, track: int = 1) -> pd.DataFrame:
    return pd.DataFrame({"frame": list(FRAMES), "id": track, "x": x, "y": 20.0, "w": 30.0, "h": 60.0, "conf": 1.0})


def cameras() -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    return {"cam0": (mot(10.0), mot(10.0)), "cam1": (mot(100.0), mot(100.0))}


def test_one_store_level_shopper_across_both_cameras_scores_one():
    sequence = pooled_sequence(cameras(), {"cam0": {"1": "7"}, "cam1": {"1": "7"}})
    summary = score_sequence(sequence, BenchConfig()).summary()
    assert summary["idf1"] == pytest.approx(1.0) and summary["hota"] == pytest.approx(1.0)


def test_one_person_split_into_two_shoppers_across_cameras_loses_half_the_identity():
    sequence = pooled_sequence(cameras(), {"cam0": {"1": "7"}, "cam1": {"1": "8"}})
    summary = score_sequence(sequence, BenchConfig()).summary()
    assert summary["mota"] == pytest.approx(1 - 1 / 40)  # every box found, one id switch between cameras
    assert summary["idf1"] == pytest.approx(0.5)  # and only one camera's half under the right id


def test_global_visible_scores_leave_out_the_frames_where_a_camera_cannot_see_the_shopper():
    """Camera 1 sees shopper 1 only in frames 1-10 (visibility 1.0); in frames 11-20 a shelf hides them
    (visibility 0.1) and camera 1 finds nothing. The pooled score counts the hidden frames as missed; the
    visible one leaves them out, and finding a hidden shopper is no false positive either."""
    config = BenchConfig()
    truth1 = mot(100.0).assign(visibility=[1.0] * 10 + [0.1] * 10)
    seen = {"cam0": (mot(10.0).assign(visibility=1.0), mot(10.0)), "cam1": (truth1, mot(100.0).iloc[:10])}
    ids = {"cam0": {"1": "7"}, "cam1": {"1": "7"}}
    assert score_sequence(pooled_sequence(seen, ids), config).summary()["idf1"] == pytest.approx(30 / 35)

    def visible(tables):
        return {camera: visible_rows(*pair, config.min_visibility, config.iou_threshold) for camera, pair in tables.items()}

    assert score_sequence(pooled_sequence(visible(seen), ids), config).summary()["idf1"] == pytest.approx(1.0)
    found_hidden = {**seen, "cam1": (truth1, mot(100.0))}
    assert score_sequence(pooled_sequence(visible(found_hidden), ids), config).summary()["idf1"] == pytest.approx(1.0)
    # A shopper split across cameras still loses identity among the visible boxes.
    split = {"cam0": {"1": "7"}, "cam1": {"1": "8"}}
    assert score_sequence(pooled_sequence(visible(seen), split), config).summary()["idf1"] == pytest.approx(20 / 30)
    # A camera that sees nobody has nothing hidden; truth without visibility gives no visible rows.
    empty = mot(10.0).iloc[:0].assign(visibility=[])
    assert visible_rows(empty, mot(10.0), config.min_visibility, config.iou_threshold) is not None
    assert visible_rows(mot(10.0).assign(visibility=float("nan")), mot(10.0), config.min_visibility,
                        config.iou_threshold) is None


def positions(x_offset: float, shopper: str = "1") -> pd.DataFrame:
    return pd.DataFrame({"timestamp": [1.7e9 + f / 10 for f in range(10)], "shopper": shopper,
                         "x": [1.0 + 0.1 * f + x_offset for f in range(10)], "y": 2.0})


@pytest.mark.parametrize(("offset_m", "idf1"), [(0.0, 1.0), (0.3, 1.0), (0.8, 0.0)])
def test_floor_positions_match_within_the_radius(offset_m, idf1):
    sequence = floor_sequence(positions(0.0), positions(offset_m, shopper="s1"), 0.1, radius_m=0.5)
    summary = score_floor(sequence).summary()
    assert summary["idf1"] == pytest.approx(idf1)
    assert "hota" not in summary


def test_the_report_gives_global_visible_scores_only_when_every_store_recording_has_them():
    from walkout.bench.report import BenchReport
    from walkout.bench.score import RecordingResult

    config = BenchConfig()
    score = score_sequence(pooled_sequence(cameras(), {"cam0": {"1": "7"}, "cam1": {"1": "7"}}), config)
    with_visibility = RecordingResult(name="a", global_tracking=score, global_visible_tracking=score)
    without = RecordingResult(name="b", global_tracking=score)
    one_camera = RecordingResult(name="c")
    assert BenchReport([with_visibility, one_camera], config).metrics()["global_visible_idf1"] == pytest.approx(1.0)
    metrics = BenchReport([with_visibility, without], config).metrics()
    assert "global_visible_idf1" not in metrics and "global_idf1" in metrics


def test_report_md_lists_the_pooled_identity_figures_with_their_meaning():
    from walkout.bench.report import BenchReport, to_markdown
    from walkout.bench.score import RecordingResult

    config = BenchConfig()
    split = score_sequence(pooled_sequence(cameras(), {"cam0": {"1": "7"}, "cam1": {"1": "8"}}), config)
    markdown = to_markdown(BenchReport([RecordingResult(name="a", global_tracking=split,
                                                        global_visible_tracking=split)], config))
    section = markdown[markdown.index("### Detection and identity, pooled"):markdown.index("## Speed")]
    assert "| `global_idf1` | 0.500 | tracking IDF1 with every camera pooled under store-level shopper ids |" in section
    assert "| `global_visible_idf1` | 0.500 |" in section
    assert "floor_idf1" not in section  # not measured: not listed
    assert "### Identity" not in to_markdown(BenchReport([RecordingResult(name="b")], config))


def overlaps(*rows: tuple[str, str, int]) -> pd.DataFrame:
    """An overlap table (walkout.bench.tracking.overlap_table): (camera track, truth shopper, frames)."""
    return pd.DataFrame(rows, columns=["pred_id", "truth_id", "frames"])


def test_identity_loss_of_a_clean_store_run_is_nothing():
    from walkout.bench.tracking import identity_loss

    loss = identity_loss({"cam0": overlaps(("1", "A", 20), ("2", "B", 10)), "cam1": overlaps(("1", "A", 15))},
                         {"cam0": {"1": "7", "2": "8"}, "cam1": {"1": "7"}})
    assert (loss.matched, loss.switched, loss.wrong_join, loss.split_join) == (45, 0, 0, 0)


def test_identity_loss_tells_the_cameras_tracker_from_the_join_across_cameras():
    """cam0 track 1 follows A for 20 frames, then B for 5 (a swap: 5 switched). cam1 track 1 is B (10
    frames) but joined into store shopper 7, which is mostly A (10 wrong-join). cam1 track 2 is A
    (8 frames) on a store shopper of its own, 9: A is split between 7 and 9 (8 split-join)."""
    from walkout.bench.tracking import IdentityLoss, identity_loss

    loss = identity_loss({"cam0": overlaps(("1", "A", 20), ("1", "B", 5)),
                          "cam1": overlaps(("1", "B", 10), ("2", "A", 8))},
                         {"cam0": {"1": "7"}, "cam1": {"1": "7", "2": "9"}})
    assert loss == IdentityLoss(matched=43, switched=5, wrong_join=10, split_join=8)
    assert loss.share("switched") == pytest.approx(5 / 43)
    # A track run.json does not name is a shopper of its own (<camera>-<track>), as the bench pools it.
    unnamed = identity_loss({"cam0": overlaps(("1", "A", 20)), "cam1": overlaps(("3", "A", 5))}, {"cam0": {"1": "7"}})
    assert unnamed.split_join == 5


def test_the_report_pools_the_identity_loss_into_shares_of_matched_boxes():
    from walkout.bench.report import BenchReport, to_markdown
    from walkout.bench.score import RecordingResult
    from walkout.bench.tracking import IdentityLoss

    config = BenchConfig()
    report = BenchReport([RecordingResult(name="a", identity_loss=IdentityLoss(40, 4, 2, 0)),
                          RecordingResult(name="b", identity_loss=IdentityLoss(60, 6, 0, 3)),
                          RecordingResult(name="one camera")], config)
    metrics = report.metrics()
    assert metrics["identity_switched"] == pytest.approx(10 / 100)
    assert metrics["identity_wrong_join"] == pytest.approx(2 / 100)
    assert metrics["identity_split_join"] == pytest.approx(3 / 100)
    assert "| `identity_switched` | 0.100 | store runs: matched boxes of a camera track" in to_markdown(report)
    assert "identity_switched" not in BenchReport([RecordingResult(name="one camera")], config).metrics()
