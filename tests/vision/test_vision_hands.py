"""Hands are attached to the shopper within reach, and stay with them frame to frame."""

from __future__ import annotations

import numpy as np
import supervision as sv

from vision.hands import OWNER_KEY, HandAssociator, HandConfig


def make_detections(xyxy, tracker_id=None) -> sv.Detections:
    xyxy = np.asarray(xyxy, dtype=float).reshape(-1, 4)
    return sv.Detections(
        xyxy=xyxy,
        confidence=np.ones(len(xyxy)),
        class_id=np.zeros(len(xyxy), dtype=int),
        tracker_id=None if tracker_id is None else np.asarray(tracker_id),
    )


SHOPPERS = make_detections([[100, 100, 160, 220], [200, 100, 260, 220]], tracker_id=[7, 9])


def test_no_hands_and_no_shoppers():
    hands = HandAssociator(HandConfig()).associate(make_detections(np.empty((0, 4))), SHOPPERS)
    assert hands.data[OWNER_KEY].tolist() == []
    lonely = HandAssociator(HandConfig()).associate(make_detections([[10, 10, 20, 20]]), sv.Detections.empty())
    assert lonely.data[OWNER_KEY].tolist() == [-1]


def test_each_hand_goes_to_the_nearest_body():
    hands = make_detections([[150, 150, 160, 160], [262, 150, 272, 160]])
    owners = HandAssociator(HandConfig()).associate(hands, SHOPPERS).data[OWNER_KEY]
    assert owners.tolist() == [7, 9]


def test_a_hand_out_of_reach_has_no_owner():
    far = make_detections([[600, 300, 610, 310]])
    assert HandAssociator(HandConfig()).associate(far, SHOPPERS).data[OWNER_KEY].tolist() == [-1]


def test_at_most_two_hands_per_shopper():
    three = make_detections([[110, 150, 120, 160], [130, 150, 140, 160], [140, 200, 150, 210]])
    alone = make_detections([[100, 100, 160, 220]], tracker_id=[3])
    owners = HandAssociator(HandConfig()).associate(three, alone).data[OWNER_KEY]
    assert sorted(owners.tolist()) == [-1, 3, 3]


def test_a_hand_between_two_shoppers_stays_with_its_previous_owner():
    associator = HandAssociator(HandConfig())
    # Frame 1: the hand, in the gap, is nearer shopper 9's box (10 px) than 7's (30 px).
    first = associator.associate(make_detections([[185, 150, 195, 160]]), SHOPPERS)
    assert first.data[OWNER_KEY].tolist() == [9]
    # Frame 2: it moved into the gap, now slightly nearer to shopper 7's box than to 9's.
    second = associator.associate(make_detections([[170, 150, 180, 160]]), SHOPPERS)
    assert second.data[OWNER_KEY].tolist() == [9]
    # Without memory, the same hand would go to 7.
    fresh = HandAssociator(HandConfig()).associate(make_detections([[170, 150, 180, 160]]), SHOPPERS)
    assert fresh.data[OWNER_KEY].tolist() == [7]


def test_pose_hands_keep_their_person():
    hands = make_detections([[150, 150, 160, 160]])
    hands.data[OWNER_KEY] = np.array([9])
    assert HandAssociator(HandConfig()).associate(hands, SHOPPERS).data[OWNER_KEY].tolist() == [9]
