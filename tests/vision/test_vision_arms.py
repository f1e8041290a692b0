"""Arm pose: a hand belongs to the shopper whose arm leads to it, and a hidden hand is still a reach."""

from __future__ import annotations

import numpy as np
import supervision as sv

from vision.arms import HIDDEN_KEY, ArmConfig, apply_arms, wrist_owners
from vision.detector import ROLE_HAND, ROLE_SHOPPER
from vision.hands import OWNER_KEY

TRACKED = sv.Detections(xyxy=np.array([[100.0, 100, 160, 220], [150, 100, 210, 220]]), confidence=np.ones(2),
                        class_id=np.zeros(2, dtype=int), tracker_id=np.array([7, 9]))


def hands_at(centres, owners, side=14.0) -> sv.Detections:
    xy = np.asarray(centres, dtype=float).reshape(-1, 2)
    return sv.Detections(xyxy=np.column_stack([xy - side / 2, xy + side / 2]), confidence=np.ones(len(xy)),
                         class_id=np.zeros(len(xy), dtype=int),
                         data={OWNER_KEY: np.asarray(owners, dtype=int), "role": np.full(len(xy), ROLE_HAND)})


def poses(people_xyxy, wrists_xy, wrist_person) -> sv.Detections:
    """A pose Detector's output for one frame: people (role shopper), then wrists naming their person row."""
    people = np.asarray(people_xyxy, dtype=float).reshape(-1, 4)
    wrists = np.asarray(wrists_xy, dtype=float).reshape(-1, 2)
    boxes = np.vstack([people, np.column_stack([wrists - 5, wrists + 5])])
    n, m = len(people), len(wrists)
    return sv.Detections(xyxy=boxes, confidence=np.ones(n + m), class_id=np.zeros(n + m, dtype=int), data={
        "role": np.array([ROLE_SHOPPER] * n + [ROLE_HAND] * m),
        "person": np.array([-1] * n + list(wrist_person), dtype=int),
    })


def test_pose_people_are_matched_to_tracks_by_overlap():
    frame = poses([[152, 98, 212, 222], [98, 102, 158, 218], [500, 0, 560, 80]],
                  [[180, 200], [120, 210], [530, 60]], [0, 1, 2])
    centres, owners = wrist_owners(frame, TRACKED, match_iou=0.3)
    assert centres.tolist() == [[180, 200], [120, 210], [530, 60]]
    assert owners.tolist() == [9, 7, -1]  # the third person overlaps no track


def test_a_hand_at_a_wrist_takes_that_arms_shopper():
    # The associator gave the hand to 7 (it lies inside both boxes, nearer 7's centre); shopper 9's arm ends there.
    hand = hands_at([[155, 150]], [7])
    out = apply_arms(hand, np.array([[157.0, 152.0]]), np.array([9]), ArmConfig(hidden_hands=False))
    assert out.data[OWNER_KEY].tolist() == [9]
    assert out.data[HIDDEN_KEY].tolist() == [False]
    kept = apply_arms(hands_at([[155, 150]], [7]), np.array([[157.0, 152.0]]), np.array([9]),
                      ArmConfig(own_hands=False, hidden_hands=False))
    assert kept.data[OWNER_KEY].tolist() == [7]


def test_a_wrist_far_from_every_hand_does_not_claim_one():
    out = apply_arms(hands_at([[155, 150]], [7]), np.array([[155.0, 110.0]]), np.array([9]),
                     ArmConfig(hidden_hands=False))
    assert out.data[OWNER_KEY].tolist() == [7]


def test_a_wrist_with_no_hand_seen_becomes_a_hidden_hand():
    seen = hands_at([[120, 210]], [7])
    out = apply_arms(seen, np.array([[121.0, 209.0], [180.0, 105.0], [300.0, 300.0]]), np.array([7, 9, -1]),
                     ArmConfig())
    assert len(out) == 2  # the unmatched person's wrist is dropped
    assert out.data[OWNER_KEY].tolist() == [7, 9]
    assert out.data[HIDDEN_KEY].tolist() == [False, True]
    assert out.get_anchors_coordinates(sv.Position.CENTER)[1].tolist() == [180.0, 105.0]
    assert out.data["role"].tolist()[0] == ROLE_HAND


def test_hidden_hands_can_be_switched_off_and_need_no_seen_hands():
    wrist, owner = np.array([[180.0, 105.0]]), np.array([9])
    assert len(apply_arms(hands_at(np.empty((0, 2)), []), wrist, owner, ArmConfig(hidden_hands=False))) == 0
    alone = apply_arms(hands_at(np.empty((0, 2)), []), wrist, owner, ArmConfig())
    assert alone.data[OWNER_KEY].tolist() == [9] and alone.data[HIDDEN_KEY].tolist() == [True]


def test_each_wrist_claims_at_most_one_hand():
    two = hands_at([[150, 150], [160, 150]], [7, 7])
    out = apply_arms(two, np.array([[151.0, 150.0]]), np.array([9]), ArmConfig(hidden_hands=False))
    assert sorted(out.data[OWNER_KEY].tolist()) == [7, 9]


def test_the_wrist_model_stage_returns_each_crops_own_wrists(tmp_path):
    """Wiring of a wrist model (a detector on crops around each shopper): an untrained model, every
    box kept, proves the plumbing (at most two wrists per shopper, inside its crop, naming it), not accuracy."""
    import torch
    from ultralytics import YOLO

    from vision.arms import WRIST_CLASS, ArmEstimator
    from vision.detector import ROLE_PRODUCT

    torch.manual_seed(0)
    model = YOLO("yolov8n.yaml")
    model.model.names = {i: WRIST_CLASS if i == 0 else f"c{i}" for i in range(80)}
    path = tmp_path / "wrists-untrained.pt"
    model.save(str(path))
    arms = ArmEstimator(ArmConfig(model_path=str(path), imgsz=96, confidence=0.0))
    frame = np.random.default_rng(0).integers(0, 255, (180, 320, 3), dtype=np.uint8)
    shoppers = sv.Detections(xyxy=np.array([[20.0, 20, 80, 160], [200, 30, 260, 170], [100, 100, 110, 110]]),
                             confidence=np.ones(3), class_id=np.zeros(3, dtype=int),
                             data={"role": np.array([ROLE_SHOPPER, ROLE_SHOPPER, ROLE_PRODUCT])})
    (out,) = arms.detect([frame], [shoppers])
    people = out[out.data["role"] == ROLE_SHOPPER]
    wrists = out[out.data["role"] == ROLE_HAND]
    np.testing.assert_allclose(people.xyxy, shoppers.xyxy[:2])
    assert 0 < len(wrists) <= 4 and np.bincount(wrists.data["person"]).max() <= 2
    for person, (x1, y1, x2, y2) in zip(wrists.data["person"], wrists.xyxy, strict=True):
        a, b, c, d = people.xyxy[person]
        grow = 0.35 * np.array([c - a, d - b])
        assert x1 >= a - grow[0] - 1 and x2 <= c + grow[0] + 1 and y1 >= b - grow[1] - 1 and y2 <= d + grow[1] + 1
    centres, owners = wrist_owners(out, sv.Detections(xyxy=people.xyxy, confidence=np.ones(2),
                                                      class_id=np.zeros(2, dtype=int), tracker_id=np.array([4, 8])),
                                   match_iou=0.5)
    assert set(owners.tolist()) <= {4, 8} and len(centres) == len(wrists)
