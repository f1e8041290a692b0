"""Held items as boxes: every product in a hand is its own box, given to the nearest hand.

A hand holding three products shows three boxes, so what a shopper holds is a count per sku, and a
second pick into an already full hand is still a rise in that count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import supervision as sv

from formats.tables import HAND_COLUMNS
from vision.events import EventConfig, decide_events
from vision.hands import OWNER_KEY
from vision.products import held_near_hands
from vision.zones import ShelfZone
from walkout.config import PipelineConfig
from walkout.stages import _hand_table_from_items


def boxes(xyxy, skus=None, confidence=None) -> sv.Detections:
    xyxy = np.asarray(xyxy, dtype=float).reshape(-1, 4)
    data = {} if skus is None else {"sku": np.asarray(skus, dtype=str)}
    return sv.Detections(xyxy=xyxy, confidence=None if confidence is None else np.asarray(confidence, float),
                         data=data)


# Two hands 10 px wide, 100 px apart.
HANDS = boxes([[100, 100, 110, 110], [200, 100, 210, 110]])


def test_no_items_or_no_hands_hold_nothing():
    assert held_near_hands(HANDS, boxes(np.empty((0, 4)), []), 5.0).empty
    assert held_near_hands(boxes(np.empty((0, 4))), boxes([[100, 100, 110, 110]], ["a"]), 5.0).empty


def test_items_side_by_side_are_counted_one_by_one():
    items = boxes([[112, 100, 120, 112], [122, 100, 130, 112], [132, 100, 140, 112]], ["a", "a", "b"],
                  [0.9, 0.7, 0.6])
    held = held_near_hands(HANDS, items, 5.0)
    assert held[["hand", "sku", "count"]].values.tolist() == [[0, "a", 2], [0, "b", 1]]
    assert held["sku_confidence"].tolist() == [0.8, 0.6]


def test_each_item_goes_to_the_nearest_hand():
    items = boxes([[95, 100, 105, 110], [190, 100, 200, 110]], ["a", "b"])
    held = held_near_hands(HANDS, items, 5.0)
    assert held[["hand", "sku"]].values.tolist() == [[0, "a"], [1, "b"]]


def test_an_item_far_from_every_hand_is_nobodys():
    far = boxes([[100, 300, 110, 310]], ["a"])  # 200 px below: 20 hand sides away
    assert held_near_hands(HANDS, far, 5.0).empty
    assert held_near_hands(HANDS, far, 25.0)["hand"].tolist() == [0]


def test_the_hand_table_has_a_row_per_sku_a_hand_holds():
    hands = boxes([[100, 100, 110, 110], [200, 100, 210, 110], [300, 100, 310, 110]])
    hands.data[OWNER_KEY] = np.array([7, 9, 9])
    items = boxes([[112, 100, 120, 112], [122, 100, 130, 112], [132, 100, 140, 112], [212, 100, 220, 112]],
                  ["a", "b", "b", "b"], [1, 1, 1, 1])
    zones = (ShelfZone("A1", (1,), ((0, 0), (150, 0), (150, 150), (0, 150))),)
    table = _hand_table_from_items([(4, hands, items)], zones, PipelineConfig())
    assert list(table.columns) == list(HAND_COLUMNS)
    assert table[["frame", "owner", "x", "zone", "sku", "count"]].values.tolist() == [
        [4, 7, 105.0, 0, "a", 1], [4, 7, 105.0, 0, "b", 2], [4, 9, 205.0, -1, "b", 1], [4, 9, 305.0, -1, "", 0]]


def test_a_second_product_picked_into_a_full_hand_is_a_second_pick():
    zones = (ShelfZone("A1", (1,), ((0, 0), (100, 0), (100, 50), (0, 50))),
             ShelfZone("A2", (2,), ((100, 0), (200, 0), (200, 50), (100, 50))))
    planogram = {("A1", 1): "a", ("A2", 2): "b"}
    rows = []

    def hand(frame, zone):
        rows.append((frame, 7, 50.0 + 100 * max(zone, 0), 25.0 if zone >= 0 else 200.0, zone, "", 0, 0.0))

    def holding(frame, sku, count):
        rows.append((frame, 7, 50.0, 200.0, -1, sku, count, 0.9))

    for f in range(0, 60):
        zone = 0 if 10 <= f < 15 else 1 if 35 <= f < 40 else -1
        hand(f, zone)
        if f >= 15:
            holding(f, "a", 1)  # still holding the first product when reaching again
        if f >= 40:
            holding(f, "b", 1)
    config = EventConfig(min_state_s=0.4, merge_s=0.6, evidence_window_s=0.5, min_seen_share=0.5,
                         reach_window_s=1.0, max_gap_s=0.2, min_visit_s=0.3)
    events, _ = decide_events(pd.DataFrame(rows, columns=list(HAND_COLUMNS)), zones, camera="cam0",
                              start_timestamp=0.0, fps=10.0, planogram=planogram, config=config)
    assert [(e.action, e.sku, e.quantity, e.shelf) for e in events] == [("pick", "a", 1, "A1"), ("pick", "b", 1, "A2")]


def tiny_model(path, names: dict[int, str]):
    """An untrained, tiny YOLOv8 detector whose classes are ``names`` (weights are random)."""
    import yaml
    from ultralytics import YOLO
    from ultralytics.nn.tasks import yaml_model_load

    spec = yaml_model_load("yolov8n.yaml")
    spec.update(scales={"n": [0.33, 0.0625, 1024]}, scale="n", nc=len(names))
    arch = path.with_suffix(".yaml")
    arch.write_text(yaml.safe_dump(spec))
    model = YOLO(str(arch))
    model.model.names = names
    model.save(str(path))
    return path


def test_the_hand_model_reads_hand_and_held_classes(tmp_path):
    from vision.detector import ROLE_HAND, ROLE_HELD
    from vision.hand_detector import HandDetector, HandDetectorConfig

    path = tiny_model(tmp_path / "hands.pt", {0: "hand", 1: "held_111", 2: "held_222"})
    detector = HandDetector(HandDetectorConfig(model_path=str(path)))
    assert detector.names_held_items
    assert detector.roles.tolist() == [ROLE_HAND, ROLE_HELD, ROLE_HELD]
    assert detector.skus.tolist() == ["", "111", "222"]
    frame = np.zeros((120, 160, 3), dtype=np.uint8)
    shopper = sv.Detections(xyxy=np.array([[40.0, 20, 100, 100]]), confidence=np.ones(1), class_id=np.zeros(1, int),
                            data={"role": np.zeros(1, int), "sku": np.array([""]), "person": np.array([-1])})
    out = detector.add_hands([frame], [shopper])[0]  # random weights: whatever it finds, the shopper stays
    assert (out.data["role"] == 0).sum() == 1


def test_a_hand_model_with_foreign_classes_is_refused_by_name(tmp_path):
    import pytest

    from vision.errors import InputError
    from vision.hand_detector import HandDetector, HandDetectorConfig

    path = tiny_model(tmp_path / "coco.pt", {0: "person", 1: "hand"})
    with pytest.raises(InputError, match="coco.pt.*'person'"):
        HandDetector(HandDetectorConfig(model_path=str(path)))
