"""Shopper tracking: confirmed tracks come back with ids from 1, the first track included; by default a
box's colours take part in which track it continues."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from vision.tracking import ShopperTracker, TrackingConfig


def boxes(*xyxy) -> sv.Detections:
    """Confident shopper boxes, all in one colour (the default tracker weighs colours too)."""
    return sv.Detections(xyxy=np.asarray(xyxy, dtype=float), confidence=np.full(len(xyxy), 0.9),
                         class_id=np.zeros(len(xyxy), dtype=int), data={"look": np.full((len(xyxy), 64), 1 / 64)})


def test_first_shopper_is_tracked_with_id_1_once_confirmed():
    tracker = ShopperTracker(TrackingConfig(minimum_consecutive_s=0.2), fps=10.0)
    ids = [tracker.update(boxes([100, 100, 160, 220] + np.r_[i, 0, i, 0])).tracker_id.tolist() for i in range(4)]
    assert ids == [[], [1], [1], [1]]


def test_two_shoppers_get_ids_1_and_2_and_no_frame_is_empty_detections():
    tracker = ShopperTracker(TrackingConfig(minimum_consecutive_s=0.2), fps=10.0)
    tracker.update(boxes([0, 0, 50, 100], [300, 0, 350, 100]))
    assert sorted(tracker.update(boxes([0, 0, 50, 100], [300, 0, 350, 100])).tracker_id.tolist()) == [1, 2]
    assert len(tracker.update(sv.Detections.empty())) == 0


def test_ocsort_tracks_too_and_an_unknown_method_is_refused():
    tracker = ShopperTracker(TrackingConfig(method="ocsort", minimum_consecutive_s=0.2), fps=10.0)
    ids = [tracker.update(boxes([100, 100, 160, 220] + np.r_[i, 0, i, 0])).tracker_id.tolist() for i in range(4)]
    assert ids[-1] == [1] and ids[0] == []
    with pytest.raises(ValueError, match="unknown tracking method 'sort'"):
        TrackingConfig(method="sort")


def test_a_config_file_naming_an_unknown_tracker_is_refused_naming_the_file(tmp_path):
    from formats.errors import FormatError
    from walkout.config import load_config

    path = tmp_path / "walkout.toml"
    path.write_text('[tracking]\nmethod = "sort"\n')
    with pytest.raises(FormatError, match="walkout.toml.*unknown tracking method"):
        load_config(path)
    path.write_text('[tracking]\nmethod = "ocsort"\n')
    assert load_config(path).tracking.method == "ocsort"


def test_cbiou_keeps_a_shopper_whose_box_overlaps_its_last_one_less_than_bytetrack_needs():
    # 60 px wide, 55 px further each frame: boxes of consecutive frames overlap by IoU 0.04 (< 0.1).
    def walk(method: str) -> list[list[int]]:
        tracker = ShopperTracker(TrackingConfig(method=method, minimum_consecutive_s=0.2), fps=10.0)
        return [tracker.update(boxes([100 + 55 * i, 100, 160 + 55 * i, 220])).tracker_id.tolist() for i in range(6)]

    assert walk("bytetrack") == [[]] * 6  # a new, never confirmed track every frame
    assert walk("cbiou") == [[1]] * 6  # one shopper throughout (its buffered boxes overlap)


def _colour(bin_index: int) -> np.ndarray:
    look = np.zeros(64)  # vision.reid.describe's 16 x 4 hue-saturation histogram
    look[bin_index] = 1.0
    return look


RED, BLUE = _colour(0), _colour(40)


def looked(detections: sv.Detections, *looks: np.ndarray) -> sv.Detections:
    detections.data["look"] = np.stack(looks)
    return detections


def test_colour_aware_tracking_follows_the_colours_not_the_box_that_overlaps_most():
    def track_1_at(look_weight: float) -> float:
        tracker = ShopperTracker(TrackingConfig(look_weight=look_weight, look_gate=1.0, minimum_consecutive_s=0.2),
                                 fps=10.0)
        for _ in range(3):
            tracker.update(looked(boxes([100, 100, 160, 220]), RED))
        # The red shopper moved 20 px (IoU 0.5 with the track); a blue one stands where the track was (IoU 1).
        tracked = tracker.update(looked(boxes([100, 100, 160, 220], [120, 100, 180, 220]), BLUE, RED))
        return float(tracked.xyxy[tracked.tracker_id == 1][0, 0])

    assert track_1_at(0.0) == 100  # by overlap alone: onto the blue shopper
    assert track_1_at(1.0) == 120  # with colours: stays on the red one


def test_colour_gate_refuses_a_box_of_other_colours_even_where_the_track_was():
    def ids_after_blue_box(look_gate: float) -> list[int]:
        tracker = ShopperTracker(TrackingConfig(look_weight=0.0, look_gate=look_gate, minimum_consecutive_s=0.2),
                                 fps=10.0)
        for _ in range(3):
            tracker.update(looked(boxes([100, 100, 160, 220]), RED))
        return tracker.update(looked(boxes([100, 100, 160, 220]), BLUE)).tracker_id.tolist()

    assert ids_after_blue_box(1.0) == [1]
    assert ids_after_blue_box(0.7) == []  # a new, not yet confirmed track: not the red shopper's


def test_colours_are_used_by_default_by_bytetrack_alone_and_their_settings_are_checked():
    assert TrackingConfig().uses_looks
    assert not TrackingConfig(look_weight=0.0, look_gate=1.0).uses_looks
    assert not TrackingConfig(method="ocsort").uses_looks and not TrackingConfig(method="cbiou").uses_looks
    with pytest.raises(ValueError, match="look_gate must be in"):
        TrackingConfig(look_gate=0.0)
    with pytest.raises(ValueError, match="look_weight must be >= 0"):
        TrackingConfig(look_weight=-1.0)
    tracker = ShopperTracker(TrackingConfig(), fps=10.0)
    no_colours = sv.Detections(xyxy=np.array([[100.0, 100, 160, 220]]), confidence=np.array([0.9]),
                               class_id=np.zeros(1, dtype=int))
    with pytest.raises(ValueError, match="needs each box's colours"):
        tracker.update(no_colours)
    assert len(tracker.update(sv.Detections.empty())) == 0


def embedded(detections: sv.Detections, *vectors) -> sv.Detections:
    detections.data["embedding"] = np.array(vectors, dtype=float)
    return detections


def test_reid_gate_refuses_a_clear_box_of_another_person_in_the_same_colours():
    # Two people in red: the colours cannot tell them apart, their learnt embeddings can.
    me, other = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]

    def ids_after_other_person(reid_gate: float, *, clear: bool = True) -> list[int]:
        tracker = ShopperTracker(TrackingConfig(reid_gate=reid_gate, minimum_consecutive_s=0.2), fps=10.0)
        for _ in range(3):
            tracker.update(embedded(looked(boxes([100, 100, 160, 220]), RED), me))
        if clear:
            frame = embedded(looked(boxes([100, 100, 160, 220]), RED), other)
        else:  # a third person's box covers most of it: a mixture, not gated
            frame = embedded(looked(boxes([100, 100, 160, 220], [110, 100, 170, 220]), RED, BLUE), other, other)
        return tracker.update(frame).tracker_id.tolist()

    assert ids_after_other_person(1.0) == [1]  # off: by overlap and colours, the id slides onto them
    assert ids_after_other_person(0.11) == []  # a new, not yet confirmed track
    assert 1 in ids_after_other_person(0.11, clear=False)
    assert TrackingConfig(reid_gate=0.11).uses_embeddings and not TrackingConfig().uses_embeddings
    with pytest.raises(ValueError, match="reid_gate must be in"):
        TrackingConfig(reid_gate=0.0)


def test_boxes_without_an_embedding_are_matched_as_before():
    tracker = ShopperTracker(TrackingConfig(reid_gate=0.11, minimum_consecutive_s=0.2), fps=10.0)
    for _ in range(3):
        tracker.update(embedded(looked(boxes([100, 100, 160, 220]), RED), [1.0, 0.0]))
    assert tracker.update(embedded(looked(boxes([100, 100, 160, 220]), RED), [0.0, 0.0])).tracker_id.tolist() == [1]
    assert tracker.update(looked(boxes([100, 100, 160, 220]), RED)).tracker_id.tolist() == [1]
